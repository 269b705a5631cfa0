//! Upstream's MLDR evaluation (`scripts/eval_mldr.py`), piece by piece: the LLM judge's request
//! and answer parsing (`judge`). The process and LLM stages and `open_provence_eval mldr` build
//! on these (issue 27).

mod judge;

pub use judge::{
    INSTRUCTION, Judgment, MAX_COMPLETION_TOKENS, SYSTEM_PROMPT, parse_judgment, request_body, user_prompt,
};
