//! Kept-sentence offsets (`return_offsets`) on random multilingual documents through the whole
//! pipeline (splitters, normalisation, titles, pre-split sentences, blocks): the slices of the
//! kept spans joined are the pruned text, at every threshold and with every option that changes
//! sentences (reordering and top_k move them with their documents); turning offsets on changes
//! nothing else; JSONL lines carry them too.

use crate::common::{B, assert_spans_rebuild, documents_of, join_char_slices, load, tiny_model_dir};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use provence_infer::{
    Document, EnglishSentenceSplitter, ProcessInput, ProcessOptions, PruneError, Pruner, SentenceSplitter,
    SplitterLanguage, Title,
};
use serde_json::{Value, json};
use std::sync::Arc;

/// Pieces random documents are made of: sentences in several scripts, emoji (with joiners and
/// flags), combining marks, CRLF, blank lines, Python-only whitespace, bullets and lines without
/// punctuation (which upstream's normalisation cuts into lines).
const PIECES: &[&str] = &[
    "Tokyo is the capital of Japan. ",
    "Dr. Smith paid $3.50 at 9 a.m. on Jan. 5! ",
    "Is it raining?",
    "東京は日本の首都です。",
    "寿司が好き！ラーメンも。",
    "「こんにちは」と言った。",
    "Emoji 🍣🇯🇵 and 👩\u{200d}👩\u{200d}👧 family. ",
    "Cafe\u{301} au lait, nai\u{308}ve re\u{301}sume\u{301}. ",
    "Ελληνικά κείμενα εδώ. ",
    "مرحبا بالعالم. ",
    "\r\n",
    "\n\n",
    "\n",
    "   ",
    "\t",
    "\u{a0}",
    "\u{1c}",
    "\u{3000}",
    "- bullet item\n",
    "1. numbered line\n",
    "Heading without punctuation\n",
    "line two without punctuation\r\n",
    "…",
    "x",
];

/// A text of up to 11 pieces, sometimes with blank lines and spaces before and after.
fn text() -> impl Strategy<Value = String> {
    let pieces = prop::collection::vec(prop::sample::select(PIECES), 0..12);
    (pieces, any::<bool>(), any::<bool>()).prop_map(|(pieces, lead, trail)| {
        let body: String = pieces.concat();
        format!(
            "{}{body}{}",
            if lead { " \n " } else { "" },
            if trail { "  \r\n" } else { "" }
        )
    })
}

/// A text cut at random char boundaries into pieces that tile it, sometimes with a blank piece
/// inserted (pre-split sentences as a caller might give them).
fn sentences() -> impl Strategy<Value = Vec<String>> {
    let cuts = prop::collection::vec(any::<prop::sample::Index>(), 0..6);
    (text(), cuts, prop::option::of(any::<prop::sample::Index>())).prop_map(|(text, cuts, blank)| {
        let chars: Vec<char> = text.chars().collect();
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(chars.len() + 1)).collect();
        cuts.extend([0, chars.len()]);
        cuts.sort_unstable();
        let mut pieces: Vec<String> = cuts.windows(2).map(|w| chars[w[0]..w[1]].iter().collect()).collect();
        if let Some(at) = blank {
            pieces.insert(at.index(pieces.len() + 1), "  ".into());
        }
        pieces
    })
}

/// A document: a text (two in three) or pre-split sentences.
fn document() -> impl Strategy<Value = Document> {
    prop_oneof![2 => text().prop_map(Document::Text), 1 => sentences().prop_map(Document::Sentences)]
}

/// Option sets that change which sentences there are and where they come from.
fn option_sets() -> Vec<ProcessOptions> {
    let on = ProcessOptions {
        return_offsets: true,
        ..ProcessOptions::default()
    };
    vec![
        on.clone(),
        ProcessOptions {
            strip_sentences: true,
            language: SplitterLanguage::En,
            ..on.clone()
        },
        ProcessOptions {
            first_line_as_title: true,
            always_select_title: true,
            language: SplitterLanguage::Ja,
            ..on.clone()
        },
        ProcessOptions {
            first_line_as_title: true,
            strip_sentences: true,
            title: Title::None,
            ..on.clone()
        },
        ProcessOptions {
            title: Title::Fixed("A fixed title".into()),
            always_select_title: true,
            respect_sentence_boundaries: true,
            ..on.clone()
        },
        ProcessOptions {
            title: Title::None,
            always_select_title: true,
            reorder: true,
            top_k: Some(5),
            ..on.clone()
        },
        // Upstream's cap on sentence length cuts long sentences into pieces.
        ProcessOptions {
            sentence_splitter: Some(Arc::new(EnglishSentenceSplitter::with_max_chars(12).unwrap())),
            first_line_as_title: true,
            reorder: true,
            ..on
        },
    ]
}

/// Thresholds between every two neighbouring probabilities of `probabilities`, plus both ends.
fn thresholds(mut probabilities: Vec<f64>) -> Vec<f64> {
    probabilities.sort_by(f64::total_cmp);
    probabilities.dedup();
    let mut ts: Vec<f64> = probabilities.windows(2).map(|w| (w[0] + w[1]) / 2.0).collect();
    ts.extend([0.0, 1.0]);
    ts
}

/// Every document of `input` with `options` at every threshold its probabilities suggest.
fn check_input(pruner: &Pruner<B>, input: &ProcessInput, options: &ProcessOptions, at: &str) {
    let scored = pruner.score(input.clone(), options).unwrap();
    let probabilities = scored
        .documents
        .iter()
        .flatten()
        .flat_map(|d| d.sentence_probabilities.clone())
        .collect();
    let in_order = ProcessOptions {
        reorder: false,
        ..options.clone()
    };
    let off = ProcessOptions {
        return_offsets: false,
        ..options.clone()
    };
    for t in thresholds(probabilities) {
        let out = scored.finish(t, &in_order);
        for (q, (docs, results)) in documents_of(input).iter().zip(&out.results).enumerate() {
            for (d, (doc, result)) in docs.iter().zip(results).enumerate() {
                let spans = result.kept_spans.as_deref().unwrap();
                let at = format!("{at} threshold {t} document {q}/{d} {doc:?}");
                assert_spans_rebuild(&doc.source_text(), spans, &result.pruned_context, &at);
            }
        }
        // Reordering and top_k move each document's spans with its result.
        let reordered = scored.finish(t, options);
        for (got, in_order) in reordered.results.iter().zip(&out.results) {
            let want = options.top_k.map_or(in_order.len(), |k| k.min(in_order.len()));
            assert_eq!(got.len(), want, "{at} threshold {t}");
            for result in got {
                assert!(
                    in_order.contains(result),
                    "{at} threshold {t}: {result:?} is no document's"
                );
            }
        }
        // Offsets add a field and change nothing else, reordered or not.
        let mut with = reordered.to_json();
        let without = scored.finish(t, &off).to_json();
        assert!(with.as_object_mut().unwrap().remove("kept_spans").is_some(), "{at}");
        assert_eq!(with, without, "{at}");
    }
}

/// 128 generated requests of up to 7 documents each, each under one of [`option_sets`]; a
/// failure is shrunk to a smallest failing request.
#[test]
fn kept_spans_rebuild_the_pruned_text_of_random_multilingual_documents() {
    let dir = tiny_model_dir(64, None);
    let pruner = load(dir.path());
    let sets = option_sets();
    let requests = (0..sets.len(), prop::collection::vec(document(), 1..8));
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 128,
        ..ProptestConfig::default()
    });
    let outcome = runner.run(&requests, |(i, documents)| {
        let input = ProcessInput::Documents {
            question: "Where is the capital? 首都はどこ？".into(),
            documents,
        };
        check_input(&pruner, &input, &sets[i], &format!("options {i}"));
        Ok(())
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}

#[test]
fn pre_split_offsets_index_the_sentences_joined_as_given() {
    let dir = tiny_model_dir(512, None);
    let pruner = load(dir.path());
    let sentences: Vec<String> = ["Heading\n", "", "  Tokyo is big.  ", "\n", "寿司🍣が好き。", " Rain."]
        .map(String::from)
        .to_vec();
    let joined = sentences.concat();
    let options = ProcessOptions {
        return_offsets: true,
        first_line_as_title: true,
        strip_sentences: true,
        threshold: Some(0.0),
        ..ProcessOptions::default()
    };
    let input = ProcessInput::Documents {
        question: "q".into(),
        documents: vec![Document::Sentences(sentences)],
    };
    let out = pruner.process(input, &options).unwrap();
    let result = &out.results[0][0];
    assert_eq!(result.title, vec!["Heading\n".to_string()]);
    let pairs: Vec<[usize; 2]> = result.kept_spans.iter().flatten().map(|s| s.char_pair()).collect();
    // "Heading\n" (8) + "" + "  " → "Tokyo is big." at 10..23; "  \n" → "寿司🍣が好き。" at 26..33;
    // " " → "Rain." at 34..39: code points of the sentences joined as given.
    assert_eq!(pairs, [[10, 23], [26, 33], [34, 39]]);
    assert_eq!(result.pruned_context, "Tokyo is big.寿司🍣が好き。Rain.");
    let json = out.to_json();
    assert_eq!(
        join_char_slices(&joined, &json["kept_spans"][0]),
        json["pruned_context"][0]
    );
}

#[test]
fn a_splitter_that_rewrites_the_text_cannot_give_offsets() {
    let dir = tiny_model_dir(512, None);
    let pruner = load(dir.path());
    let input = ProcessInput::Pair {
        question: "q".into(),
        context: "One, two. Three, four.".into(),
    };
    let lowercase = |t: &str| vec![t.to_lowercase()];
    let options = ProcessOptions {
        sentence_splitter: Some(Arc::new(lowercase) as Arc<dyn SentenceSplitter>),
        threshold: Some(0.0),
        ..ProcessOptions::default()
    };
    assert!(pruner.process(input.clone(), &options).is_ok(), "fine without offsets");
    let on = ProcessOptions {
        return_offsets: true,
        ..options
    };
    let err = pruner.process(input.clone(), &on).unwrap_err();
    assert!(matches!(err, PruneError::Offsets { .. }), "{err}");
    assert!(err.to_string().contains("\"one, two. three, four.\""), "{err}");
    // A custom splitter returning pieces of its input works.
    let by_comma = |t: &str| t.split_inclusive(", ").map(String::from).collect::<Vec<_>>();
    let pieces = ProcessOptions {
        sentence_splitter: Some(Arc::new(by_comma) as Arc<dyn SentenceSplitter>),
        ..on
    };
    let out = pruner.process(input, &pieces).unwrap().to_json();
    assert_eq!(out["kept_spans"], json!([[0, 5], [5, 17], [17, 22]]));
}

#[test]
fn jsonl_lines_carry_kept_spans() {
    let dir = tiny_model_dir(64, None);
    let pruner = load(dir.path());
    let contexts = [
        json!("  東京は日本の首都です。\r\n寿司🍣が好き。 Rain fell. "),
        json!([["Pre-split. ", "", "sentences é\u{301}."]]),
    ];
    let lines: String = contexts
        .iter()
        .map(|c| format!("{}\n", json!({"question": "首都", "context": c})))
        .collect();
    let requests = provence_infer::read_requests(lines.as_bytes()).unwrap();
    let options = ProcessOptions {
        return_offsets: true,
        threshold: Some(0.0),
        ..ProcessOptions::default()
    };
    let mut out = Vec::new();
    provence_infer::process_requests(&pruner, requests, &mut out, &options).unwrap();
    let got: Vec<Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let text = contexts[0].as_str().unwrap();
    assert_eq!(join_char_slices(text, &got[0]["kept_spans"]), got[0]["pruned_context"]);
    let joined = "Pre-split. sentences é\u{301}.";
    assert_eq!(
        join_char_slices(joined, &got[1]["kept_spans"][0]),
        got[1]["pruned_context"][0]
    );
    assert_eq!(got[1]["kept_spans"], json!([[[0, 11], [11, 24]]]));
}

/// Nothing kept (no probability is above 1): every document's spans are an empty list, not
/// missing, in every shape, reordered and cut by top_k too.
#[test]
fn nothing_kept_gives_empty_span_lists() {
    let dir = tiny_model_dir(512, None);
    let pruner = load(dir.path());
    let input = ProcessInput::Nested {
        questions: vec!["q1".into(), "首都".into()],
        documents: vec![
            vec![Document::Text("One. Two.".into()), Document::Text(String::new())],
            vec![
                Document::Sentences(vec!["寿司🍣。".into(), "".into()]),
                Document::Text("東京。".into()),
            ],
        ],
    };
    let options = ProcessOptions {
        return_offsets: true,
        threshold: Some(1.0),
        ..ProcessOptions::default()
    };
    let out = pruner.process(input.clone(), &options).unwrap().to_json();
    assert_eq!(out["kept_spans"], json!([[[], []], [[], []]]));
    assert_eq!(out["pruned_context"], json!([["", ""], ["", ""]]));
    let top = ProcessOptions {
        reorder: true,
        top_k: Some(1),
        ..options
    };
    let out = pruner.process(input, &top).unwrap().to_json();
    assert_eq!(out["kept_spans"], json!([[[]], [[]]]));
}
