//! The MLDR judge against upstream's goldens (tests/fixtures/mldr, made by
//! scripts/fixtures/mldr_fixtures.py running eval_mldr.py against a fake judge): every judged row
//! of every run gives a request body equal to one eval_mldr.py sent (prompts byte for byte), and
//! the fake judge's last answer to it parses to the row's `llm_*` outcome or its exact error.

use std::collections::BTreeMap;
use std::path::PathBuf;

use provence_eval::mldr::{parse_judgment, request_body};
use serde_json::Value;

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/mldr")
        .join(rel)
}

fn jsonl(rel: &str) -> Vec<Value> {
    std::fs::read_to_string(fixture(rel))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn bodies_and_parsed_answers_match_eval_mldr() {
    // body_sha → the body eval_mldr.py sent (as JSON).
    let bodies: Vec<(String, Value)> = jsonl("judge_bodies.jsonl")
        .into_iter()
        .map(|b| {
            let body: Value = serde_json::from_str(b["body"].as_str().unwrap()).unwrap();
            (b["body_sha"].as_str().unwrap().to_owned(), body)
        })
        .collect();
    // (run, body_sha) → the last answer with status 200 (content or null for a refusal).
    let mut answers: BTreeMap<(String, String), Option<String>> = BTreeMap::new();
    for r in jsonl("judge_requests.jsonl") {
        if r["status"] == 200 {
            let key = (
                r["run"].as_str().unwrap().to_owned(),
                r["body_sha"].as_str().unwrap().to_owned(),
            );
            answers.insert(key, r["content"].as_str().map(str::to_owned));
        }
    }
    let mut checked = 0;
    for (run, model) in [
        ("en_pruned", "gpt-5-nano"),
        ("ja_pruned", "openai/judge-local"),
        ("en_original", "openai/judge-local"),
    ] {
        for row in jsonl(&format!("{run}/eval_rows.jsonl")) {
            let body = request_body(
                model,
                row["query"].as_str().unwrap(),
                row["pruned_text"].as_str().unwrap(),
                row["title"].as_str(),
            );
            let sha = &bodies
                .iter()
                .find(|(_, b)| *b == body)
                .unwrap_or_else(|| panic!("{run} {}: no such body sent upstream:\n{body:#}", row["docid"]))
                .0;
            let Some(content) = answers.get(&(run.to_owned(), sha.clone())) else {
                assert!(row["llm_error"].as_str().unwrap().starts_with("litellm."), "{row}");
                continue; // never answered 200: an HTTP failure (LiteLLM's wording)
            };
            match parse_judgment(content.as_deref()) {
                Ok(j) => {
                    assert_eq!(row["llm_error"], Value::Null, "{row}");
                    assert_eq!(row["llm_has_answer"].as_i64(), Some(j.has_answer), "{row}");
                    assert_eq!(row["llm_answer_score"].as_f64(), j.answer_score, "{row}");
                    assert_eq!(row["llm_reasoning"].as_str(), Some(j.reasoning.as_str()), "{row}");
                }
                Err(e) => assert_eq!(row["llm_error"].as_str(), Some(e.as_str()), "{row}"),
            }
            checked += 1;
        }
    }
    assert!(checked >= 25, "{checked}");
}

#[test]
fn lax_payloads_as_pydantic_reads_them() {
    let ok = |s: &str| parse_judgment(Some(s)).unwrap();
    assert_eq!(ok(r#"{"has_answer": true, "reasoning": "r"}"#).has_answer, 1);
    assert_eq!(
        ok(r#"{"has_answer": "1", "answer_score": "0.5", "reasoning": "r"}"#).answer_score,
        Some(0.5)
    );
    assert_eq!(
        ok(r#" {"has_answer": 1.0, "answer_score": 1, "reasoning": "r", "x": 3} "#).has_answer,
        1
    );
    for bad in [
        r#"{"has_answer": 0.5, "reasoning": "r"}"#,
        r#"{"has_answer": 1, "answer_score": 1.5, "reasoning": "r"}"#,
        r#"{"has_answer": 1}"#,
        r#"{"has_answer": 1, "reasoning": 5}"#,
        "[1]",
    ] {
        assert!(
            parse_judgment(Some(bad)).unwrap_err().starts_with("Invalid payload: "),
            "{bad}"
        );
    }
    assert_eq!(parse_judgment(None).unwrap_err(), "LLM returned empty content.");
}
