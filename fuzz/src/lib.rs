//! Shared pieces of the fuzz targets (`fuzz_targets/*.rs`): the repository's fixtures, scratch
//! directories, the tiny model the model-running targets load once, and a `process()` call
//! drawn from the fuzz input. Run the targets with `scripts/fuzz.sh`; docs/architecture.md
//! ("Fuzzing") says how to add one.

use libfuzzer_sys::arbitrary::{self, Unstructured};
use provence_infer::{Document, ProcessInput, ProcessOptions, Pruner, SplitterLanguage, Title};
use provence_model::OpenProvenceModel;
use std::fmt::Display;
use std::path::{Path, PathBuf};

/// The CPU backend the targets run models on.
pub type B = burn::backend::Flex;

/// Inputs longer than this are skipped by the targets that run the model: a longer input is no
/// new boundary, only more tokens, and keeps the search from moving.
pub const MAX_MODEL_INPUT: usize = 4096;

/// `relative` inside the repository.
pub fn repo(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(relative)
}

/// The tiny ModernBERT of the `process()` fixtures, with its tokenizer files.
pub fn tiny_model_dir() -> PathBuf {
    repo("tests/fixtures/process/model")
}

/// The result of harness set-up (fixtures, scratch files): a failure there is the harness's,
/// not a finding, and stops the run with `what`.
pub fn setup<T, E: Display>(result: Result<T, E>, what: &str) -> T {
    match result {
        Ok(value) => value,
        Err(e) => panic!("fuzz harness set-up failed: {what}: {e}"),
    }
}

/// A fresh scratch directory (under `$TMPDIR`, which `scripts/fuzz.sh` points at its work
/// folder) holding copies of `files` of `from`; it outlives the process (libFuzzer exits without
/// running destructors).
pub fn scratch_dir(from: &Path, files: &[&str]) -> PathBuf {
    let dir = setup(
        tempfile::Builder::new().prefix("provence-fuzz").tempdir(),
        "scratch dir",
    )
    .keep();
    for file in files {
        setup(std::fs::copy(from.join(file), dir.join(file)), file);
    }
    dir
}

/// Lets the libraries catch the panics of their dependencies, as provence-datasets catches the
/// parquet crate's on corrupt pages: libfuzzer-sys's panic hook aborts on every panic, caught or
/// not; the default hook only prints. A panic that reaches the target still aborts the run (its
/// entry point checks), so it is still a finding. Called once, from a target's set-up.
pub fn allow_caught_panics() {
    drop(std::panic::take_hook());
}

/// Writes one fuzz input as `path`.
pub fn write_input(path: &Path, data: &[u8]) {
    setup(std::fs::write(path, data), "writing the input file");
}

/// A bad input's error: it must say something (its `Display` is what a user reads).
pub fn check_error(error: &dyn Display) {
    assert!(!error.to_string().trim().is_empty(), "an error with an empty message");
}

/// Writes `data` as `file` of model directory `dir` and loads the model from it: a model, or an
/// error that says something.
pub fn load_model_dir_with(dir: &Path, file: &str, data: &[u8]) {
    write_input(&dir.join(file), data);
    if let Err(e) = OpenProvenceModel::<B>::load(dir, &Default::default()) {
        check_error(&e);
    }
}

/// The pruner over [`tiny_model_dir`].
pub fn tiny_pruner() -> Pruner<B> {
    setup(
        Pruner::load(&tiny_model_dir(), Default::default()),
        "loading the tiny model",
    )
}

/// A `process()` call drawn from the fuzz input: any input shape (pair, documents, aligned,
/// nested; texts or caller-split sentences, lists of any length, ragged ones included), titles
/// of every kind, and every option (any float threshold; batch sizes kept small).
pub fn process_call(u: &mut Unstructured<'_>) -> arbitrary::Result<(ProcessInput, ProcessOptions)> {
    let input = process_input(u)?;
    let options = ProcessOptions {
        title: title(u)?,
        first_line_as_title: u.arbitrary()?,
        batch_size: u.int_in_range(0..=4)?,
        max_batch_tokens: u.int_in_range(0..=2048)?,
        threshold: u.arbitrary()?,
        always_select_title: u.arbitrary()?,
        reorder: u.arbitrary()?,
        top_k: u.arbitrary::<Option<u8>>()?.map(usize::from),
        language: *u.choose(&[SplitterLanguage::Auto, SplitterLanguage::En, SplitterLanguage::Ja])?,
        use_best_reranker_score: u.arbitrary()?,
        zero_score_when_empty: u.arbitrary()?,
        strip_sentences: u.arbitrary()?,
        respect_sentence_boundaries: u.arbitrary()?,
        return_sentence_metrics: u.arbitrary()?,
        return_sentence_texts: u.arbitrary()?,
        legacy_prefix_offset: u.arbitrary()?,
        legacy_full_query: u.arbitrary()?,
        ..ProcessOptions::default()
    };
    Ok((input, options))
}

/// Up to three items drawn by `item`.
fn few<T>(
    u: &mut Unstructured<'_>,
    mut item: impl FnMut(&mut Unstructured<'_>) -> arbitrary::Result<T>,
) -> arbitrary::Result<Vec<T>> {
    let n = u.int_in_range(0..=3)?;
    (0..n).map(|_| item(u)).collect()
}

fn strings(u: &mut Unstructured<'_>) -> arbitrary::Result<Vec<String>> {
    few(u, |u| u.arbitrary())
}

fn documents(u: &mut Unstructured<'_>) -> arbitrary::Result<Vec<Document>> {
    few(u, |u| {
        Ok(if u.arbitrary()? {
            Document::Text(u.arbitrary()?)
        } else {
            Document::Sentences(strings(u)?)
        })
    })
}

fn process_input(u: &mut Unstructured<'_>) -> arbitrary::Result<ProcessInput> {
    Ok(match u.int_in_range(0..=3)? {
        0 => ProcessInput::Pair {
            question: u.arbitrary()?,
            context: u.arbitrary()?,
        },
        1 => ProcessInput::Documents {
            question: u.arbitrary()?,
            documents: documents(u)?,
        },
        2 => ProcessInput::Aligned {
            questions: strings(u)?,
            documents: documents(u)?,
        },
        _ => ProcessInput::Nested {
            questions: strings(u)?,
            documents: few(u, documents)?,
        },
    })
}

fn title(u: &mut Unstructured<'_>) -> arbitrary::Result<Title> {
    Ok(match u.int_in_range(0..=4)? {
        0 => Title::None,
        1 => Title::FirstSentence,
        2 => Title::Fixed(u.arbitrary()?),
        3 => Title::PerQuery(strings(u)?),
        _ => Title::PerDocument(few(u, strings)?),
    })
}
