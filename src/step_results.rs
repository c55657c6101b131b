//! The step results chainlet writes for the steps after it (`--write-result`): the signed
//! payload's digest, the subjects and images, and the transparency log entry (index and UUID).
//!
//! Tekton keeps a TaskRun's results in the termination message, 4 KiB for all of them by
//! default, and fails the step that writes more. Workspace subjects easily go past that, so a
//! list result holds at most [`MAX_LIST_BYTES`] of whole entries, with a warning naming how
//! many were left out: the signed statement is the complete list.

use std::path::{Path, PathBuf};

use crate::Failure;
use crate::storage::Attestation;
use crate::subjects::{Artifact, ImageRef};
use crate::transparency::LogEntry;

/// The results chainlet can write.
pub const NAMES: &[&str] = &[
    "statement-digest",
    "subjects",
    "images",
    "log-index",
    "log-uuid",
];

/// The most a list result (`subjects`, `images`) holds, in bytes of JSON: half of Tekton's
/// default 4 KiB, leaving room for the other results.
pub const MAX_LIST_BYTES: usize = 2048;

/// The JSON array of `items`, as many whole entries as fit in [`MAX_LIST_BYTES`], and how many
/// were left out.
pub fn bounded_list(items: &[String]) -> (String, usize) {
    let mut kept: Vec<&String> = Vec::new();
    let mut size = 2; // the brackets
    for item in items {
        let more = serde_json::to_string(item)
            .expect("strings serialise")
            .len()
            + usize::from(!kept.is_empty());
        if size + more > MAX_LIST_BYTES {
            break;
        }
        size += more;
        kept.push(item);
    }
    let json = serde_json::to_string(&kept).expect("strings serialise");
    (json, items.len() - kept.len())
}

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
/// subjects as a JSON array of `name@alg:hex`, the images that got a signature or the
/// attestation as a JSON array of `repo@sha256:hex` (what `chainlet verify` takes), and the log
/// entry's index and UUID (empty when nothing was logged). `entry` is the attestation's entry,
/// or without one the first image signature's.
pub fn write(
    wanted: &[(String, PathBuf)],
    attestation: Option<&Attestation>,
    entry: Option<&LogEntry>,
    subjects: &[Artifact],
    images: &[ImageRef],
) -> Result<(), Failure> {
    for (name, path) in wanted {
        let value = match name.as_str() {
            "statement-digest" => attestation
                .map(|a| crate::registry::sha256_digest(&a.statement))
                .unwrap_or_default(),
            "log-index" => entry.map(|e| e.log_index.to_string()).unwrap_or_default(),
            "log-uuid" => entry.map(|e| e.uuid.clone()).unwrap_or_default(),
            list => {
                let items: Vec<String> = if list == "images" {
                    images.iter().map(ToString::to_string).collect()
                } else {
                    subjects
                        .iter()
                        .flat_map(|s| {
                            s.digest
                                .iter()
                                .map(move |(alg, hex)| format!("{}@{alg}:{hex}", s.name))
                        })
                        .collect()
                };
                let (json, left_out) = bounded_list(&items);
                if left_out > 0 {
                    tracing::warn!(
                        "result {list}: {} of {} entries left out, past {MAX_LIST_BYTES} bytes \
                         (Tekton's result size limit); the statement names every subject",
                        left_out,
                        items.len()
                    );
                }
                json
            }
        };
        std::fs::write(path, value)
            .map_err(|e| Failure::run(format!("--write-result {name}={}: {e}", path.display())))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_keeps_whole_entries_within_the_limit() {
        let few = vec!["a@sha256:1".to_owned(), "b@sha256:2".to_owned()];
        assert_eq!(
            bounded_list(&few),
            (r#"["a@sha256:1","b@sha256:2"]"#.to_owned(), 0)
        );
        let many: Vec<String> = (0..500).map(|i| format!("dist/file-{i:03}.bin")).collect();
        let (json, left_out) = bounded_list(&many);
        assert!(json.len() <= MAX_LIST_BYTES && json.len() > MAX_LIST_BYTES - 30);
        let kept: Vec<String> = serde_json::from_str(&json).unwrap();
        assert_eq!(kept[..], many[..kept.len()]);
        assert_eq!(kept.len() + left_out, 500);
        assert_eq!(bounded_list(&[]), ("[]".to_owned(), 0));
    }
}
