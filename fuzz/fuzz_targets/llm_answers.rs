//! An LLM's answer text: first byte even, a `label-spans` answer read as chunk flags for
//! `first byte / 2` chunks (one 0/1 flag per chunk, or unparseable); odd, an MLDR judge answer
//! read as a judgment (0/1, a score in [0, 1]) or upstream's error text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use provence_data::parse_relevance_flags;
use provence_eval::mldr::parse_judgment;

fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    // Answers arrive as JSON strings: always UTF-8.
    let Ok(answer) = std::str::from_utf8(bytes) else {
        return;
    };
    if which % 2 == 0 {
        let chunks = usize::from(which / 2);
        if let Some(flags) = parse_relevance_flags(answer, chunks) {
            assert_eq!(flags.len(), chunks, "one flag per chunk");
            assert!(flags.iter().all(|&f| f == 0 || f == 1), "flags are 0 or 1");
        }
        return;
    }
    match parse_judgment(Some(answer)) {
        Ok(judgment) => {
            assert!((0..=1).contains(&judgment.has_answer), "has_answer is 0 or 1");
            assert!(
                judgment.answer_score.is_none_or(|s| (0.0..=1.0).contains(&s)),
                "answer_score in [0, 1]"
            );
        }
        Err(message) => assert!(!message.trim().is_empty(), "an error with an empty message"),
    }
});
