//! Every recipe under `tests/bad_configs/` must be rejected with an error that names the key and
//! the line given in its `# expect: <key> @ <line>` header.

use provence_config::TrainConfig;
use std::path::{Path, PathBuf};

fn corpus() -> Vec<PathBuf> {
    let dir = provence_test_support::repo("crates/config/tests/bad_configs");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

fn expectation(path: &Path) -> (String, u64) {
    let text = std::fs::read_to_string(path).unwrap();
    let header = text.lines().next().unwrap();
    let spec = header
        .strip_prefix("# expect: ")
        .unwrap_or_else(|| panic!("{}: no expect header", path.display()));
    let (key, line) = spec.rsplit_once(" @ ").unwrap();
    (key.to_string(), line.parse().unwrap())
}

#[test]
fn corpus_is_large_enough() {
    assert!(corpus().len() >= 15, "the issue asks for at least 15 bad recipes");
}

#[test]
fn every_bad_recipe_names_its_key_and_line() {
    for path in corpus() {
        let (key, line) = expectation(&path);
        let error = TrainConfig::load(&path)
            .and_then(|c| c.validate())
            .expect_err(&path.display().to_string());
        let message = error.to_string();
        assert!(
            !message.contains('\n'),
            "{}: error spans several lines: {message}",
            path.display()
        );
        assert!(
            message.contains(&key),
            "{}: expected key {key:?} in {message:?}",
            path.display()
        );
        assert!(
            message.contains(&format!("line {line}")),
            "{}: expected line {line} in {message:?}",
            path.display()
        );
        assert!(
            message.starts_with(&path.display().to_string()),
            "{}: {message}",
            path.display()
        );
    }
}

#[test]
fn missing_file_and_wrong_extension_are_errors() {
    let missing = TrainConfig::load(Path::new("/nonexistent/recipe.yaml")).unwrap_err();
    assert!(missing.to_string().contains("cannot read the recipe"), "{missing}");
    let json = TrainConfig::load(Path::new("recipe.json")).unwrap_err();
    assert!(json.to_string().contains("JSON recipes are not supported"), "{json}");
}

/// A recipe without any setting (an empty file, only comments, a bare `null`) is refused as
/// empty instead of running with every default (and failing later on a dataset nobody named).
#[test]
fn empty_recipes_are_refused_as_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let texts = [
        ("empty.yaml", ""),
        ("blank.yaml", "\n  \n\n"),
        ("comments.yaml", "# model_args:\n#   model_name_or_path: x\n"),
        ("null.yaml", "null\n"),
        ("tilde.yaml", "~\n"),
        ("document.yaml", "---\n...\n"),
        ("empty_mapping.yaml", "{}\n"),
    ];
    for (name, text) in texts {
        let path = tmp.path().join(name);
        std::fs::write(&path, text).unwrap();
        let error = TrainConfig::load(&path).expect_err(name).to_string();
        assert!(error.contains("the recipe is empty"), "{name}: {error}");
        assert!(error.starts_with(&path.display().to_string()), "{name}: {error}");
    }
    let error = TrainConfig::parse("# nothing\n", None).unwrap_err().to_string();
    assert!(error.contains("the recipe is empty"), "{error}");
}
