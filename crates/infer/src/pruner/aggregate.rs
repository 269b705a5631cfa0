//! From the model's per-block outputs back to documents: the blocks each prepared document
//! owns, and fragment means → sentence means (upstream's `_postprocess_contexts`).

use super::inputs::InputShape;
use super::offsets::SentenceSpan;
use super::options::ProcessOptions;
use super::output::ScoredDocument;
use super::prepare::{self, Block};

/// Where each document's blocks are and what they need for aggregation.
pub(super) struct PreparedDocument {
    pub(super) plan: prepare::SentencePlan,
    pub(super) fragmented: prepare::Fragmented,
    pub(super) blocks: Vec<Block>,
    pub(super) title_index: Option<usize>,
    /// Where the content sentences lie in the document's source text (`return_offsets`).
    pub(super) content_spans: Option<Vec<SentenceSpan>>,
}

/// Every document of one request, prepared for the model.
pub(super) struct PreparedRequest {
    pub(super) shape: InputShape,
    pub(super) documents: Vec<Vec<PreparedDocument>>,
}

impl PreparedRequest {
    /// The blocks of every document, in order.
    pub(super) fn blocks(&self) -> impl Iterator<Item = &Block> {
        self.documents.iter().flatten().flat_map(|d| &d.blocks)
    }

    /// Sentence probabilities of every document from the next outputs of `outputs` (one per
    /// block, in [`Self::blocks`] order).
    pub(super) fn aggregate(
        self,
        outputs: &mut impl Iterator<Item = BlockOutput>,
        options: &ProcessOptions,
    ) -> Vec<Vec<ScoredDocument>> {
        self.documents
            .into_iter()
            .map(|docs| {
                docs.into_iter()
                    .map(|doc| {
                        let block_outputs: Vec<BlockOutput> = outputs.by_ref().take(doc.blocks.len()).collect();
                        aggregate(doc, &block_outputs, options)
                    })
                    .collect()
            })
            .collect()
    }
}

/// Model output of one block.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockOutput {
    /// Sigmoid of the first ranking logit.
    pub score: f64,
    /// The first ranking logit itself.
    pub logit: f64,
    /// Keep probability per sequence position.
    pub keep: Vec<f64>,
}

/// Fragment means → sentence means (as in upstream's `OpenProvenceModel._postprocess_contexts`);
/// a fragment window that is empty scores 1.0.
fn aggregate(doc: PreparedDocument, blocks: &[BlockOutput], options: &ProcessOptions) -> ScoredDocument {
    let n_sentences = doc.plan.sentences.len();
    let mut sums = vec![0.0f64; n_sentences];
    let mut counts = vec![0usize; n_sentences];
    let mut fragment_scores: std::collections::BTreeMap<usize, (usize, f64)> = Default::default();
    for (block, output) in doc.blocks.iter().zip(blocks) {
        for &(fi, s, e) in &block.ranges {
            let fragment = &doc.fragmented.fragments[fi];
            let offset = if options.legacy_prefix_offset {
                let n = fragment.sentence_index.min(doc.fragmented.prefix_token_counts.len());
                doc.fragmented.prefix_token_counts[..n].iter().sum()
            } else {
                0
            };
            let len = output.keep.len();
            let s = s.saturating_sub(offset).min(len);
            let e = e.saturating_sub(offset).max(s).min(len);
            let score = if e <= s {
                1.0
            } else {
                output.keep[s..e].iter().sum::<f64>() / (e - s) as f64
            };
            fragment_scores.insert(fragment.global_index, (fragment.sentence_index, score));
        }
    }
    for (sentence, score) in fragment_scores.into_values() {
        if sentence < n_sentences {
            sums[sentence] += score;
            counts[sentence] += 1;
        }
    }
    let sentence_probabilities = sums
        .iter()
        .zip(&counts)
        .map(|(&s, &c)| if c == 0 { 0.0 } else { (s / c as f64).clamp(0.0, 1.0) })
        .collect();
    let (block_score, block_logit) = if options.use_best_reranker_score {
        (
            blocks.iter().map(|b| b.score).reduce(f64::max),
            blocks.iter().map(|b| b.logit).reduce(f64::max),
        )
    } else {
        (blocks.first().map(|b| b.score), blocks.first().map(|b| b.logit))
    };
    ScoredDocument {
        base_chars: doc.plan.base_text.chars().count(),
        sentences: doc.plan.sentences,
        n_prefix: doc.plan.n_prefix,
        sentence_probabilities,
        block_score,
        block_logit,
        title_index: doc.title_index,
        content_spans: doc.content_spans,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prepared(n_prefix: usize, prefix_tokens: Vec<usize>) -> PreparedDocument {
        let frag = |s: usize, g: usize, n: usize| prepare::Fragment {
            sentence_index: s,
            fragment_index: 0,
            global_index: g,
            tokens: vec![9; n],
        };
        let fragments = vec![frag(0, 0, 2), frag(1, 1, 2), frag(1, 2, 1)];
        PreparedDocument {
            plan: prepare::SentencePlan {
                sentences: vec!["a".into(), "b".into(), "c".into()],
                n_prefix,
                base_text: "bc".into(),
            },
            fragmented: prepare::Fragmented {
                prefix_token_counts: prefix_tokens,
                fragments,
            },
            // [CLS] q [SEP] f0 f0 f1 f1 [SEP] | [CLS] q [SEP] f2 [SEP]
            blocks: vec![
                Block {
                    input_ids: vec![0; 8],
                    token_type_ids: vec![0; 8],
                    ranges: vec![(0, 3, 5), (1, 5, 7)],
                },
                Block {
                    input_ids: vec![0; 5],
                    token_type_ids: vec![0; 5],
                    ranges: vec![(2, 3, 4)],
                },
            ],
            title_index: None,
            content_spans: None,
        }
    }

    fn outputs() -> Vec<BlockOutput> {
        vec![
            BlockOutput {
                score: 0.2,
                logit: -1.4,
                keep: vec![0.0, 0.0, 0.0, 0.2, 0.4, 0.6, 1.0, 0.0],
            },
            BlockOutput {
                score: 0.7,
                logit: 0.85,
                keep: vec![0.0, 0.0, 0.0, 0.1, 0.0],
            },
        ]
    }

    #[test]
    fn sentence_score_is_the_mean_of_fragment_means() {
        let doc = aggregate(prepared(0, vec![]), &outputs(), &ProcessOptions::default());
        let p = &doc.sentence_probabilities;
        assert!((p[0] - 0.3).abs() < 1e-12);
        // fragment means 0.8 and 0.1 weigh the same although they cover 2 and 1 tokens.
        assert!((p[1] - 0.45).abs() < 1e-12);
        assert_eq!(p[2], 0.0, "a sentence without fragments scores 0");
        assert_eq!((doc.block_score, doc.block_logit), (Some(0.7), Some(0.85)));
        let first = ProcessOptions {
            use_best_reranker_score: false,
            ..ProcessOptions::default()
        };
        assert_eq!(
            aggregate(prepared(0, vec![]), &outputs(), &first).block_score,
            Some(0.2)
        );
    }

    #[test]
    fn legacy_offset_shifts_content_windows_left() {
        let legacy = ProcessOptions {
            legacy_prefix_offset: true,
            ..ProcessOptions::default()
        };
        let doc = aggregate(prepared(1, vec![2]), &outputs(), &legacy);
        let p = &doc.sentence_probabilities;
        assert!((p[0] - 0.3).abs() < 1e-12, "prefix sentence itself is not shifted");
        // f1 reads [3,5) = 0.3; f2 reads [1,2) = 0.0 → mean 0.15.
        assert!((p[1] - 0.15).abs() < 1e-12);
        let fixed = aggregate(prepared(1, vec![2]), &outputs(), &ProcessOptions::default());
        assert!((fixed.sentence_probabilities[1] - 0.45).abs() < 1e-12);
    }
}
