//! Upstream's MLDR evaluation (`scripts/eval_mldr.py`): long MLDR documents pruned by the model
//! (`records`, the process stage), then an LLM judge asked whether each pruned text still answers
//! its question (`judge`: request and answer parsing; `evaluate`: the retry loop, answer cache and
//! counts), with upstream's output tree and summaries (`run`, `markdown`). MLDR is read from a
//! local copy or the Hub (`data`).

mod data;
mod error;
mod evaluate;
mod judge;
mod markdown;
mod records;
mod run;

pub use data::{MLDR_HUB_ID, MldrQuery, Passage, load_mldr};
pub use error::MldrError;
pub use evaluate::{
    DEFAULT_IGNORE_LIST, EvalSummary, JudgeSettings, JudgedCounts, JudgedRecord, ScoreStats, Verdict,
    parse_ignore_list, select_rows,
};
pub use judge::{
    INSTRUCTION, Judgment, MAX_COMPLETION_TOKENS, SYSTEM_PROMPT, parse_judgment, request_body, user_prompt,
};
pub use markdown::{eval_markdown, result_markdown};
pub use records::{PassageRecord, original_records, pruned_records};
pub use run::{MldrOutcome, MldrSettings, ProcessSummary, ROWS_FILE, TextSource, read_rows, run_mldr};
