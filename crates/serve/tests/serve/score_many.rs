//! `Pruner::score_many`, the batcher's call: each request gets what `Pruner::score` gives it
//! alone, with its own options, and a failing request fails alone.

use crate::common::*;
use provence_infer::{Document, ProcessInput, ProcessOptions, PruneError, Title};

#[test]
fn each_request_gets_its_own_scores_and_errors() {
    let pruner = pruner();
    let plain = ProcessOptions::default();
    let titled = ProcessOptions {
        title: Title::Fixed("Guide".into()),
        ..ProcessOptions::default()
    };
    let per_document = ProcessOptions {
        title: Title::PerDocument(vec![vec!["only one".into()]]),
        ..ProcessOptions::default()
    };
    let docs = |seeds: &[usize]| seeds.iter().map(|&s| Document::Text(passage(s))).collect::<Vec<_>>();
    let requests = vec![
        (
            ProcessInput::Documents {
                question: query(0),
                documents: docs(&[1, 2, 3]),
            },
            &plain,
        ),
        // Two documents, one title: this one fails.
        (
            ProcessInput::Documents {
                question: query(1),
                documents: docs(&[4, 5]),
            },
            &per_document,
        ),
        (
            ProcessInput::Pair {
                question: query(2),
                context: passage(11),
            },
            &titled,
        ),
        (
            ProcessInput::Documents {
                question: query(3),
                documents: Vec::new(),
            },
            &plain,
        ),
    ];
    let scored = pruner.score_many(requests.clone(), 8, 512);
    assert_eq!(scored.results.len(), 4);
    assert!(
        matches!(scored.results[1], Err(PruneError::Shape(_))),
        "{:?}",
        scored.results[1]
    );
    for (i, (input, options)) in requests.into_iter().enumerate() {
        if i == 1 {
            continue;
        }
        let got = scored.results[i].as_ref().unwrap();
        let want = pruner.score(input, options).unwrap();
        assert_eq!(got.shape, want.shape, "request {i}");
        assert_eq!(got.documents.len(), want.documents.len());
        for (g, w) in got.documents.iter().flatten().zip(want.documents.iter().flatten()) {
            assert_eq!(
                (&g.sentences, g.n_prefix, g.title_index),
                (&w.sentences, w.n_prefix, w.title_index)
            );
            assert!((g.block_score.unwrap() - w.block_score.unwrap()).abs() < 1e-6);
            assert!((g.block_logit.unwrap() - w.block_logit.unwrap()).abs() < 1e-5);
            for (p, q) in g.sentence_probabilities.iter().zip(&w.sentence_probabilities) {
                assert!((p - q).abs() < 1e-6, "request {i}: {p} vs {q}");
            }
        }
    }
    // The budgets hold: at most 8 blocks and 512 padded tokens a pass (a longer block alone).
    assert!(scored.passes.len() >= 2);
    for pass in &scored.passes {
        assert!(pass.blocks <= 8 && pass.real_tokens <= pass.padded_tokens);
        assert!(pass.padded_tokens <= 512 || pass.blocks == 1, "{pass:?}");
    }
}
