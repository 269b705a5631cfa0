//! Generates the embedded demo: a small synthetic-but-learnable context-relevance dataset in the
//! real Hub layout, a tiny ByteLevel BPE tokenizer trained on it and a tiny ModernBERT config.
//!
//! ```text
//! cargo run -p provence-datasets --example make_demo --release [-- OUT_DIR]
//! ```
//!
//! Output (default `data/demo/` at the workspace root), reproducible from a fixed seed:
//! * `dataset/{en,ja}/{train,validation,test}-00000-of-00001.parquet`: columns `id`, `query`,
//!   `texts`, `context_spans` (code-point spans of the stripped sentences), `labels` (`[1,0,...]`),
//!   `context_spans_relevance` (0/1 per span) and `teacher_scores.demo-teacher`.
//!   Each query asks for one attribute of a fictional place; the first passage holds the answer
//!   sentence (sometimes followed by a supporting sentence, also relevant), the others are hard
//!   negatives (same place, other attributes) or distractors (other places). Teacher scores
//!   correlate with relevance. English sentences are joined by a space or a newline, Japanese
//!   ones by nothing.
//! * `model/tokenizer.json` (+ `tokenizer_config.json`, `special_tokens_map.json`): ByteLevel BPE
//!   with ModernBERT's specials and pair template `[CLS] $A [SEP] $B [SEP]`.
//! * `model/config.json`: a tiny ModernBERT (hidden 64, 3 layers, 4 heads) with one label.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{Float64Builder, Int64Builder, ListBuilder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch, StringArray};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use serde_json::json;
use tokenizers::models::bpe::{BPE, BpeTrainerBuilder};
use tokenizers::normalizers::unicode::NFC;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{AddedToken, TokenizerBuilder};

/// Every error of this generator (the tokenizers crate's own error type).
type BoxError = Box<dyn std::error::Error + Send + Sync>;

const SEED: u64 = 20_251_126;
const TEACHER_COLUMN: &str = "teacher_scores.demo-teacher";
const PASSAGES_PER_ROW: usize = 4;
const SPLITS: [(&str, usize); 3] = [("train", 800), ("validation", 100), ("test", 100)];
/// ModernBERT's special tokens, given the first ids.
const SPECIALS: [&str; 5] = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"];
const VOCAB_SIZE: usize = 2000;
const MAX_LENGTH: usize = 512;

/// SplitMix64: tiny, fixed, reproducible across platforms.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Lang {
    En,
    Ja,
}

/// A fictional place and its attribute values.
struct Place {
    name: String,
    year: usize,
    people: usize,
    river: &'static str,
    famous: &'static str,
    climate: usize,
    food: &'static str,
    month: usize,
}

const ATTRIBUTES: usize = 7;

const EN_SYLLABLES: [&str; 16] = [
    "var", "ne", "holm", "bri", "sta", "dor", "mel", "ka", "ren", "tor", "lis", "vo", "gan", "wick", "sel", "mar",
];
const JA_SYLLABLES: [&str; 16] = [
    "カ", "リ", "ナ", "ト", "ベ", "ル", "モ", "ス", "タ", "ニ", "ア", "ロ", "ミ", "ド", "ヴァ", "ホ",
];
const RIVERS: [(&str, &str); 6] = [
    ("Amber", "琥珀"),
    ("Silver", "銀"),
    ("Willow", "柳"),
    ("Stone", "石"),
    ("Crane", "鶴"),
    ("Mist", "霧"),
];
const FAMOUS: [(&str, &str); 6] = [
    ("glass bells", "ガラスの鐘"),
    ("old stone bridges", "古い石橋"),
    ("painted boats", "彩色された舟"),
    ("wool blankets", "羊毛の毛布"),
    ("clock towers", "時計塔"),
    ("salt gardens", "塩の庭園"),
];
const CLIMATES: [(&str, &str, &str, &str); 4] = [
    ("mild", "short", "温暖な", "短い"),
    ("dry", "hot", "乾燥した", "暑い"),
    ("wet", "cool", "湿潤な", "涼しい"),
    ("windy", "bright", "風の強い", "明るい"),
];
const FOODS: [(&str, &str); 6] = [
    ("river fish soup", "川魚のスープ"),
    ("honey bread", "蜂蜜パン"),
    ("smoked cheese", "燻製チーズ"),
    ("barley stew", "大麦のシチュー"),
    ("plum cake", "梅のケーキ"),
    ("roasted chestnuts", "焼き栗"),
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

impl Place {
    fn random(rng: &mut Rng, lang: Lang) -> Self {
        let syllables = if lang == Lang::En { &EN_SYLLABLES } else { &JA_SYLLABLES };
        let parts = 2 + rng.below(2);
        let mut name: String = (0..parts).map(|_| *rng.pick(syllables)).collect();
        if lang == Lang::En {
            name = name[..1].to_uppercase() + &name[1..];
        }
        Self {
            name,
            year: 1100 + rng.below(800),
            people: (5 + rng.below(400)) * 100,
            river: if lang == Lang::En {
                rng.pick(&RIVERS).0
            } else {
                rng.pick(&RIVERS).1
            },
            famous: if lang == Lang::En {
                rng.pick(&FAMOUS).0
            } else {
                rng.pick(&FAMOUS).1
            },
            climate: rng.below(CLIMATES.len()),
            food: if lang == Lang::En {
                rng.pick(&FOODS).0
            } else {
                rng.pick(&FOODS).1
            },
            month: rng.below(12),
        }
    }

    /// The question asking for attribute `a`.
    fn query(&self, a: usize, lang: Lang) -> String {
        let e = &self.name;
        match (lang, a) {
            (Lang::En, 0) => format!("When was {e} founded?"),
            (Lang::En, 1) => format!("How many people live in {e}?"),
            (Lang::En, 2) => format!("Which river flows through {e}?"),
            (Lang::En, 3) => format!("What is {e} famous for?"),
            (Lang::En, 4) => format!("What is the weather like in {e}?"),
            (Lang::En, 5) => format!("What food is popular in {e}?"),
            (Lang::En, _) => format!("When is the festival of {e} held?"),
            (Lang::Ja, 0) => format!("{e}はいつ設立されましたか？"),
            (Lang::Ja, 1) => format!("{e}には何人住んでいますか？"),
            (Lang::Ja, 2) => format!("{e}を流れる川は何ですか？"),
            (Lang::Ja, 3) => format!("{e}は何で有名ですか？"),
            (Lang::Ja, 4) => format!("{e}の気候はどうですか？"),
            (Lang::Ja, 5) => format!("{e}で人気の料理は何ですか？"),
            (Lang::Ja, _) => format!("{e}の祭りはいつ開かれますか？"),
        }
    }

    /// The sentence stating attribute `a`.
    fn fact(&self, a: usize, lang: Lang) -> String {
        let e = &self.name;
        let (c_en, s_en, c_ja, s_ja) = CLIMATES[self.climate];
        match (lang, a) {
            (Lang::En, 0) => format!("{e} was founded in {} by fishermen.", self.year),
            (Lang::En, 1) => format!("About {} people live in {e} today.", self.people),
            (Lang::En, 2) => format!("The {} River flows through the center of {e}.", self.river),
            (Lang::En, 3) => format!("{e} is famous for its {}.", self.famous),
            (Lang::En, 4) => format!("{e} has a {c_en} climate with {s_en} summers."),
            (Lang::En, 5) => format!("The most popular dish in {e} is {}.", self.food),
            (Lang::En, _) => format!("The festival of {e} is held every {}.", MONTHS[self.month]),
            (Lang::Ja, 0) => format!("{e}は{}年に漁師たちによって設立された。", self.year),
            (Lang::Ja, 1) => format!("現在、{e}には約{}人が住んでいる。", self.people),
            (Lang::Ja, 2) => format!("{}川が{e}の中心を流れている。", self.river),
            (Lang::Ja, 3) => format!("{e}は{}で有名だ。", self.famous),
            (Lang::Ja, 4) => format!("{e}は{c_ja}気候で、夏は{s_ja}。"),
            (Lang::Ja, 5) => format!("{e}で最も人気の料理は{}だ。", self.food),
            (Lang::Ja, _) => format!("{e}の祭りは毎年{}月に開かれる。", self.month + 1),
        }
    }

    /// A sentence that supports the answer to attribute `a` (also relevant).
    fn support(&self, a: usize, lang: Lang) -> String {
        match (lang, a) {
            (Lang::En, 0) => "Its first houses were built near the harbour.".into(),
            (Lang::En, 1) => "The population has grown slowly over the last decade.".into(),
            (Lang::En, 2) => format!("Boats on the {} carry goods to the sea.", self.river),
            (Lang::En, 3) => "Visitors come from far away to see them.".into(),
            (Lang::En, 4) => "Winters there are usually calm.".into(),
            (Lang::En, 5) => "It is served at almost every family dinner.".into(),
            (Lang::En, _) => "The whole town dances in the streets that week.".into(),
            (Lang::Ja, 0) => "最初の家々は港の近くに建てられた。".into(),
            (Lang::Ja, 1) => "人口はこの十年でゆっくり増えている。".into(),
            (Lang::Ja, 2) => format!("{}川の舟は荷物を海へ運ぶ。", self.river),
            (Lang::Ja, 3) => "それを見に遠くから旅行者が訪れる。".into(),
            (Lang::Ja, 4) => "冬はたいてい穏やかだ。".into(),
            (Lang::Ja, 5) => "ほとんどの家庭の夕食に出される。".into(),
            (Lang::Ja, _) => "その週は町中の人が通りで踊る。".into(),
        }
    }
}

/// A passage built from sentences: its text, code-point spans and 0/1 relevance per span.
struct Passage {
    text: String,
    spans: Vec<[i64; 2]>,
    relevance: Vec<i64>,
}

impl Passage {
    fn join(sentences: &[(String, bool)], lang: Lang, rng: &mut Rng) -> Self {
        let mut text = String::new();
        let mut chars = 0i64;
        let mut spans = Vec::new();
        let mut relevance = Vec::new();
        for (k, (sentence, relevant)) in sentences.iter().enumerate() {
            if k > 0 && lang == Lang::En {
                text.push(if rng.chance(0.15) { '\n' } else { ' ' });
                chars += 1;
            }
            let n = sentence.chars().count() as i64;
            spans.push([chars, chars + n]);
            relevance.push(i64::from(*relevant));
            text.push_str(sentence);
            chars += n;
        }
        Self { text, spans, relevance }
    }
}

/// 2–4 filler facts of `place` (never attribute `skip`), in random order.
fn fillers(place: &Place, skip: usize, lang: Lang, rng: &mut Rng) -> Vec<(String, bool)> {
    let mut attrs: Vec<usize> = (0..ATTRIBUTES).filter(|&a| a != skip).collect();
    rng.shuffle(&mut attrs);
    attrs.truncate(2 + rng.below(3));
    attrs.into_iter().map(|a| (place.fact(a, lang), false)).collect()
}

/// One dataset row.
struct DemoRow {
    id: String,
    query: String,
    passages: Vec<Passage>,
    teacher: Vec<f64>,
}

fn make_row(id: String, lang: Lang, rng: &mut Rng) -> DemoRow {
    let place = Place::random(rng, lang);
    let attr = rng.below(ATTRIBUTES);
    let query = place.query(attr, lang);
    // Positive: the answer (plus, sometimes, its support) among fillers of the same place.
    let mut sentences = fillers(&place, attr, lang, rng);
    let at = rng.below(sentences.len() + 1);
    if rng.chance(0.4) {
        sentences.insert(at, (place.support(attr, lang), true));
    }
    sentences.insert(at, (place.fact(attr, lang), true));
    let mut passages = vec![Passage::join(&sentences, lang, rng)];
    let mut teacher = vec![0.80 + 0.19 * rng.unit()];
    for _ in 1..PASSAGES_PER_ROW {
        if rng.chance(0.5) {
            // Hard negative: same place, every attribute but the asked one.
            let sentences = fillers(&place, attr, lang, rng);
            passages.push(Passage::join(&sentences, lang, rng));
            teacher.push(0.15 + 0.35 * rng.unit());
        } else {
            // Distractor: another place, possibly stating the same attribute.
            let other = Place::random(rng, lang);
            let mut sentences = fillers(&other, attr, lang, rng);
            if rng.chance(0.5) {
                sentences.insert(0, (other.fact(attr, lang), false));
            }
            passages.push(Passage::join(&sentences, lang, rng));
            teacher.push(0.01 + 0.12 * rng.unit());
        }
    }
    DemoRow {
        id,
        query,
        passages,
        teacher,
    }
}

fn record_batch(rows: &[DemoRow]) -> Result<RecordBatch, BoxError> {
    let mut texts = ListBuilder::new(StringBuilder::new());
    let mut spans = ListBuilder::new(ListBuilder::new(ListBuilder::new(Int64Builder::new())));
    let mut labels = ListBuilder::new(Int64Builder::new());
    let mut relevance = ListBuilder::new(ListBuilder::new(Int64Builder::new()));
    let mut teacher = ListBuilder::new(Float64Builder::new());
    for row in rows {
        for (d, p) in row.passages.iter().enumerate() {
            texts.values().append_value(&p.text);
            let passage_spans = spans.values();
            for s in &p.spans {
                passage_spans.values().values().append_slice(s);
                passage_spans.values().append(true);
            }
            passage_spans.append(true);
            relevance.values().values().append_slice(&p.relevance);
            relevance.values().append(true);
            labels.values().append_value(i64::from(d == 0));
        }
        texts.append(true);
        spans.append(true);
        relevance.append(true);
        labels.append(true);
        teacher.values().append_slice(&row.teacher);
        teacher.append(true);
    }
    let ids: StringArray = rows.iter().map(|r| Some(r.id.as_str())).collect();
    let queries: StringArray = rows.iter().map(|r| Some(r.query.as_str())).collect();
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("id", Arc::new(ids)),
        ("query", Arc::new(queries)),
        ("texts", Arc::new(texts.finish())),
        ("context_spans", Arc::new(spans.finish())),
        ("labels", Arc::new(labels.finish())),
        ("context_spans_relevance", Arc::new(relevance.finish())),
        (TEACHER_COLUMN, Arc::new(teacher.finish())),
    ];
    Ok(RecordBatch::try_from_iter(columns)?)
}

fn write_parquet(path: &Path, rows: &[DemoRow]) -> Result<(), BoxError> {
    let batch = record_batch(rows)?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_created_by("open-provence-rs make_demo".into())
        .build();
    let mut writer = ArrowWriter::try_new(File::create(path)?, batch.schema(), Some(props))?;
    writer.write(&batch)?;
    writer.close()?;
    Ok(())
}

fn train_tokenizer(corpus: &[String], model_dir: &Path) -> Result<usize, BoxError> {
    let specials: Vec<AddedToken> = SPECIALS.iter().map(|s| AddedToken::from(*s, true)).collect();
    let mut trainer = BpeTrainerBuilder::new()
        .vocab_size(VOCAB_SIZE)
        .min_frequency(2)
        .show_progress(false)
        .special_tokens(specials)
        .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
        .build();
    let byte_level = ByteLevel::new(false, true, true);
    let post = TemplateProcessing::builder()
        .try_single("[CLS]:0 $A:0 [SEP]:0")?
        .try_pair("[CLS]:0 $A:0 [SEP]:0 $B:0 [SEP]:0")?
        .special_tokens(vec![("[CLS]", 1), ("[SEP]", 2)])
        .build()?;
    let mut tokenizer = TokenizerBuilder::new()
        .with_model(BPE::default())
        .with_normalizer(Some(NFC))
        .with_pre_tokenizer(Some(byte_level))
        .with_post_processor(Some(post))
        .with_decoder(Some(byte_level))
        .build()?;
    tokenizer.train(&mut trainer, corpus.iter())?;
    let tokenizer: tokenizers::Tokenizer = tokenizer.into();
    for (id, s) in SPECIALS.iter().enumerate() {
        if tokenizer.token_to_id(s) != Some(id as u32) {
            return Err(format!("special token {s} did not get id {id}").into());
        }
    }
    tokenizer.save(model_dir.join("tokenizer.json"), false)?;
    Ok(tokenizer.get_vocab_size(true))
}

fn write_json(path: &Path, value: &serde_json::Value) -> Result<(), BoxError> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    std::fs::write(path, text)?;
    Ok(())
}

/// The tokenizer configuration files and the backbone's `config.json` of the demo model.
fn write_model_files(model_dir: &Path, vocab: usize) -> Result<(), BoxError> {
    let added: serde_json::Map<String, serde_json::Value> = SPECIALS
        .iter()
        .enumerate()
        .map(|(id, s)| {
            (
                id.to_string(),
                json!({"content": s, "lstrip": false, "normalized": false, "rstrip": false,
                       "single_word": false, "special": true}),
            )
        })
        .collect();
    write_json(
        &model_dir.join("tokenizer_config.json"),
        &json!({
            "added_tokens_decoder": added,
            "clean_up_tokenization_spaces": true,
            "cls_token": "[CLS]",
            "extra_special_tokens": {},
            "mask_token": "[MASK]",
            "model_input_names": ["input_ids", "attention_mask"],
            "model_max_length": MAX_LENGTH,
            "pad_token": "[PAD]",
            "sep_token": "[SEP]",
            "tokenizer_class": "PreTrainedTokenizerFast",
            "unk_token": "[UNK]"
        }),
    )?;
    let token =
        |s: &str| json!({"content": s, "lstrip": false, "normalized": false, "rstrip": false, "single_word": false});
    write_json(
        &model_dir.join("special_tokens_map.json"),
        &json!({
            "cls_token": token("[CLS]"),
            "mask_token": token("[MASK]"),
            "pad_token": token("[PAD]"),
            "sep_token": token("[SEP]"),
            "unk_token": token("[UNK]")
        }),
    )?;
    write_backbone_config(model_dir, vocab)
}

/// A tiny ModernBERT sequence-classification config, as transformers writes it.
fn write_backbone_config(model_dir: &Path, vocab: usize) -> Result<(), BoxError> {
    write_json(
        &model_dir.join("config.json"),
        &json!({
            "architectures": ["ModernBertForSequenceClassification"],
            "attention_bias": false,
            "attention_dropout": 0.0,
            "bos_token_id": 1,
            "classifier_activation": "gelu",
            "classifier_bias": false,
            "classifier_dropout": 0.0,
            "classifier_pooling": "mean",
            "cls_token_id": 1,
            "decoder_bias": true,
            "deterministic_flash_attn": false,
            "embedding_dropout": 0.0,
            "eos_token_id": 2,
            "global_attn_every_n_layers": 3,
            "global_rope_theta": 160000.0,
            "hidden_activation": "gelu",
            "hidden_size": 64,
            "id2label": {"0": "LABEL_0"},
            "initializer_cutoff_factor": 2.0,
            "initializer_range": 0.02,
            "intermediate_size": 128,
            "label2id": {"LABEL_0": 0},
            "local_attention": 64,
            "local_rope_theta": 10000.0,
            "max_position_embeddings": MAX_LENGTH,
            "mlp_bias": false,
            "mlp_dropout": 0.0,
            "model_type": "modernbert",
            "norm_bias": false,
            "norm_eps": 1e-5,
            "num_attention_heads": 4,
            "num_hidden_layers": 3,
            "num_labels": 1,
            "pad_token_id": 3,
            "sep_token_id": 2,
            "sparse_pred_ignore_index": -100,
            "sparse_prediction": false,
            "tie_word_embeddings": true,
            "torch_dtype": "float32",
            "vocab_size": vocab
        }),
    )
}

fn main() -> Result<(), BoxError> {
    let out: PathBuf = std::env::args()
        .nth(1)
        .map_or_else(|| provence_test_support::demo(""), PathBuf::from);
    let mut corpus = Vec::new();
    for (subset, lang, stream) in [("en", Lang::En, 1u64), ("ja", Lang::Ja, 2u64)] {
        for (s, &(split, n)) in SPLITS.iter().enumerate() {
            let mut rng = Rng(SEED ^ (stream << 32) ^ (s as u64));
            let rows: Vec<DemoRow> = (0..n)
                .map(|i| make_row(format!("demo-{subset}:{split}:{i}"), lang, &mut rng))
                .collect();
            if split == "train" {
                for row in &rows {
                    corpus.push(row.query.clone());
                    corpus.extend(row.passages.iter().map(|p| p.text.clone()));
                }
            }
            let path = out.join(format!("dataset/{subset}/{split}-00000-of-00001.parquet"));
            write_parquet(&path, &rows)?;
            println!("wrote {} ({n} rows)", path.display());
        }
    }
    let model_dir = out.join("model");
    std::fs::create_dir_all(&model_dir)?;
    let vocab = train_tokenizer(&corpus, &model_dir)?;
    write_model_files(&model_dir, vocab)?;
    println!("wrote {} (vocab {vocab})", model_dir.display());
    let bert_dir = out.join("model-bert");
    write_bert_model(&model_dir, &bert_dir, vocab)?;
    println!("wrote {} (vocab {vocab})", bert_dir.display());
    Ok(())
}

/// The demo tokenizer with a tiny BERT config (for `configs/demo-bert.yaml`).
fn write_bert_model(model_dir: &Path, bert_dir: &Path, vocab: usize) -> Result<(), BoxError> {
    std::fs::create_dir_all(bert_dir)?;
    for file in ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"] {
        std::fs::copy(model_dir.join(file), bert_dir.join(file))?;
    }
    write_json(
        &bert_dir.join("config.json"),
        &json!({
            "architectures": ["BertForSequenceClassification"],
            "attention_probs_dropout_prob": 0.0,
            "classifier_dropout": null,
            "hidden_act": "gelu",
            "hidden_dropout_prob": 0.0,
            "hidden_size": 64,
            "id2label": {"0": "LABEL_0"},
            "initializer_range": 0.02,
            "intermediate_size": 128,
            "label2id": {"LABEL_0": 0},
            "layer_norm_eps": 1e-12,
            "max_position_embeddings": MAX_LENGTH,
            "model_type": "bert",
            "num_attention_heads": 4,
            "num_hidden_layers": 3,
            "pad_token_id": 3,
            "position_embedding_type": "absolute",
            "torch_dtype": "float32",
            "type_vocab_size": 2,
            "vocab_size": vocab
        }),
    )
}
