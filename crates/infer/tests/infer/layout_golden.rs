//! Block sequences and fragment ranges against upstream's own `_prepare_block_inputs` (fixtures
//! from scripts/fixtures/layout_fixtures.py): a `PreTrainedTokenizerFast` (hand-built
//! `[CLS] q [SEP] c [SEP]`), a `BertTokenizerFast` (its pair builder, trailing `[SEP]` also for
//! an empty context) and a RoBERTa-style tokenizer (`<s> q </s></s> c </s>`, four specials).

use provence_hub::PretrainedTokenizer;
use provence_infer::prepare::{Fragment, Layout, build_blocks};
use serde_json::Value;

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

#[test]
fn block_layouts_match_upstream() {
    let root = provence_test_support::fixture("layout");
    let cases: Value = provence_test_support::json::load(&root.join("cases.json"));
    for name in ["fast_manual", "bert", "roberta"] {
        let tokenizer = PretrainedTokenizer::from_pretrained(root.join(name)).unwrap();
        let layout = Layout::for_tokenizer(&tokenizer).unwrap();
        let expected = &cases[name];
        let manual = expected["manual"].as_bool().unwrap();
        assert_eq!(layout == Layout::manual(1, 2), manual, "{name}: layout {layout:?}");
        for case in expected["cases"].as_array().unwrap() {
            let query = ids(&case["query"]);
            let fragments: Vec<Fragment> = case["fragments"]
                .as_array()
                .unwrap()
                .iter()
                .enumerate()
                .map(|(i, f)| Fragment {
                    sentence_index: i,
                    fragment_index: 0,
                    global_index: i,
                    tokens: ids(f),
                })
                .collect();
            // A document with no fragment still gets one (empty) block upstream.
            let fragments = if fragments.is_empty() {
                vec![Fragment {
                    sentence_index: 0,
                    fragment_index: 0,
                    global_index: 0,
                    tokens: Vec::new(),
                }]
            } else {
                fragments
            };
            let blocks = build_blocks(&query, &fragments, 512, &layout);
            assert_eq!(blocks.len(), 1, "{name}: one block expected");
            assert_eq!(blocks[0].input_ids, ids(&case["input_ids"]), "{name}: {case}");
            let ranges: Vec<Vec<u32>> = blocks[0]
                .ranges
                .iter()
                .map(|&(_, start, end)| vec![start as u32, end as u32])
                .collect();
            let want: Vec<Vec<u32>> = case["ranges"].as_array().unwrap().iter().map(ids).collect();
            assert_eq!(ranges, want, "{name}: {case}");
        }
    }
}
