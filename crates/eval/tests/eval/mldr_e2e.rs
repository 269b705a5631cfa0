//! `run_mldr` end to end against upstream's goldens (tests/fixtures/mldr: eval_mldr.py run by
//! scripts/fixtures/mldr_fixtures.py on the same MLDR-format fixture, the same tiny model and a
//! fake judge with the same behaviours per query, served here by
//! `provence_test_support::fake_judge`): the same pruned texts and sentence lists, the same
//! summaries (timings aside) and the same judged counts; a rerun asks nothing, `--force-eval`
//! asks only what failed, and no judgment is asked twice.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use crate::common::{B, load};
use provence_eval::mldr::{
    EvalSummary, JudgeSettings, JudgedRecord, MldrSettings, PassageRecord, TextSource, load_mldr, read_rows, run_mldr,
};
use provence_infer::{Document, ProcessInput, ProcessOptions, Title};
use provence_test_support::fake_judge::FakeJudge;
use provence_test_support::fixture;
use provence_test_support::json::{load as load_json, load_jsonl};
use serde_json::Value;

/// Past the 1 s request timeout (upstream's generator stalled 8 s).
const STALL: Duration = Duration::from_secs(3);

fn settings(judge: &FakeJudge, out: &std::path::Path, run: &str) -> MldrSettings {
    let manifest = load_json(&fixture("mldr/manifest.json"));
    let threshold = manifest["thresholds"][run].as_f64().unwrap();
    let mut s = MldrSettings {
        model: "tests/fixtures/process/model".to_owned(),
        dataset: fixture("mldr/input").display().to_string(),
        lang: "en".to_owned(),
        mldr_lang: None,
        threshold,
        split: "test".to_owned(),
        limit: 200,
        text_source: TextSource::Pruned,
        process: ProcessOptions {
            batch_size: 4,
            ..ProcessOptions::default()
        },
        output_dir: out.to_owned(),
        skip_process: false,
        force_process: false,
        no_eval: false,
        force_eval: false,
        ignore_file: Some(fixture("mldr/ignored_questions.yaml")),
        force_no_ignore: false,
        include_negatives: false,
        max_text_chars: 60000,
        judge: JudgeSettings {
            endpoint: judge.endpoint.clone(),
            llm_model: "gpt-5-nano".to_owned(),
            reasoning_effort: "low".to_owned(),
            api_key: Some("sk-fixture-key".to_owned()),
            concurrency: 4,
            retries: 2,
            retry_delay: 0.1,
            request_timeout: 1.0,
        },
        cache_dir: None,
    };
    match run {
        "en_pruned" => {
            s.limit = 10;
            s.include_negatives = true;
        }
        "ja_pruned" => {
            s.lang = "jp".to_owned();
            s.mldr_lang = Some("ja".to_owned());
            s.split = "test[1:]".to_owned();
            s.limit = 2;
            s.process.batch_size = 3;
            s.judge.llm_model = "openai/judge-local".to_owned();
            s.judge.concurrency = 2;
        }
        "en_original" => {
            s.text_source = TextSource::Original;
            s.limit = 0;
            s.max_text_chars = 300;
            s.judge.llm_model = "openai/judge-local".to_owned();
            s.ignore_file = Some(PathBuf::from("does-not-exist.yaml"));
            s.force_no_ignore = true;
            s.judge.concurrency = 3;
        }
        _ => unreachable!(),
    }
    s
}

fn run_stages(settings: &MldrSettings) -> Option<EvalSummary> {
    run_mldr::<B>(settings, || Ok(load(&fixture("process/model"))))
        .unwrap()
        .eval
}

/// Every column of our process rows equals upstream's (scores within float noise).
fn assert_rows_match(ours: &[PassageRecord], run: &str) {
    let golden: Vec<Value> = load_jsonl(&fixture(&format!("mldr/{run}/process_rows.jsonl")));
    assert_eq!(ours.len(), golden.len(), "{run}: rows");
    for (o, g) in ours.iter().zip(&golden) {
        let at = format!("{run} {}", o.docid);
        let ov = serde_json::to_value(o).unwrap();
        for key in [
            "query_id",
            "query",
            "docid",
            "label",
            "title",
            "original_text",
            "pruned_text",
            "kept_sentences",
            "removed_sentences",
        ] {
            assert_eq!(ov[key], g[key], "{at}: {key}");
        }
        let close = |a: &Value, b: &Value, tol: f64| match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => (x - y).abs() <= tol,
            _ => a == b,
        };
        assert!(
            close(&ov["reranking_score"], &g["reranking_score"], 1e-5),
            "{at}: score {ov} {g}"
        );
        assert!(
            close(&ov["compression_rate"], &g["compression_rate"], 1e-9),
            "{at}: compression"
        );
    }
}

/// A summary equals upstream's, timings and the run's directory aside (floats within noise).
fn assert_summary_matches(ours: &Value, golden: &Value, at: &str, tol: f64) {
    let Value::Object(golden) = golden else { panic!() };
    for (key, g) in golden {
        if key.ends_with("time_seconds") || key == "input_dataset" {
            continue;
        }
        assert_close(&ours[key], g, &format!("{at}: {key}"), tol);
    }
    assert_eq!(ours.as_object().unwrap().len(), golden.len(), "{at}: the same fields");
}

/// Equal JSON, numbers within `tol` relative (model scores: float noise; means: Python's
/// `fmean` sums exactly).
fn assert_close(ours: &Value, golden: &Value, at: &str, tol: f64) {
    match (ours, golden) {
        (Value::Object(o), Value::Object(g)) => {
            assert_eq!(o.len(), g.len(), "{at}: {ours} vs {golden}");
            for (k, v) in g {
                assert_close(&o[k], v, &format!("{at}.{k}"), tol);
            }
        }
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!((x - y).abs() <= tol * y.abs().max(1.0), "{at}: {x} vs {y}");
        }
        _ => assert_eq!(ours, golden, "{at}"),
    }
}

fn check_run(judge: &FakeJudge, run: &str) -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    let s = settings(judge, out.path(), run);
    let summary = run_stages(&s).unwrap();
    let stage = if run == "en_original" {
        "process_original"
    } else {
        "process"
    };
    let rows: Vec<PassageRecord> = read_rows(&out.path().join(stage).join("dataset")).unwrap();
    assert_rows_match(&rows, run);
    let ours = load_json(&out.path().join(stage).join("summary.json"));
    let golden = load_json(&fixture(&format!("mldr/{run}/process_summary.json")));
    assert_summary_matches(&ours, &golden, run, 1e-6);
    assert_eq!(
        std::fs::read_to_string(out.path().join(stage).join("result.md")).unwrap(),
        std::fs::read_to_string(fixture(&format!("mldr/{run}/process_result.md"))).unwrap(),
        "{run}: result.md"
    );
    let golden = load_json(&fixture(&format!("mldr/{run}/eval_summary.json")));
    assert_summary_matches(&serde_json::to_value(&summary).unwrap(), &golden, run, 1e-12);
    let md = |p: &std::path::Path| -> Vec<String> {
        let text = std::fs::read_to_string(p).unwrap();
        let keep = |l: &&str| !l.starts_with("- Dataset:") && !l.contains("time (s)");
        text.lines().filter(keep).map(str::to_owned).collect()
    };
    let golden_md = fixture(&format!("mldr/{run}/eval_summary.md"));
    assert_eq!(
        md(&out.path().join("eval_llm/summary.md")),
        md(&golden_md),
        "{run}: summary.md"
    );
    // Row by row: the same rows judged, with the same verdicts.
    let judged: Vec<JudgedRecord> = read_rows(&out.path().join("eval_llm/dataset")).unwrap();
    let golden_rows: Vec<Value> = load_jsonl(&fixture(&format!("mldr/{run}/eval_rows.jsonl")));
    assert_eq!(judged.len(), golden_rows.len());
    for (o, g) in judged.iter().zip(&golden_rows) {
        assert_eq!(o.record.docid, g["docid"].as_str().unwrap());
        assert_eq!(
            o.record.pruned_text,
            g["pruned_text"].as_str().unwrap(),
            "{run}: clamped text"
        );
        assert_eq!(
            o.llm_has_answer,
            g["llm_has_answer"].as_i64(),
            "{run} {}",
            o.record.docid
        );
        assert_eq!(
            o.llm_answer_score,
            g["llm_answer_score"].as_f64(),
            "{run} {}",
            o.record.docid
        );
        if g["llm_error"].as_str().is_some_and(|e| !e.starts_with("litellm.")) {
            assert_eq!(
                o.llm_error.as_deref(),
                g["llm_error"].as_str(),
                "{run}: eval_mldr.py's own errors"
            );
        }
    }
    assert_no_judgment_asked_twice(judge, run);
    out
}

/// No request body was answered with a judgment twice (the answer cache holds it).
fn assert_no_judgment_asked_twice(judge: &FakeJudge, at: &str) {
    let mut answered = HashSet::new();
    for r in judge.requests().iter().filter(|r| r.answered) {
        assert!(answered.insert(r.body.to_string()), "{at}: {} judged twice", r.query_id);
    }
}

#[test]
fn en_pruned_equals_eval_mldr_and_reruns_ask_only_what_failed() {
    let judge = FakeJudge::start(STALL);
    let out = check_run(&judge, "en_pruned");
    let first = judge.requests();
    let statuses =
        |rs: &[provence_test_support::fake_judge::JudgeRequest], s: u16| rs.iter().filter(|r| r.status == s).count();
    // 19 rows: the 8 failing ones asked 3 times (retries 2), rate_limit/timeout/server_error_once
    // twice: upstream's attempts, without the OpenAI SDK's own retries.
    assert!(statuses(&first, 429) >= 1 && statuses(&first, 500) >= 3, "{first:?}");

    // The same command again: both stages exist; nothing is asked.
    judge.reset();
    let s = settings(&judge, out.path(), "en_pruned");
    assert_eq!(run_stages(&s), None);
    assert!(judge.requests().is_empty());

    // --skip-process --force-eval (as the golden's third run): judgments come from the cache; only
    // the rows that failed are asked again, and the counts are upstream's.
    let s = MldrSettings {
        skip_process: true,
        force_eval: true,
        ..s
    };
    let summary = run_stages(&s).unwrap();
    let golden = load_json(&fixture("mldr/en_pruned/eval_summary_force_eval.json"));
    assert_eq!(serde_json::to_value(&summary.counts).unwrap(), golden["counts"]);
    let answered_before: HashSet<String> = first
        .iter()
        .filter(|r| r.answered)
        .map(|r| r.body.to_string())
        .collect();
    let again = judge.requests();
    assert!(!again.is_empty());
    for r in &again {
        assert!(
            !answered_before.contains(&r.body.to_string()),
            "{} asked again",
            r.query_id
        );
    }
    let judged: Vec<JudgedRecord> = read_rows(&out.path().join("eval_llm/dataset")).unwrap();
    assert_eq!(
        judged.iter().filter(|r| r.llm_attempts == 0).count(),
        11,
        "11 judgments from the cache"
    );
}

#[test]
fn ja_pruned_equals_eval_mldr() {
    check_run(&FakeJudge::start(STALL), "ja_pruned");
}

#[test]
fn en_original_equals_eval_mldr() {
    check_run(&FakeJudge::start(STALL), "en_original");
}

#[test]
fn pruned_rows_are_process_on_each_query() {
    let pruner = load(&fixture("process/model"));
    let queries = load_mldr(&fixture("mldr/input").display().to_string(), "en", "test[:4]").unwrap();
    let out = tempfile::tempdir().unwrap();
    let judge = FakeJudge::start(STALL);
    let s = MldrSettings {
        no_eval: true,
        split: "test[:4]".to_owned(),
        ..settings(&judge, out.path(), "en_pruned")
    };
    run_stages(&s);
    let rows: Vec<PassageRecord> = read_rows(&out.path().join("process/dataset")).unwrap();
    let mut at = 0;
    for q in &queries {
        let texts: Vec<&str> = q
            .positive_passages
            .iter()
            .chain(&q.negative_passages)
            .map(|p| p.text.as_str())
            .collect();
        let options = ProcessOptions {
            threshold: Some(s.threshold),
            title: Title::PerDocument(vec![vec!["None".to_owned(); texts.len()]]),
            legacy_prefix_offset: true,
            legacy_full_query: true,
            ..ProcessOptions::default()
        };
        let input = ProcessInput::Documents {
            question: q.query.clone(),
            documents: texts.iter().map(|t| Document::Text((*t).to_owned())).collect(),
        };
        let out = pruner.process(input, &options).unwrap();
        for doc in &out.results[0] {
            assert_eq!(rows[at].pruned_text, doc.pruned_context, "{}", rows[at].docid);
            let (a, b) = (rows[at].reranking_score.unwrap(), doc.reranking_score.unwrap());
            assert!((a - b).abs() < 1e-6, "{}: {a} vs {b}", rows[at].docid);
            at += 1;
        }
    }
    assert_eq!(at, rows.len());
    assert!(judge.requests().is_empty(), "--no-eval asks nothing");
}
