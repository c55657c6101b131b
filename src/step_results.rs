//! The step results chainlet writes for the steps after it (`--write-result`): the signed
//! payload's digest, the subjects, and the transparency log entry (index and UUID).

use std::path::{Path, PathBuf};

use crate::Failure;
use crate::storage::Attestation;
use crate::subjects::Artifact;
use crate::transparency::LogEntry;

/// The results chainlet can write.
pub const NAMES: &[&str] = &["statement-digest", "subjects", "log-index", "log-uuid"];

/// The results `--write-result` asks for, checked before any work.
pub fn parse(specs: &[String]) -> Result<Vec<(String, PathBuf)>, Failure> {
    specs
        .iter()
        .filter(|s| !s.is_empty())
        .map(|s| {
            let (name, path) = s.split_once('=').ok_or_else(|| {
                Failure::usage(format!("--write-result {s:?}: expected NAME=PATH"))
            })?;
            if !NAMES.contains(&name) {
                return Err(Failure::usage(format!(
                    "--write-result {s:?}: unknown result {name:?} ({})",
                    NAMES.join(", ")
                )));
            }
            if path.is_empty() {
                return Err(Failure::usage(format!("--write-result {s:?}: empty path")));
            }
            let path = PathBuf::from(path);
            // Checked now, so that a result that cannot be written fails the run before
            // anything is stored anywhere.
            let folder = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            if !folder.is_dir() {
                return Err(Failure::run(format!(
                    "--write-result {name}={}: the folder {} does not exist",
                    path.display(),
                    folder.display()
                )));
            }
            if path.is_dir() {
                return Err(Failure::run(format!(
                    "--write-result {name}={}: is a directory",
                    path.display()
                )));
            }
            Ok((name.to_owned(), path))
        })
        .collect()
}

/// Writes the step results: the signed payload's digest (empty without an attestation), the
/// subjects as a JSON array of `name@alg:hex`, and the log entry's index and UUID (empty when
/// nothing was logged). `entry` is the attestation's entry, or without one the first image
/// signature's.
pub fn write(
    wanted: &[(String, PathBuf)],
    attestation: Option<&Attestation>,
    entry: Option<&LogEntry>,
    subjects: &[Artifact],
) -> Result<(), Failure> {
    for (name, path) in wanted {
        let value = match name.as_str() {
            "statement-digest" => attestation
                .map(|a| crate::registry::sha256_digest(&a.statement))
                .unwrap_or_default(),
            "log-index" => entry.map(|e| e.log_index.to_string()).unwrap_or_default(),
            "log-uuid" => entry.map(|e| e.uuid.clone()).unwrap_or_default(),
            _ => {
                let list: Vec<String> = subjects
                    .iter()
                    .flat_map(|s| {
                        s.digest
                            .iter()
                            .map(move |(alg, hex)| format!("{}@{alg}:{hex}", s.name))
                    })
                    .collect();
                serde_json::to_string(&list).expect("strings serialise")
            }
        };
        std::fs::write(path, value)
            .map_err(|e| Failure::run(format!("--write-result {name}={}: {e}", path.display())))?;
    }
    Ok(())
}
