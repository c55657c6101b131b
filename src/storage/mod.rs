//! Storage backends, named as in Chains' config (`oci`, `tekton`, …) plus chainlet's `file`.
//!
//! Everything is signed (and logged) before anything is stored, so a signing failure stores
//! nothing. Each backend receives the whole signed run at once: `file` stores it all or
//! nothing; `oci` uploads every blob and checks every tag before the first manifest PUT.
//!
//! Backends are opened by the names users write in `artifacts.*.storage`, through
//! [`BACKENDS`]. To add one: implement [`Backend`] in `storage/<name>.rs` with an `open`
//! function taking the [`Context`], add one [`Registration`] line to [`BACKENDS`], and mark
//! the value as implemented in `config/keys.rs`. A backend says where it runs in the order
//! ([`Backend::place`]); nothing else needs to know about it.

pub mod archivista;
pub mod docdb;
pub mod file;
pub mod gcs;
pub mod grafeas;
pub mod kafka;
pub mod oci;
pub mod tekton;

use std::path::Path;
use std::sync::Arc;

use crate::config::{Config, StorageName};
use crate::kube::Kube;
use crate::signing::{Certificate, Signature, dsse::Envelope};
use crate::subjects::ImageRef;
use crate::transparency::LogEntry;

/// A signed TaskRun or PipelineRun attestation.
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
    pub signed: Signature,
    /// The signer's certificate and chain, for signers that have one.
    pub certificate: Option<Certificate>,
    /// The signer's public key, DER SubjectPublicKeyInfo (a Sigstore bundle's key hint).
    pub public_key_der: Vec<u8>,
    /// The transparency log's entry, when the run logs.
    pub log_entry: Option<LogEntry>,
}

impl Attestation {
    /// The signature as Chains stores it: the DSSE envelope's JSON, or for format `tekton`
    /// the raw signature.
    pub fn signature_bytes(&self) -> Vec<u8> {
        match &self.signed {
            Signature::Dsse(envelope) => {
                serde_json::to_vec(envelope).expect("serialising an envelope cannot fail")
            }
            Signature::Raw(sig) => sig.clone(),
        }
    }

    /// The DSSE envelope, for backends that store only envelopes (`oci`).
    pub fn envelope(&self) -> Option<&Envelope> {
        match &self.signed {
            Signature::Dsse(e) => Some(e),
            Signature::Raw(_) => None,
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
    pub certificate: Option<Certificate>,
    /// The signer's public key, DER SubjectPublicKeyInfo (a Sigstore bundle's key hint).
    pub public_key_der: Vec<u8>,
    pub log_entry: Option<LogEntry>,
    /// cosign 3's signature of the image, for `storage.oci.encoding-format: sigstore-bundle`:
    /// an in-toto statement about the image, signed in DSSE.
    pub statement: Option<SignedStatement>,
}

/// An in-toto statement signed in DSSE, and its log entry.
#[derive(Debug, Clone)]
pub struct SignedStatement {
    /// The statement, exactly the signed bytes.
    pub statement: Vec<u8>,
    pub signed: Signature,
    pub log_entry: Option<LogEntry>,
}

/// What one backend is asked to store: the parts whose artifact type lists it.
#[derive(Debug, Default)]
pub struct Batch<'a> {
    pub attestation: Option<&'a Attestation>,
    pub images: Vec<&'a ImageSignature>,
}

/// Where a backend runs in the order, earliest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Place {
    /// Registries and other services.
    Remote,
    /// Local files: the write least likely to fail after the others succeeded.
    Local,
    /// The run's own object (`tekton`): its patch says `chains.tekton.dev/signed: "true"`,
    /// which must follow every other success.
    Last,
}

/// A place signed artifacts go.
pub trait Backend {
    /// The config value naming this backend.
    fn name(&self) -> &'static str;

    /// Where it runs in the order.
    fn place(&self) -> Place {
        Place::Remote
    }

    /// Stores everything in the batch, failing before any visible change where it can.
    fn store(&self, batch: &Batch<'_>) -> Result<(), StorageError>;

    /// Called while the key is being loaded, with the images that will get signatures and
    /// attestations: a chance to read what `store` will build on. Failures are kept for
    /// `store`, which meets them then.
    fn warm_up(&self, _signed: &[ImageRef], _attested: &[ImageRef]) {}

    /// Called after signing and before any backend stores: a last check that storing can
    /// work (`tekton` sends its patch as a dry run), so a refusal leaves nothing written.
    fn preflight(&self) -> Result<(), StorageError> {
        Ok(())
    }

    /// Called when another backend failed, with its error: a backend that can record the
    /// failure where users look (`tekton`: `chains.tekton.dev/signed: "failed"`) does.
    fn record_failure(&self, _reason: &str) -> Result<(), StorageError> {
        Ok(())
    }
}

/// What opening a backend may use.
pub struct Context<'a> {
    pub config: &'a Config,
    /// `--output-dir`.
    pub output_dir: Option<&'a Path>,
    /// How to reach registries, from the flags (`oci` adds what its config keys say).
    pub registry: &'a crate::registry::Options,
    /// The API client, when the pod has API access.
    pub kube: Option<&'a Arc<Kube>>,
    /// The run being attested.
    pub target: &'a tekton::Target,
    /// The run's namespace (`--namespace`, else the service account's), empty when unknown.
    pub namespace: &'a str,
    /// The run's one deadline: no backend's work, retries included, goes past it.
    pub deadline: std::time::Instant,
    /// CA certificates trusted besides the system's (`--registry-ca`), for every TLS peer.
    pub extra_ca: Option<&'a Path>,
    /// `--registry-settle`: how long after its last PUT storage `oci` reads every tag it
    /// wrote once more (zero: no last re-check).
    pub registry_settle: std::time::Duration,
}

impl Context<'_> {
    /// `--registry-ca`, as extra CAs for a client of a backend's service.
    pub fn extra_cas(&self) -> Vec<crate::net::tls::ExtraCa> {
        self.extra_ca
            .iter()
            .map(|path| crate::net::tls::ExtraCa::File {
                flag: "--registry-ca".into(),
                path: path.to_path_buf(),
            })
            .collect()
    }

    /// A transport for a backend's service: the run's deadline, the system's roots plus
    /// `--registry-ca`, plain HTTP only to `plain_http`.
    pub fn transport(&self, plain_http: Vec<crate::net::HostPort>) -> crate::net::Transport {
        crate::net::Transport::new(crate::net::Options {
            deadline: self.deadline,
            plain_http,
            trust: crate::net::tls::Trust::system_and(self.extra_cas(), "--registry-ca"),
        })
    }
}

/// A backend by the name users write in `artifacts.*.storage`.
pub struct Registration {
    pub name: StorageName,
    pub open: fn(&Context<'_>) -> Result<Box<dyn Backend>, StorageError>,
}

/// Every backend chainlet has; a Chains value without one is
/// refused by the config check as not supported yet.
pub const BACKENDS: &[Registration] = &[
    archivista::REGISTRATION,
    docdb::REGISTRATION,
    file::REGISTRATION,
    gcs::REGISTRATION,
    grafeas::REGISTRATION,
    kafka::REGISTRATION,
    kafka::PUBSUB_REGISTRATION,
    oci::REGISTRATION,
    tekton::REGISTRATION,
];

/// The registered backend of a config value.
pub fn lookup(name: StorageName) -> Option<&'static Registration> {
    BACKENDS.iter().find(|r| r.name == name)
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A config value the backend cannot work with (exit 2).
    #[error("{key} {message}")]
    Config { key: &'static str, message: String },
    /// Something the run needs is missing (no output folder, no API access).
    #[error("storage {backend}: {message}")]
    Unavailable {
        backend: &'static str,
        message: String,
    },
    #[error("storage {name}: not supported yet")]
    Unknown { name: StorageName },
    #[error(
        "storage file: image {0:?} has a '.' or '..' path component; refusing to write outside the output directory"
    )]
    UnsafeName(String),
    #[error(
        "storage file: image {0:?} has an empty path component (a \"//\" or a trailing \"/\"); refusing to write it as a directory name"
    )]
    EmptyComponent(String),
    #[error("storage oci: {0}")]
    Registry(#[from] crate::registry::RegistryError),
    #[error("storage oci: {repo}: {source}")]
    Layout {
        repo: String,
        source: crate::registry::layout::LayoutError,
    },
    #[error("storage oci: {repo}: {source}")]
    Referrers {
        repo: String,
        source: crate::registry::referrers::ReferrersError,
    },
    #[error(
        "storage oci: {target}: other writers kept replacing the tag; gave up after {attempts} attempts"
    )]
    Lost { target: String, attempts: u32 },
    /// `backend` is `kafka` or `pubsub`, as the config named it.
    #[error("storage {backend}: topic {topic:?} at {servers}: {source}")]
    Kafka {
        backend: &'static str,
        topic: String,
        servers: String,
        source: Box<crate::kafka::KafkaError>,
    },
    #[error("storage tekton: {0}")]
    Tekton(#[from] crate::kube::KubeError),
    /// An Archivista upload or check that failed; `target` is what and where (no credential:
    /// the URL has no user information).
    #[error("storage archivista: {target}: {message}")]
    Archivista { target: String, message: String },
    /// Cloud Storage refused or failed; `target` is `gs://bucket[/object]`.
    #[error("storage gcs: {target}: {message}")]
    Gcs { target: String, message: String },
    /// A Grafeas call that failed; `target` names the note or occurrence and the project.
    #[error("storage grafeas: {target}: {message}")]
    Grafeas { target: String, message: String },
    /// A document database refused or failed: `target` names the service and the table.
    #[error("storage docdb: {target}: {message}")]
    Docdb { target: String, message: String },
    #[error("storage file: {path}: {source}")]
    File {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}
