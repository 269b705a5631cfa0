//! `push`: a built dataset to a Hub dataset repository, laid out as `datasets`' `push_to_hub`
//! lays it out: the Hub parquet layout (`data/<split>-NNNNN-of-NNNNN.parquet`) and a `README.md`
//! dataset card whose YAML front matter carries the features, the rows per split and the
//! `configs` entry mapping each split to its files, above the card the stages wrote. The upload
//! is one commit through `provence-hub`'s upload client (the one model pushes use), which also
//! deletes the repository's data files of an earlier push that this one does not replace.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use provence_datasets::{
    DatasetTables, OutputLayout, SourceResolver, card_features_yaml, split_of_data_file, write_dataset,
};
use provence_hub::{CommitFile, FileSource, HubClient, HubError, HubOptions, RepoKind};

use crate::error::DataError;
use crate::output::{CARD_FILE, Card};

/// `datasets`' `push_to_hub` commit message.
pub const DEFAULT_PUSH_MESSAGE: &str = "Upload dataset";

/// What to push where.
#[derive(Debug, Clone)]
pub struct PushOptions {
    /// The dataset directory (a `save_to_disk` directory or the Hub parquet layout).
    pub dataset: PathBuf,
    /// `owner/name` (or a bare name in the token's namespace).
    pub repo_id: String,
    /// Visibility of a newly created repository (`None`: the Hub's default).
    pub private: Option<bool>,
    /// The commit message.
    pub commit_message: String,
    /// The command line, for a card written when the dataset has none.
    pub command: String,
    /// The Hub's endpoint, token and revision.
    pub hub: HubOptions,
}

/// What a push did.
#[derive(Debug, Clone)]
pub struct PushReport {
    /// The commit's page.
    pub url: String,
    /// The commit id.
    pub oid: String,
    /// Rows per split pushed.
    pub splits: Vec<(String, usize)>,
    /// Files committed (repository paths).
    pub files: Vec<String>,
    /// Data files of an earlier push deleted by this commit.
    pub deleted: Vec<String>,
}

/// Pushes the dataset at `options.dataset` to the dataset repository `options.repo_id`
/// (created when missing). Fails before reading anything without a token, and before sending
/// anything on a dataset that cannot be read or has no rows.
pub fn push(options: &PushOptions) -> Result<PushReport, DataError> {
    let repo = options.repo_id.as_str();
    if options.hub.token.is_none() {
        return Err(HubError::NoToken { repo: repo.to_owned() }.into());
    }
    let tables = read_local(&options.dataset)?;
    let staging = tempfile::Builder::new()
        .prefix("open-provence-push-")
        .tempdir()
        .map_err(|e| DataError::io(std::env::temp_dir(), e))?;
    let written = write_dataset(staging.path(), &tables, OutputLayout::HubParquet)?;
    let mut files: Vec<CommitFile> = written
        .iter()
        .map(|path| CommitFile {
            path_in_repo: path.clone(),
            source: FileSource::Path(staging.path().join(path)),
        })
        .collect();
    let card = hub_card(&tables, &written, staging.path(), &options.dataset, &options.command)?;
    files.push(CommitFile {
        path_in_repo: CARD_FILE.to_owned(),
        source: FileSource::Bytes(card.into_bytes()),
    });

    let client = HubClient::for_kind(options.hub.clone(), RepoKind::Dataset)?;
    client.create_repo(repo, options.private)?;
    let deleted = stale_data_files(&client.list_files(repo)?, &written);
    let info = client.create_commit(repo, &files, &deleted, &options.commit_message)?;
    tracing::info!(
        repo,
        files = files.len(),
        deleted = deleted.len(),
        commit = info.oid,
        "pushed"
    );
    Ok(PushReport {
        url: info.url,
        oid: info.oid,
        splits: tables.counts(),
        files: files.into_iter().map(|f| f.path_in_repo).collect(),
        deleted,
    })
}

/// Every split of the local dataset directory `dir`; an error if it is not a directory or has
/// no rows at all.
fn read_local(dir: &Path) -> Result<DatasetTables, DataError> {
    let label = dir.display().to_string();
    if !dir.is_dir() {
        let problem = if dir.exists() {
            "is a file, not a directory"
        } else {
            "does not exist"
        };
        return Err(HubError::LocalPath {
            kind: RepoKind::Dataset.name(),
            path: dir.to_owned(),
            problem,
        }
        .into());
    }
    let resolver = SourceResolver::local_only();
    let tables = resolver.load_tables(&resolver.resolve(&label, None)?)?;
    if tables.splits.iter().all(|s| s.batch.num_rows() == 0) {
        return Err(DataError::Empty {
            dataset: label,
            problem: "no rows in any split; nothing to push".to_owned(),
        });
    }
    Ok(tables)
}

/// The repository's data files (`<dir>/<split>-…parquet` under a directory this push writes
/// to) that this push does not overwrite: left in place they would join the splits' globs.
fn stale_data_files(existing: &[String], written: &[String]) -> Vec<String> {
    let dirs: BTreeSet<&str> = written.iter().filter_map(|p| Some(p.rsplit_once('/')?.0)).collect();
    existing
        .iter()
        .filter(|path| !written.contains(path))
        .filter(|path| {
            path.rsplit_once('/')
                .is_some_and(|(dir, file)| dirs.contains(dir) && split_of_data_file(file).is_some())
        })
        .cloned()
        .collect()
}

/// The Hub dataset card: YAML front matter (`dataset_info` with the features, rows per split and
/// download size; `configs` mapping each split to its files), then the dataset's own
/// `README.md` (the last stage's card, front matter removed), or a new one when it has none.
fn hub_card(
    tables: &DatasetTables,
    written: &[String],
    staging: &Path,
    dataset: &Path,
    command: &str,
) -> Result<String, DataError> {
    let first = &tables.splits[0];
    for split in &tables.splits[1..] {
        if split.batch.schema().fields() != first.batch.schema().fields() {
            tracing::warn!(
                split = split.name,
                "columns differ from split {}; the card lists {}'s",
                first.name,
                first.name
            );
        }
    }
    let mut yaml = String::from("---\ndataset_info:\n  features:\n");
    yaml += &card_features_yaml(first.batch.schema_ref(), 2)?;
    yaml += "  splits:\n";
    for (name, rows) in tables.counts() {
        yaml += &format!("  - name: {}\n    num_examples: {rows}\n", quoted(&name));
    }
    let mut download_size = 0;
    for path in written {
        let file = staging.join(path);
        download_size += std::fs::metadata(&file).map_err(|e| DataError::io(file, e))?.len();
    }
    yaml += &format!("  download_size: {download_size}\nconfigs:\n- config_name: default\n  data_files:\n");
    for split in &tables.splits {
        let Some(dir) = written.iter().find_map(|path| {
            let (dir, file) = path.rsplit_once('/')?;
            (split_of_data_file(file)? == split.name).then_some(dir)
        }) else {
            continue;
        };
        yaml += &format!(
            "  - split: {}\n    path: {}\n",
            quoted(&split.name),
            quoted(&format!("{dir}/{}-*", split.name))
        );
    }
    yaml += "tags:\n- open-provence\n- context-relevance\n---\n\n";
    let own = dataset.join(CARD_FILE);
    let body = match std::fs::read_to_string(&own) {
        Ok(text) => without_front_matter(&text).to_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Card {
            stage: "push",
            command,
            summary: String::new(),
        }
        .render(tables),
        Err(e) => return Err(DataError::io(own, e)),
    };
    Ok(yaml + &body)
}

/// `text` without a leading `---` … `---` YAML block.
fn without_front_matter(text: &str) -> &str {
    text.strip_prefix("---\n")
        .and_then(|rest| rest.split_once("\n---\n"))
        .map_or(text, |(_, body)| body.trim_start_matches('\n'))
}

/// A YAML double-quoted scalar (JSON string escaping is valid YAML).
fn quoted(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_files_are_earlier_shards_in_the_directories_written() {
        let existing: Vec<String> = [
            "README.md",
            "data/train-00000-of-00002.parquet",
            "data/train-00001-of-00002.parquet",
            "data/test-00000-of-00001.parquet",
            "data/notes.txt",
            "other/train-00000-of-00001.parquet",
        ]
        .map(str::to_owned)
        .to_vec();
        let written = vec![
            "data/train-00000-of-00001.parquet".to_owned(),
            "data/test-00000-of-00001.parquet".to_owned(),
        ];
        assert_eq!(
            stale_data_files(&existing, &written),
            vec!["data/train-00000-of-00002.parquet", "data/train-00001-of-00002.parquet"]
        );
    }

    #[test]
    fn front_matter_is_removed_once() {
        assert_eq!(without_front_matter("---\na: 1\n---\n\n# Card\n---\n"), "# Card\n---\n");
        assert_eq!(without_front_matter("# Card\n"), "# Card\n");
    }
}
