//! Storage backends, named as in Chains' config (`oci`, `tekton`, …) plus chainlet's `file`.
//!
//! Everything is signed before anything is stored, so a signing failure stores nothing. Each
//! backend receives the whole signed run at once: `file` stores it all or nothing; `oci`
//! uploads every blob and checks every tag before the first manifest PUT.

pub mod file;
pub mod oci;
pub mod tekton;

use crate::signing::dsse::Envelope;
use crate::subjects::ImageRef;

/// A signed TaskRun attestation.
#[derive(Debug, Clone)]
pub struct Attestation {
    /// Chains' short key: `taskrun-<uid>` or `pipelinerun-<uid>` (annotation suffix, folder).
    pub key: String,
    /// The statement's subjects that are images: where storage `oci` puts the attestation.
    pub images: Vec<ImageRef>,
    pub predicate_type: &'static str,
    /// The payload, exactly the signed bytes: the in-toto statement, or for format `tekton`
    /// the TaskRun status.
    pub statement: Vec<u8>,
    pub signed: Signed,
}

/// How the payload was signed.
#[derive(Debug, Clone)]
pub enum Signed {
    /// In a DSSE envelope (every in-toto format).
    Dsse(Envelope),
    /// A raw signature over the payload bytes (format `tekton`, as Chains' old format was).
    Raw(Vec<u8>),
}

impl Attestation {
    /// The DSSE envelope, for backends that store only envelopes (`oci`).
    pub fn envelope(&self) -> Option<&Envelope> {
        match &self.signed {
            Signed::Dsse(e) => Some(e),
            Signed::Raw(_) => None,
        }
    }
}

/// A signed image (simple signing).
#[derive(Debug, Clone)]
pub struct ImageSignature {
    pub image: ImageRef,
    pub payload: Vec<u8>,
    /// Standard base64 of the signature over `payload`.
    pub signature: String,
}

/// What one backend is asked to store: the parts whose artifact type lists it.
#[derive(Debug, Default)]
pub struct Batch<'a> {
    pub attestation: Option<&'a Attestation>,
    pub images: Vec<&'a ImageSignature>,
}

/// A place signed artifacts go.
pub trait Backend {
    /// The config value naming this backend.
    fn name(&self) -> &'static str;
    /// Stores everything in the batch, failing before any visible change where it can.
    fn store(&self, batch: &Batch<'_>) -> Result<(), StorageError>;

    /// Called while the key is being loaded, with the images that will get signatures and
    /// attestations: a chance to read what `store` will build on. Failures are ignored here;
    /// `store` meets them again.
    fn warm_up(&self, _signed: &[ImageRef], _attested: &[ImageRef]) {}

    /// Called after signing and before any backend stores: a last check that storing can
    /// work (`tekton` sends its patch as a dry run), so a refusal leaves nothing written.
    fn preflight(&self) -> Result<(), StorageError> {
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error(
        "storage file: image {0:?} has a '.' or '..' path component; refusing to write outside the output directory"
    )]
    UnsafeName(String),
    #[error("storage oci: {0}")]
    Registry(#[from] crate::registry::RegistryError),
    /// An error met earlier (while warming up), as its message.
    #[error("{0}")]
    Failed(String),
    #[error("storage oci: {repo}: {source}")]
    Layout {
        repo: String,
        source: crate::registry::layout::LayoutError,
    },
    #[error(
        "storage oci: {target}: other writers kept replacing the tag; gave up after {attempts} attempts"
    )]
    Lost { target: String, attempts: u32 },
    #[error("storage tekton: {0}")]
    Tekton(String),
    #[error("storage file: {path}: {source}")]
    File {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}
