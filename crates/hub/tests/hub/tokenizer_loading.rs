//! `PretrainedTokenizer` loads tokenizer directories the way `transformers.AutoTokenizer` does.

use provence_hub::{PretrainedTokenizer, TokenizerError};
use provence_test_support::{demo, fixture, repo};
use serde::Deserialize;

#[derive(Deserialize)]
struct LlamaPairs {
    class: String,
    model_max_length: f64,
    pad_token_id: u32,
    pairs: Vec<LlamaPair>,
}

#[derive(Deserialize)]
struct LlamaPair {
    query: String,
    passage: String,
    pair_ids: Vec<u32>,
    single_ids: Vec<u32>,
}

/// A Unigram `tokenizer.json` whose stored post-processor is the XLM-R template, declared as
/// `LlamaTokenizerFast` with `add_bos_token`/`add_eos_token`: transformers rebuilds the
/// post-processor as `<s> $A </s> <s> $B </s>`; ids recorded from `AutoTokenizer`
/// (`scripts/fixtures/collator_fixtures.py`).
#[test]
fn llama_style_add_bos_eos_matches_auto_tokenizer() {
    let dir = fixture("collator/llama");
    let text = std::fs::read_to_string(fixture("collator/llama_pairs.json")).unwrap();
    let fixture: LlamaPairs = serde_json::from_str(&text).unwrap();
    assert_eq!(fixture.class, "LlamaTokenizerFast");
    assert!(fixture.model_max_length > 1e29);
    let tok = PretrainedTokenizer::from_pretrained(&dir).unwrap();
    assert_eq!(tok.model_max_length(), None);
    assert_eq!(tok.pad_token_id(), Some(fixture.pad_token_id));
    for p in &fixture.pairs {
        let pair = tok
            .tokenizer()
            .encode((p.query.as_str(), p.passage.as_str()), true)
            .unwrap();
        assert_eq!(pair.get_ids(), p.pair_ids, "pair ({:?}, {:?})", p.query, p.passage);
        let single = tok.tokenizer().encode(p.query.as_str(), true).unwrap();
        assert_eq!(single.get_ids(), p.single_ids, "single {:?}", p.query);
    }
    // The same tokenizer.json declared as PreTrainedTokenizerFast keeps its XLM-R template.
    let plain = PretrainedTokenizer::from_pretrained(provence_test_support::fixture("collator/unigram")).unwrap();
    let p = &fixture.pairs[0];
    let ids = plain
        .tokenizer()
        .encode((p.query.as_str(), p.passage.as_str()), true)
        .unwrap();
    assert_ne!(ids.get_ids(), p.pair_ids);
    assert_eq!(plain.model_max_length(), Some(512));
}

#[test]
fn special_tokens_map_overrides_tokenizer_config() {
    let dir = tempfile::tempdir().unwrap();
    let src = fixture("collator/bpe");
    std::fs::copy(src.join("tokenizer.json"), dir.path().join("tokenizer.json")).unwrap();
    std::fs::write(
        dir.path().join("tokenizer_config.json"),
        r#"{"pad_token": "[MASK]", "cls_token": {"content": "[CLS]", "special": true}, "model_max_length": 64}"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("special_tokens_map.json"), r#"{"pad_token": "[PAD]"}"#).unwrap();
    let tok = PretrainedTokenizer::from_pretrained(dir.path()).unwrap();
    assert_eq!(tok.pad_token_id(), Some(3));
    assert_eq!(tok.special_tokens().cls.as_ref().map(|t| t.id), Some(1));
    assert_eq!(tok.model_max_length(), Some(64));
}

#[test]
fn loading_errors_name_the_file_or_token() {
    let dir = tempfile::tempdir().unwrap();
    let err = PretrainedTokenizer::from_pretrained(dir.path()).unwrap_err();
    assert!(matches!(err, TokenizerError::TokenizerJson { .. }), "{err}");
    assert!(err.to_string().contains("tokenizer.json"), "{err}");
    let src = fixture("collator/bpe");
    std::fs::copy(src.join("tokenizer.json"), dir.path().join("tokenizer.json")).unwrap();
    std::fs::write(dir.path().join("tokenizer_config.json"), r#"{"pad_token": "<nope>"}"#).unwrap();
    let err = PretrainedTokenizer::from_pretrained(dir.path()).unwrap_err();
    assert!(
        matches!(&err, TokenizerError::UnknownSpecialToken { key: "pad_token", content } if content == "<nope>"),
        "{err}"
    );
    std::fs::write(dir.path().join("tokenizer_config.json"), "{").unwrap();
    let err = PretrainedTokenizer::from_pretrained(dir.path()).unwrap_err();
    assert!(matches!(err, TokenizerError::Json { .. }), "{err}");
    std::fs::write(
        dir.path().join("tokenizer_config.json"),
        r#"{"tokenizer_class": "LlamaTokenizerFast", "add_eos_token": true, "bos_token": "[CLS]"}"#,
    )
    .unwrap();
    let err = PretrainedTokenizer::from_pretrained(dir.path()).unwrap_err();
    assert!(
        matches!(
            err,
            TokenizerError::MissingBosEos {
                flag: "add_eos_token",
                ..
            }
        ),
        "{err}"
    );
}

/// The embedded demo's tokenizer and model config agree (vocab size and special ids).
#[test]
fn demo_tokenizer_matches_demo_config() {
    let dir = repo("data/demo/model");
    let tok = PretrainedTokenizer::from_pretrained(&dir).unwrap();
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["model_type"], "modernbert");
    assert_eq!(config["vocab_size"].as_u64(), Some(tok.vocab_size() as u64));
    let id = |t: &Option<provence_hub::SpecialToken>| t.as_ref().map(|t| u64::from(t.id));
    let special = tok.special_tokens();
    assert_eq!(config["pad_token_id"].as_u64(), id(&special.pad));
    assert_eq!(config["cls_token_id"].as_u64(), id(&special.cls));
    assert_eq!(config["sep_token_id"].as_u64(), id(&special.sep));
    let enc = tok.tokenizer().encode(("Where is it?", "It is here."), true).unwrap();
    let ids = enc.get_ids();
    let (cls, sep) = (id(&special.cls).unwrap() as u32, id(&special.sep).unwrap() as u32);
    assert_eq!(ids[0], cls);
    assert_eq!(ids[ids.len() - 1], sep);
    assert_eq!(ids.iter().filter(|&&i| i == sep).count(), 2);
    assert!(
        tok.vocab_size() > 1000 && tok.vocab_size() <= 2000,
        "{}",
        tok.vocab_size()
    );
}

/// Found by fuzzing (`fuzz/fuzz_targets/tokenizer_json.rs`): malformed `tokenizer.json` files
/// that made the tokenizers crate panic while loading (or, for the template, on the first
/// encoding); each is now a `TokenizerJson` error at load.
#[test]
fn malformed_tokenizer_json_is_an_error_not_a_panic() {
    let demo = demo("model");
    let text = std::fs::read_to_string(demo.join("tokenizer.json")).unwrap();
    let decoder = r#""decoder":{"type":"ByteLevel""#;
    let normalizer = r#""normalizer":{"type":"NFC"}"#;
    let cls = r#""[CLS]":{"id":"[CLS]","ids":[1],"tokens":["[CLS]"]},"#;
    assert!(text.contains(decoder) && text.contains(normalizer) && text.contains(cls));
    let broken = [
        // A control character in a string of the decoder (invalid JSON right there).
        ("decoder", text.replace(decoder, "\"decoder\":{\"type\":\"Byte\u{1}Level\"")),
        // A Precompiled normalizer (inside a Sequence) whose charsmap is not base64.
        (
            "normalizer",
            text.replace(
                normalizer,
                r#""normalizer":{"type":"Sequence","normalizers":[{"type":"Precompiled","precompiled_charsmap":"not base64!"}]}"#,
            ),
        ),
        // The templates insert [CLS], which the post-processor's special_tokens lack.
        ("post_processor", text.replace(cls, "")),
    ];
    for (what, json) in broken {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("tokenizer.json"), json).unwrap();
        let err = PretrainedTokenizer::from_pretrained(tmp.path()).unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, TokenizerError::TokenizerJson { .. }), "{what}: {message}");
        assert!(message.contains("tokenizer.json"), "{what}: {message}");
    }
}
