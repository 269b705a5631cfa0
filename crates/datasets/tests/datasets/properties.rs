//! Property tests (proptest) of what a user relies on: collated labels sit only on passage tokens,
//! at most one per token, for any span numbers on any Unicode text; on clean sentence data every
//! passage token gets exactly one label and both label alignments agree; row sampling is
//! deterministic for a seed and does not depend on which or how many threads run it.
//! Case counts are kept small for `cargo test`; `PROPTEST_CASES=2000` runs more.

use std::sync::OnceLock;

use proptest::prelude::*;
use provence_datasets::{
    Batch, CollateError, Collator, CollatorConfig, DataOptions, DatasetSpec, IGNORE_INDEX, LabelAlignment, Row,
    SourceResolver, prepare_datasets,
};
use provence_hub::PretrainedTokenizer;
use provence_test_support::demo;
use tokenizers::{TruncationDirection, TruncationParams, TruncationStrategy};

/// The demo model's tokenizer (byte-level BPE, NFC, `[CLS] A [SEP] B [SEP]`), loaded once.
fn tokenizer() -> &'static PretrainedTokenizer {
    static TOKENIZER: OnceLock<PretrainedTokenizer> = OnceLock::new();
    TOKENIZER.get_or_init(|| PretrainedTokenizer::from_pretrained(demo("model")).unwrap())
}

/// Words of several scripts and byte widths (NFC-stable, so offsets map one to one).
const WORDS: &[&str] = &[
    "the", "cat", "sat", "Kyoto", "temples", "quiet", "42", "x", "naïve", "café", "日本", "寿司", "です", "🙂",
    "Ωmega", "a-b", "(note)", "don't", "?!", "—",
];

fn word() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(WORDS)
}

/// Any text: words, odd whitespace and punctuation, multi-byte characters, possibly empty.
fn any_text(max_words: usize) -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => word().prop_map(str::to_owned),
        1 => Just(" ".to_owned()),
        1 => Just("\n".to_owned()),
        1 => Just("\u{301}".to_owned()), // a combining accent on whatever precedes it
        1 => any::<char>().prop_map(String::from),
    ];
    proptest::collection::vec(piece, 0..max_words).prop_map(|p| p.join(""))
}

/// Span bounds as a dataset may hold them: small, negative, past the end, or extreme.
fn span_bound() -> impl Strategy<Value = i64> {
    prop_oneof![8 => -30i64..200, 1 => Just(i64::MIN), 1 => Just(i64::MAX)]
}

fn any_row() -> impl Strategy<Value = Row> {
    let passage = (
        any_text(40),
        proptest::collection::vec([span_bound(), span_bound()], 0..6),
        proptest::collection::vec(-1i64..4, 0..6),
    );
    (any_text(12), proptest::collection::vec(passage, 1..4), any::<bool>()).prop_map(|(query, passages, teacher)| {
        let n = passages.len();
        let (texts, (context_spans, context_spans_relevance)): (Vec<_>, (Vec<_>, Vec<_>)) =
            passages.into_iter().map(|(t, s, r)| (t, (s, r))).unzip();
        Row {
            id: Some("prop".into()),
            query,
            texts,
            context_spans,
            labels: (!teacher).then(|| vec![1; n]),
            context_spans_relevance,
            teacher_score: teacher.then(|| vec![0.5; n]),
        }
    })
}

fn alignment() -> impl Strategy<Value = LabelAlignment> {
    prop_oneof![Just(LabelAlignment::V2), Just(LabelAlignment::Offsets)]
}

/// Each pair's encoding (char offsets) as the collator truncates it.
fn encodings(rows: &[Row], max_length: usize) -> Vec<tokenizers::Encoding> {
    let mut tok = tokenizer().tokenizer().clone();
    tok.with_truncation(Some(TruncationParams {
        max_length,
        strategy: TruncationStrategy::LongestFirst,
        stride: 0,
        direction: TruncationDirection::Right,
    }))
    .unwrap();
    let mut out = Vec::new();
    for row in rows {
        for text in row
            .texts
            .iter()
            .take(row.context_spans.len().min(row.context_spans_relevance.len()))
        {
            out.push(
                tok.encode_char_offsets((row.query.as_str(), text.as_str()), true)
                    .unwrap(),
            );
        }
    }
    out
}

/// Shape and value checks every collated batch passes; returns each pair's label row.
fn check_batch(batch: &Batch) -> Vec<&[i64]> {
    let (p, l) = (batch.pairs, batch.seq_len);
    for len in [
        batch.input_ids.len(),
        batch.attention_mask.len(),
        batch.pruning_labels.len(),
    ] {
        assert_eq!(len, p * l);
    }
    assert_eq!(batch.ranking_targets.len(), p);
    let pad = i64::from(tokenizer().pad_token_id().unwrap());
    for i in 0..p {
        let mask = &batch.attention_mask[i * l..(i + 1) * l];
        let real = mask.iter().take_while(|&&m| m == 1).count();
        assert!(mask[real..].iter().all(|&m| m == 0), "mask of pair {i} is not a prefix");
        assert!(batch.input_ids[i * l + real..(i + 1) * l].iter().all(|&id| id == pad));
    }
    assert!(
        batch
            .pruning_labels
            .iter()
            .all(|&v| v == IGNORE_INDEX || v == 0 || v == 1)
    );
    batch.pruning_labels.chunks(l.max(1)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any rows, any span numbers: a batch or a typed error, never a panic; labels never fall on
    /// the query or the leading special token, and (offset alignment) only on passage tokens.
    #[test]
    fn collated_labels_stay_off_the_query_for_any_spans(
        rows in proptest::collection::vec(any_row(), 1..4),
        max_length in 8usize..96,
        label_alignment in alignment(),
    ) {
        let collator = Collator::new(tokenizer(), CollatorConfig { max_length, label_alignment }).unwrap();
        let batch = match collator.collate(&rows) {
            Ok(batch) => batch,
            Err(CollateError::NegativeSpanIndex { .. } | CollateError::MissingSpans { .. } | CollateError::NoPairs { .. }) => {
                return Ok(());
            }
            Err(other) => panic!("unexpected error: {other}"),
        };
        let labels = check_batch(&batch);
        let encodings = encodings(&rows, max_length);
        prop_assert_eq!(encodings.len(), batch.pairs);
        for (i, (row, encoding)) in labels.iter().zip(&encodings).enumerate() {
            prop_assert_eq!(row[0], IGNORE_INDEX, "pair {} labels its first token", i);
            let ids = encoding.get_sequence_ids();
            for (j, seq) in ids.iter().enumerate() {
                let on_passage = *seq == Some(1);
                if *seq == Some(0) || (label_alignment == LabelAlignment::Offsets && !on_passage) {
                    prop_assert_eq!(row[j], IGNORE_INDEX, "pair {} token {} ({:?}) is labelled", i, j, seq);
                }
            }
            if label_alignment == LabelAlignment::Offsets {
                prop_assert!(row[ids.len()..].iter().all(|&v| v == IGNORE_INDEX), "pair {} labels padding", i);
            }
        }
    }

    /// Clean data (a passage of sentences joined by single spaces, one span per sentence, a 0/1
    /// mask): every passage token with text of a sentence gets one label, the same in upstream's
    /// v2 alignment and the offsets alignment, and nothing outside the passage is labelled. A
    /// token holding only the space between two sentences belongs to no span: the offsets
    /// alignment leaves it unlabelled, v2 counts it with the next sentence.
    #[test]
    fn clean_sentences_label_each_passage_token_once(
        sentences in proptest::collection::vec(
            (proptest::collection::vec(word(), 1..6), any::<bool>()), 1..6),
        query in proptest::collection::vec(word(), 1..5),
    ) {
        let mut passage = String::new();
        let mut spans = Vec::new();
        let mut relevance = Vec::new();
        for (words, relevant) in &sentences {
            if !passage.is_empty() {
                passage.push(' ');
            }
            let start = passage.chars().count() as i64;
            passage.push_str(&words.join(" "));
            spans.push([start, passage.chars().count() as i64]);
            relevance.push(i64::from(*relevant));
        }
        let row = Row {
            id: None,
            query: query.join(" "),
            texts: vec![passage],
            context_spans: vec![spans],
            labels: Some(vec![1]),
            context_spans_relevance: vec![relevance],
            teacher_score: None,
        };
        let rows = [row];
        let collate = |label_alignment| {
            let config = CollatorConfig { max_length: 512, label_alignment };
            Collator::new(tokenizer(), config).unwrap().collate(&rows).unwrap()
        };
        let (v2, offsets) = (collate(LabelAlignment::V2), collate(LabelAlignment::Offsets));
        let encoding = &encodings(&rows, 512)[0];
        let (by_offsets, by_v2) = (check_batch(&offsets)[0], check_batch(&v2)[0]);
        let chars: Vec<char> = rows[0].texts[0].chars().collect();
        for (j, (seq, &(s, e))) in encoding.get_sequence_ids().iter().zip(encoding.get_offsets()).enumerate() {
            let (label, v2_label) = (by_offsets[j], by_v2[j]);
            if *seq != Some(1) {
                prop_assert_eq!((label, v2_label), (IGNORE_INDEX, IGNORE_INDEX), "token {} ({:?})", j, seq);
            } else if label == IGNORE_INDEX {
                let blank = chars[s..e].iter().all(|c| c.is_whitespace());
                prop_assert!(blank, "passage token {} ({}..{}) unlabelled", j, s, e);
            } else {
                prop_assert_eq!(label, v2_label, "token {} ({}..{})", j, s, e);
            }
        }
    }
}

/// The demo dataset's two subsets with the sampling options of one case.
fn sampling_specs(items: Option<i64>, upsample: Option<f64>, n_samples: Option<f64>) -> Vec<DatasetSpec> {
    ["en", "ja"]
        .into_iter()
        .map(|subset| {
            let mut spec = DatasetSpec::new(demo("dataset").to_str().unwrap(), Some(subset));
            spec.teacher_column = "teacher_scores.demo-teacher".to_owned();
            spec.items = items;
            spec.upsample_factor = upsample;
            spec.n_samples = n_samples;
            spec
        })
        .collect()
}

/// A comparable outcome of `prepare_datasets`.
fn prepare(specs: &[DatasetSpec], options: &DataOptions, seed: i64) -> Result<(Vec<Row>, Option<Vec<Row>>), String> {
    prepare_datasets(specs, options, seed, &SourceResolver::local_only())
        .map(|p| (p.train, p.eval))
        .map_err(|e| e.to_string())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// The same seed and options give the same rows, whether run here, again, or on several
    /// threads at once (no shared random state).
    #[test]
    fn sampling_is_deterministic_for_a_seed_on_any_thread(
        seed in any::<i64>(),
        items in proptest::option::of(1i64..6),
        upsample in proptest::option::of(1.0f64..3.0),
        n_samples in proptest::option::of(prop_oneof![0.05f64..1.0, 2.0f64..40.0]),
        validation_split in proptest::option::of(0.05f64..0.5),
        filter in proptest::option::of(1usize..4),
        threads in 2usize..4,
    ) {
        let specs = sampling_specs(items, upsample, n_samples);
        let options = DataOptions {
            validation_split,
            filter_zero_relevance_max_items: filter,
            ..DataOptions::default()
        };
        let here = prepare(&specs, &options, seed);
        prop_assert_eq!(&here, &prepare(&specs, &options, seed));
        let elsewhere: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads).map(|_| scope.spawn(|| prepare(&specs, &options, seed))).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for other in &elsewhere {
            prop_assert_eq!(&here, other);
        }
    }
}
