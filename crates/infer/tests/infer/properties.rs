//! Property tests (proptest) of `process()` on a tiny random model, whatever its weights: results
//! come back in input order (per query, per document), the kept and removed sentences split the
//! document's sentences in order, the pruned text is the kept content sentences joined, and the
//! compression rate lies in [0, 100]; for every input shape, title mode, threshold and batching
//! setting. Case counts are kept small for `cargo test`; `PROPTEST_CASES=500` runs more.

use crate::common::{load, tiny_model_dir};

use proptest::prelude::*;
use provence_infer::{Document, DocumentResult, ProcessInput, ProcessOptions, SplitterLanguage, Title};

const WORDS: &[&str] = &[
    "the",
    "cat",
    "sat",
    "on",
    "a",
    "mat.",
    "Kyoto",
    "temples",
    "are",
    "quiet!",
    "Sushi?",
    "42",
    "naïve",
    "café",
    "日本",
    "寿司は",
    "美味しい。",
    "です",
    "🙂",
    "—",
    "(note)",
];

/// A sentence of a few words, tagged so that every sentence of a call is distinct.
fn sentence(tag: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(WORDS), 1..8)
        .prop_map(move |words| format!("s{tag} {} ", words.join(" ")))
}

/// Pre-split sentences (some blank, which are dropped) or a text (split by the splitter).
#[derive(Debug, Clone)]
enum Doc {
    Sentences(Vec<String>),
    Text(String),
}

impl Doc {
    fn document(&self) -> Document {
        match self {
            Doc::Sentences(s) => Document::Sentences(s.clone()),
            Doc::Text(t) => Document::Text(t.clone()),
        }
    }
}

fn doc(tag: usize) -> impl Strategy<Value = Doc> {
    let sentences = proptest::collection::vec(prop_oneof![6 => sentence(tag).prop_map(Some), 1 => Just(None)], 1..6);
    (sentences, any::<bool>()).prop_map(|(sentences, presplit)| {
        // Blank sentences are dropped from pre-split input; a text just gets more spaces.
        let sentences: Vec<String> = sentences
            .into_iter()
            .enumerate()
            .map(|(i, s)| s.map_or_else(|| "  ".to_owned(), |s| s.replacen(' ', &format!("-{i} "), 1)))
            .collect();
        if presplit {
            Doc::Sentences(sentences)
        } else {
            Doc::Text(sentences.concat())
        }
    })
}

/// Questions and their documents, in one of the four input shapes.
fn input() -> impl Strategy<Value = (u8, Vec<String>, Vec<Vec<Doc>>)> {
    (0u8..4, 1usize..4).prop_flat_map(|(shape, queries)| {
        let queries = if shape < 2 { 1 } else { queries };
        let docs_per_query = if shape == 0 || shape == 2 { 1..2 } else { 1..4 };
        let per_query = proptest::collection::vec((0..1000usize).prop_flat_map(doc), docs_per_query);
        (
            Just(shape),
            proptest::collection::vec(
                proptest::collection::vec(proptest::sample::select(WORDS), 1..6).prop_map(|w| w.join(" ")),
                queries,
            ),
            proptest::collection::vec(per_query, queries),
        )
    })
}

fn process_input(shape: u8, questions: &[String], docs: &[Vec<Doc>]) -> ProcessInput {
    let documents = |d: &[Doc]| d.iter().map(Doc::document).collect::<Vec<_>>();
    match shape {
        0 => match docs[0][0].document() {
            Document::Text(context) => ProcessInput::Pair {
                question: questions[0].clone(),
                context,
            },
            presplit => ProcessInput::Documents {
                question: questions[0].clone(),
                documents: vec![presplit],
            },
        },
        1 => ProcessInput::Documents {
            question: questions[0].clone(),
            documents: documents(&docs[0]),
        },
        2 => ProcessInput::Aligned {
            questions: questions.to_vec(),
            documents: docs.iter().map(|d| d[0].document()).collect(),
        },
        _ => ProcessInput::Nested {
            questions: questions.to_vec(),
            documents: docs.iter().map(|d| documents(d)).collect(),
        },
    }
}

/// The options a case varies (`ProcessOptions` itself has no `Debug` to print a failing case).
#[derive(Debug, Clone)]
struct Settings {
    title: Title,
    threshold: Option<f64>,
    batch_size: usize,
    max_batch_tokens: usize,
    always_select_title: bool,
    respect_sentence_boundaries: bool,
    use_best_reranker_score: bool,
    language: SplitterLanguage,
}

impl Settings {
    fn options(&self) -> ProcessOptions {
        ProcessOptions {
            title: self.title.clone(),
            threshold: self.threshold,
            batch_size: self.batch_size,
            max_batch_tokens: self.max_batch_tokens,
            always_select_title: self.always_select_title,
            respect_sentence_boundaries: self.respect_sentence_boundaries,
            use_best_reranker_score: self.use_best_reranker_score,
            language: self.language,
            return_sentence_texts: true,
            return_sentence_metrics: true,
            ..ProcessOptions::default()
        }
    }
}

fn settings() -> impl Strategy<Value = Settings> {
    let title = prop_oneof![
        Just(Title::None),
        Just(Title::FirstSentence),
        "[a-z]{1,8}( [a-z]{1,8}){0,3}".prop_map(Title::Fixed),
    ];
    let language = prop_oneof![
        Just(SplitterLanguage::Auto),
        Just(SplitterLanguage::En),
        Just(SplitterLanguage::Ja)
    ];
    (
        title,
        proptest::option::of(0.0f64..1.0),
        1usize..6,
        prop_oneof![Just(usize::MAX), 16usize..400],
        any::<(bool, bool, bool)>(),
        language,
    )
        .prop_map(
            |(title, threshold, batch_size, max_batch_tokens, flags, language)| Settings {
                title,
                threshold,
                batch_size,
                max_batch_tokens,
                always_select_title: flags.0,
                respect_sentence_boundaries: flags.1,
                use_best_reranker_score: flags.2,
                language,
            },
        )
}

/// The document's content sentences from its result: kept and removed merged back in order
/// (each is a sub-sequence of the document's sentences), after the title sentences.
fn check_document(result: &DocumentResult, doc: &Doc) -> Result<(), TestCaseError> {
    prop_assert!(
        (0.0..=100.0).contains(&result.compression_rate),
        "{}",
        result.compression_rate
    );
    let kept = result.kept_sentences.as_ref().unwrap();
    let removed = result.removed_sentences.as_ref().unwrap();
    let probabilities = result.sentence_probabilities.as_ref().unwrap();
    prop_assert_eq!(probabilities.len(), kept.len() + removed.len());
    prop_assert!(probabilities.iter().all(|p| (0.0..=1.0).contains(p)));
    let n_prefix = result.title.len();
    // The title sentences come first; the kept ones lead `kept`.
    let kept_titles = kept.iter().zip(&result.title).take_while(|(k, t)| k == t).count();
    let kept_content = &kept[kept_titles..];
    prop_assert_eq!(&result.pruned_context, &kept_content.concat());
    match doc {
        Doc::Sentences(sentences) => {
            let mut content: Vec<&String> = sentences.iter().filter(|s| !s.trim().is_empty()).collect();
            let nothing = String::new();
            if content.is_empty() {
                // Only blank sentences: upstream's fallback, the (empty) text of the kept ones.
                content.push(&nothing);
            }
            prop_assert_eq!(kept.len() + removed.len(), n_prefix + content.len());
            let (mut k, mut r) = (kept.iter().peekable(), removed.iter().peekable());
            for sentence in result.title.iter().chain(content.iter().copied()) {
                if k.peek() == Some(&sentence) {
                    k.next();
                } else {
                    prop_assert_eq!(r.next(), Some(sentence), "sentence out of order or lost");
                }
            }
        }
        Doc::Text(text) => {
            // Kept content sentences are pieces of the text, in order.
            let mut rest = text.as_str();
            for piece in kept_content {
                let at = rest.find(piece.as_str());
                prop_assert!(at.is_some(), "{:?} is not a later piece of {:?}", piece, text);
                rest = &rest[at.unwrap_or(0) + piece.len()..];
            }
        }
    }
    Ok(())
}

/// Every shape, title mode, threshold and batching: results in input order with the document
/// invariants above.
#[test]
fn process_keeps_order_and_sentence_invariants() {
    let dir = tiny_model_dir(48, None);
    let pruner = load(dir.path());
    proptest!(ProptestConfig::with_cases(64), |((shape, questions, docs) in input(), settings in settings())| {
        let output = pruner.process(process_input(shape, &questions, &docs), &settings.options()).unwrap();
        prop_assert_eq!(output.results.len(), docs.len());
        for (results, docs) in output.results.iter().zip(&docs) {
            let docs = if shape == 0 || shape == 2 { &docs[..1] } else { &docs[..] };
            prop_assert_eq!(results.len(), docs.len());
            for (result, doc) in results.iter().zip(docs) {
                check_document(result, doc)?;
            }
        }
    });
}
