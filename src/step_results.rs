//! The step results chainlet writes for the steps after it (`--write-result`): the signed
//! payload's digest and the subjects.

use std::path::{Path, PathBuf};

use crate::Failure;
use crate::storage::Attestation;
use crate::subjects::Artifact;

/// The results `--write-result` asks for, checked before any work.
pub fn parse(specs: &[String]) -> Result<Vec<(String, PathBuf)>, Failure> {
    specs
        .iter()
        .filter(|s| !s.is_empty())
        .map(|s| {
            let (name, path) = s.split_once('=').ok_or_else(|| {
                Failure::usage(format!("--write-result {s:?}: expected NAME=PATH"))
            })?;
            if !matches!(name, "statement-digest" | "subjects") {
                return Err(Failure::usage(format!(
                    "--write-result {s:?}: unknown result {name:?} (statement-digest, subjects)"
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

/// Writes the step results: the signed payload's digest (empty without an attestation) and
/// the subjects as a JSON array of `name@alg:hex`.
pub fn write(
    wanted: &[(String, PathBuf)],
    attestation: Option<&Attestation>,
    subjects: &[Artifact],
) -> Result<(), Failure> {
    for (name, path) in wanted {
        let value = match name.as_str() {
            "statement-digest" => attestation
                .map(|a| crate::registry::sha256_digest(&a.statement))
                .unwrap_or_default(),
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
