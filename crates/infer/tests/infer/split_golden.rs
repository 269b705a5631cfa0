//! Splitter goldens: NLTK 3.9.1 Punkt (English punkt_tab parameters) inside upstream's English
//! wrapper, and fast-bunkai 0.1.1 for Japanese, on passages written for the purpose
//! (`scripts/fixtures/split_fixtures.py`). Prints the agreement rate and every difference.

use provence_test_support::{fixture, json};

use provence_infer::{LanguageSplitter, SentenceSplitter, SplitterLanguage, is_japanese_fast, normalize_sentences};
use serde::Deserialize;

#[derive(Deserialize)]
struct Record {
    text: String,
    sentences: Vec<String>,
    #[serde(default)]
    is_japanese: Option<bool>,
}

fn load(name: &str) -> Vec<Record> {
    json::load_jsonl(&fixture("split").join(name))
}

/// Splits every record, prints each mismatch and returns the agreement rate.
fn agreement(name: &str, splitter: &dyn SentenceSplitter) -> (f64, usize) {
    let records = load(name);
    let mut differences = 0;
    for (i, record) in records.iter().enumerate() {
        let got = splitter.split(&record.text);
        if got != record.sentences {
            differences += 1;
            println!(
                "{name} #{i}: text {:?}\n  expected {:?}\n  got      {:?}",
                record.text, record.sentences, got
            );
        }
    }
    let rate = 1.0 - differences as f64 / records.len() as f64;
    println!(
        "{name}: {}/{} identical ({:.2}%)",
        records.len() - differences,
        records.len(),
        rate * 100.0
    );
    (rate, records.len())
}

#[test]
fn english_matches_nltk_punkt_with_upstream_wrapper() {
    let (rate, n) = agreement("english.jsonl", &LanguageSplitter::new(SplitterLanguage::Auto));
    assert!(n >= 200, "only {n} English passages");
    assert!(rate >= 1.0, "English agreement {:.2}% is below 100%", rate * 100.0);
}

#[test]
fn japanese_matches_fast_bunkai() {
    let (rate, n) = agreement("japanese.jsonl", &LanguageSplitter::new(SplitterLanguage::Ja));
    assert!(n >= 200, "only {n} Japanese passages");
    assert!(rate >= 0.98, "Japanese agreement {:.2}% is below 98%", rate * 100.0);
}

#[test]
fn kana_detection_matches_upstream() {
    for record in load("japanese.jsonl") {
        let expected = record.is_japanese.expect("japanese.jsonl records carry is_japanese");
        assert_eq!(is_japanese_fast(&record.text), expected, "{:?}", record.text);
    }
    for record in load("english.jsonl") {
        assert!(!is_japanese_fast(&record.text), "{:?}", record.text);
    }
}

#[test]
fn english_fuzz_matches_nltk_punkt_with_upstream_wrapper() {
    let (rate, n) = agreement("english_fuzz.jsonl", &LanguageSplitter::new(SplitterLanguage::En));
    assert!(n >= 200, "only {n} English fuzz passages");
    assert!(rate >= 1.0, "English fuzz agreement {:.2}% is below 100%", rate * 100.0);
}

#[test]
fn japanese_fuzz_matches_fast_bunkai() {
    let (rate, n) = agreement("japanese_fuzz.jsonl", &LanguageSplitter::new(SplitterLanguage::Ja));
    assert!(n >= 200, "only {n} Japanese fuzz passages");
    assert!(
        rate >= 0.98,
        "Japanese fuzz agreement {:.2}% is below 98%",
        rate * 100.0
    );
}

#[derive(Deserialize)]
struct NormalizeCase {
    raw: Vec<String>,
    context: String,
    strip: bool,
    sentences: Vec<String>,
}

#[test]
fn sentence_normalisation_matches_upstream() {
    let text = json::read(&fixture("split/normalize.jsonl"));
    let mut changed = 0;
    for (i, line) in text.lines().enumerate() {
        let case: NormalizeCase = serde_json::from_str(line).unwrap();
        let got = normalize_sentences(&case.raw, &case.context, case.strip);
        assert_eq!(got, case.sentences, "case {i}: raw {:?} strip {}", case.raw, case.strip);
        changed += usize::from(got != case.raw);
    }
    assert!(
        changed > 20,
        "fixture must exercise the rewriting ({changed} cases did)"
    );
}
