//! Storage `file`: the layout under `--output-dir`.
//!
//! ```text
//! DIR/taskrun-<uid>/statement.json                    the signed statement bytes
//! DIR/taskrun-<uid>/envelope.json                     the DSSE envelope
//! DIR/taskrun-<uid>/payload.json, signature            format `tekton`: the signed status and
//!                                                      the base64 raw signature
//! DIR/images/<repo>@sha256-<hex>/payload.json         simple-signing payload
//! DIR/images/<repo>@sha256-<hex>/signature            base64 signature
//! DIR/…/bundle.sigstore.json                          next to each of the above: a Sigstore
//!                                                      bundle v0.3 of the same signature, with
//!                                                      the log entry and timestamps when logged
//! ```
//! All files of a run are first written as hidden temporary files next to their targets, then
//! renamed into place, so a failed run leaves no file behind (and no half-written one).

use std::path::{Path, PathBuf};

use super::{Backend, Batch, Context, Place, Registration, StorageError};
use crate::signing::Signature;

pub struct FileBackend {
    dir: PathBuf,
}

pub const REGISTRATION: Registration = Registration {
    name: crate::config::StorageName::File,
    open: |ctx: &Context<'_>| match ctx.output_dir {
        Some(dir) => Ok(Box::new(FileBackend::new(dir))),
        None => Err(StorageError::Unavailable {
            backend: "file",
            message: "needs --output-dir (or CHAINLET_OUTPUT_DIR) to know where to write".into(),
        }),
    },
};

impl FileBackend {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory of an attestation: `taskrun-<uid>` or `pipelinerun-<uid>`.
    pub fn attestation_dir(&self, key: &str) -> PathBuf {
        self.dir.join(key)
    }

    /// The directory of an image signature. Image names are valid repository names, which
    /// may still contain `.`, `..` or empty components: those are refused rather than followed.
    pub fn image_dir(&self, image: &crate::subjects::ImageRef) -> Result<PathBuf, StorageError> {
        let name = image.repo_name();
        if name.split('/').any(str::is_empty) {
            return Err(StorageError::EmptyComponent(name));
        }
        if name.split('/').any(|c| c == "." || c == "..") {
            return Err(StorageError::UnsafeName(name));
        }
        Ok(self
            .dir
            .join("images")
            .join(format!("{name}@sha256-{}", image.digest_hex)))
    }
}

impl Backend for FileBackend {
    fn name(&self) -> &'static str {
        "file"
    }

    fn place(&self) -> Place {
        Place::Local
    }

    fn store(&self, batch: &Batch<'_>) -> Result<(), StorageError> {
        let mut files: Vec<(PathBuf, Vec<u8>)> = Vec::new();
        if let Some(att) = batch.attestation {
            let dir = self.attestation_dir(&att.key);
            let bundle = bundle(
                &att.signed,
                &att.statement,
                att.certificate.as_ref(),
                &att.public_key_der,
                att.log_entry.as_ref(),
                &dir,
            )?;
            files.push((dir.join(BUNDLE_FILE), bundle));
            match &att.signed {
                Signature::Dsse(envelope) => {
                    let envelope =
                        serde_json::to_vec(envelope).expect("serialising an envelope cannot fail");
                    files.push((dir.join("statement.json"), att.statement.clone()));
                    files.push((dir.join("envelope.json"), envelope));
                }
                Signature::Raw(sig) => {
                    let sig = crate::signing::base64(sig);
                    files.push((dir.join("payload.json"), att.statement.clone()));
                    files.push((dir.join("signature"), sig.into_bytes()));
                }
            }
        }
        for sig in &batch.images {
            let dir = self.image_dir(&sig.image)?;
            files.push((dir.join("payload.json"), sig.payload.clone()));
            files.push((dir.join("signature"), sig.signature.clone().into_bytes()));
            let raw = {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD
                    .decode(&sig.signature)
                    .map_err(|e| StorageError::File {
                        path: dir.join("signature"),
                        source: std::io::Error::other(format!("the signature is not base64: {e}")),
                    })?
            };
            let bundle = bundle(
                &Signature::Raw(raw),
                &sig.payload,
                sig.certificate.as_ref(),
                &sig.public_key_der,
                sig.log_entry.as_ref(),
                &dir,
            )?;
            files.push((dir.join(BUNDLE_FILE), bundle));
        }
        write_all_or_nothing(&files)
    }
}

/// The Sigstore bundle's file name, in each attestation's and image signature's folder.
pub const BUNDLE_FILE: &str = "bundle.sigstore.json";

/// A Sigstore bundle v0.3 for one signature: the certificate when the signer has one, else the
/// public key's hint; the log entry (v1 or v2) and its timestamps when the run logged.
fn bundle(
    signature: &Signature,
    payload: &[u8],
    certificate: Option<&crate::signing::Certificate>,
    public_key_der: &[u8],
    entry: Option<&crate::transparency::LogEntry>,
    dir: &Path,
) -> Result<Vec<u8>, StorageError> {
    use crate::transparency::bundle::{Signer, sigstore_bundle};
    let signer = match certificate {
        Some(c) => Signer::Certificate(c),
        None => Signer::PublicKey(public_key_der),
    };
    sigstore_bundle(signature, payload, signer, entry).map_err(|e| StorageError::File {
        path: dir.join(BUNDLE_FILE),
        source: std::io::Error::other(e),
    })
}

/// Writes every file to a temporary sibling (synced), then renames them all into place. A file
/// being replaced is first moved aside, so that if any step fails every target is restored,
/// the temporaries are removed and the directories this run created are removed again.
fn write_all_or_nothing(files: &[(PathBuf, Vec<u8>)]) -> Result<(), StorageError> {
    let mut seen = std::collections::BTreeSet::new();
    if let Some((dup, _)) = files.iter().find(|(t, _)| !seen.insert(t)) {
        return Err(StorageError::File {
            path: dup.clone(),
            source: std::io::Error::other("two artifacts would be written to this one file"),
        });
    }
    let mut tx = Transaction::default();
    let result = tx.run(files);
    if result.is_err() {
        tx.roll_back();
    } else {
        tx.commit();
    }
    result
}

/// The undo log of one run's writes.
#[derive(Default)]
struct Transaction {
    created_dirs: Vec<PathBuf>,
    temps: Vec<PathBuf>,
    /// (target, where the previous file was moved, if there was one)
    placed: Vec<(PathBuf, Option<PathBuf>)>,
}

impl Transaction {
    fn run(&mut self, files: &[(PathBuf, Vec<u8>)]) -> Result<(), StorageError> {
        let pid = std::process::id();
        let mut staged = Vec::new();
        for (target, bytes) in files {
            let err = |source| StorageError::File {
                path: target.clone(),
                source,
            };
            let parent = target.parent().expect("targets are inside the output dir");
            self.create_dirs(parent).map_err(err)?;
            let name = target.file_name().expect("targets have file names");
            let temp = parent.join(format!(".{}.tmp-{pid}", name.to_string_lossy()));
            self.temps.push(temp.clone());
            write_synced(&temp, bytes).map_err(err)?;
            staged.push((temp, target));
        }
        for (temp, target) in staged {
            let err = |source| StorageError::File {
                path: target.clone(),
                source,
            };
            if target.is_dir() {
                return Err(err(std::io::Error::other("is a directory")));
            }
            let backup = if target.exists() {
                let name = target.file_name().expect("targets have file names");
                let backup =
                    target.with_file_name(format!(".{}.old-{pid}", name.to_string_lossy()));
                std::fs::rename(target, &backup).map_err(err)?;
                Some(backup)
            } else {
                None
            };
            self.placed.push((target.clone(), backup));
            std::fs::rename(&temp, target).map_err(err)?;
            self.temps.retain(|t| t != &temp);
        }
        Ok(())
    }

    /// Creates `dir` and its missing parents, remembering which ones this run made.
    fn create_dirs(&mut self, dir: &Path) -> std::io::Result<()> {
        let mut missing = Vec::new();
        let mut d = dir;
        // A relative `--output-dir out` ends in the empty path, which is the working folder.
        while !d.as_os_str().is_empty() && !d.exists() {
            missing.push(d.to_owned());
            match d.parent() {
                Some(p) => d = p,
                None => break,
            }
        }
        for m in missing.into_iter().rev() {
            std::fs::create_dir(&m)?;
            self.created_dirs.push(m);
        }
        Ok(())
    }

    fn commit(self) {
        for (_, backup) in self.placed {
            if let Some(b) = backup {
                let _ = std::fs::remove_file(b);
            }
        }
    }

    fn roll_back(self) {
        for temp in &self.temps {
            let _ = std::fs::remove_file(temp);
        }
        for (target, backup) in self.placed.iter().rev() {
            let _ = std::fs::remove_file(target);
            if let Some(b) = backup {
                let _ = std::fs::rename(b, target);
            }
        }
        for dir in self.created_dirs.iter().rev() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut f = std::fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_restores_everything_and_removes_new_directories() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("out");
        std::fs::create_dir_all(out.join("a")).unwrap();
        std::fs::write(out.join("a/old"), "previous run").unwrap();
        // The second target's parent is a file, so creating it fails after the first was staged.
        std::fs::write(out.join("blocker"), "").unwrap();
        let files = vec![
            (out.join("a/old"), b"new".to_vec()),
            (out.join("b/c/new"), b"x".to_vec()),
            (out.join("blocker/x"), b"y".to_vec()),
        ];
        assert!(write_all_or_nothing(&files).is_err());
        assert_eq!(
            std::fs::read_to_string(out.join("a/old")).unwrap(),
            "previous run"
        );
        assert!(!out.join("b").exists());
        let mut left: Vec<_> = std::fs::read_dir(out.join("a"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        left.sort();
        assert_eq!(left, ["old"]);
    }

    #[test]
    fn a_failed_rename_rolls_back_the_files_already_placed() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("out");
        std::fs::create_dir_all(out.join("t/dir-in-the-way/x")).unwrap();
        let files = vec![
            (out.join("t/first"), b"1".to_vec()),
            // A directory where a file belongs fails the run after `first` was placed.
            (out.join("t/dir-in-the-way"), b"2".to_vec()),
        ];
        assert!(write_all_or_nothing(&files).is_err());
        assert!(!out.join("t/first").exists());
        let names: Vec<_> = std::fs::read_dir(out.join("t"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, ["dir-in-the-way"]);
    }

    #[test]
    fn every_signature_gets_a_sigstore_bundle_next_to_it_without_a_log_too() {
        use crate::storage::{Attestation, ImageSignature};
        let root = tempfile::tempdir().unwrap();
        let backend = FileBackend::new(root.path());
        let envelope: crate::signing::dsse::Envelope = serde_json::from_str(
            r#"{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"keyid":"","sig":"AQI="}]}"#,
        )
        .unwrap();
        let att = Attestation {
            key: "taskrun-u1".into(),
            images: Vec::new(),
            predicate_type: "",
            statement: b"{}".to_vec(),
            signed: Signature::Dsse(envelope),
            certificate: None,
            public_key_der: b"key".to_vec(),
            log_entry: None,
        };
        let image = ImageSignature {
            image: crate::subjects::ImageRef::parse(&format!(
                "r.example/team/app@sha256:{}",
                "ab".repeat(32)
            ))
            .unwrap(),
            payload: b"{}".to_vec(),
            signature: "c2ln".into(),
            certificate: None,
            public_key_der: b"key".to_vec(),
            log_entry: None,
            statement: None,
        };
        backend
            .store(&Batch {
                attestation: Some(&att),
                images: vec![&image],
            })
            .unwrap();
        let read = |p: PathBuf| -> serde_json::Value {
            serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
        };
        let b = read(root.path().join("taskrun-u1").join(BUNDLE_FILE));
        assert_eq!(b["dsseEnvelope"]["signatures"][0]["sig"], "AQI=");
        assert_eq!(
            b["verificationMaterial"]["tlogEntries"],
            serde_json::json!([])
        );
        let b = read(backend.image_dir(&image.image).unwrap().join(BUNDLE_FILE));
        assert_eq!(b["messageSignature"]["signature"], "c2ln");
        assert!(b["verificationMaterial"]["publicKey"]["hint"].is_string());
    }

    #[test]
    fn duplicate_targets_are_refused_before_anything_is_written() {
        let root = tempfile::tempdir().unwrap();
        let t = root.path().join("out/x");
        assert!(write_all_or_nothing(&[(t.clone(), vec![1]), (t.clone(), vec![2])]).is_err());
        assert!(!root.path().join("out").exists());
    }
}
