//! Storage `file`: the layout under `--output-dir`.
//!
//! ```text
//! DIR/taskrun-<uid>/statement.json                    the signed statement bytes
//! DIR/taskrun-<uid>/envelope.json                     the DSSE envelope
//! DIR/images/<repo>@sha256-<hex>/payload.json         simple-signing payload
//! DIR/images/<repo>@sha256-<hex>/signature            base64 signature
//! ```
//! All files of a run are first written as hidden temporary files next to their targets, then
//! renamed into place, so a failed run leaves no file behind (and no half-written one).

use std::path::{Path, PathBuf};

use super::{Backend, Batch, StorageError};

pub struct FileBackend {
    dir: PathBuf,
}

impl FileBackend {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory of an attestation.
    pub fn taskrun_dir(&self, uid: &str) -> PathBuf {
        self.dir.join(format!("taskrun-{uid}"))
    }

    /// The directory of an image signature.
    pub fn image_dir(&self, image: &crate::subjects::ImageRef) -> PathBuf {
        self.dir
            .join("images")
            .join(format!("{}@sha256-{}", image.repo_name(), image.digest_hex))
    }
}

impl Backend for FileBackend {
    fn name(&self) -> &'static str {
        "file"
    }

    fn store(&self, batch: &Batch<'_>) -> Result<(), StorageError> {
        let mut files: Vec<(PathBuf, Vec<u8>)> = Vec::new();
        if let Some(att) = batch.attestation {
            let dir = self.taskrun_dir(&att.taskrun_uid);
            let envelope =
                serde_json::to_vec(&att.envelope).expect("serialising an envelope cannot fail");
            files.push((dir.join("statement.json"), att.statement.clone()));
            files.push((dir.join("envelope.json"), envelope));
        }
        for sig in &batch.images {
            let dir = self.image_dir(&sig.image);
            files.push((dir.join("payload.json"), sig.payload.clone()));
            files.push((dir.join("signature"), sig.signature.clone().into_bytes()));
        }
        write_all_or_nothing(&files)
    }
}

/// Writes every file to a temporary sibling, then renames them all into place. On failure the
/// temporaries are removed and no target is touched.
fn write_all_or_nothing(files: &[(PathBuf, Vec<u8>)]) -> Result<(), StorageError> {
    let mut temps: Vec<(PathBuf, &Path)> = Vec::new();
    let result = (|| {
        for (target, bytes) in files {
            let err = |source| StorageError::File {
                path: target.clone(),
                source,
            };
            let parent = target.parent().expect("targets are inside the output dir");
            std::fs::create_dir_all(parent).map_err(err)?;
            let name = target
                .file_name()
                .expect("targets have file names")
                .to_string_lossy();
            let temp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
            std::fs::write(&temp, bytes).map_err(err)?;
            temps.push((temp, target));
        }
        for (temp, target) in &temps {
            std::fs::rename(temp, target).map_err(|source| StorageError::File {
                path: target.to_path_buf(),
                source,
            })?;
        }
        Ok(())
    })();
    if result.is_err() {
        for (temp, _) in &temps {
            let _ = std::fs::remove_file(temp);
        }
    }
    result
}
