//! Signing: load the key from the mounted `signing-secrets` Secret, sign bytes, wrap payloads in
//! DSSE envelopes.
//!
//! Chains' precedence is kept: `x509.pem` (an unencrypted PKCS#8 key) wins over
//! `cosign.key` + `cosign.password` (cosign's scrypt + secretbox format). Key material lives in
//! types that zeroize on drop, and no error or log line ever carries key bytes or a password.

pub mod cosign_key;
pub mod dsse;
pub mod fulcio;
mod keypair;
pub mod kms;
pub mod remote;
mod scrypt;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::SignerName;

pub use keypair::KeyPair;

/// Standard base64 with padding, the encoding of signatures in envelopes and OCI annotations.
pub fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Something that signs bytes with a key and can name that key: the seam every signer plugs
/// into (keys from `signing-secrets` today; KMS and Fulcio keyless as new files).
///
/// To add a signer: implement this trait in `signing/<name>.rs`, give the file an `open`
/// function, and add one [`Registration`] line to [`SIGNERS`] with the name users write in
/// `artifacts.*.signer`.
pub trait Signer: Send + Sync {
    /// Signs `message`: ECDSA keys hash it with SHA-256 and return an ASN.1 DER signature,
    /// Ed25519 signs the message itself and returns 64 bytes. A remote signer can fail.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError>;
    /// The public key as DER SubjectPublicKeyInfo.
    fn public_key_der(&self) -> Vec<u8>;
    /// The key id Chains puts in DSSE envelopes: the SSH SHA256 fingerprint of the public key.
    fn key_id(&self) -> String;
    /// A short description for logs, e.g. `ecdsa-p256 from cosign.key`.
    fn describe(&self) -> String;
    /// The signing certificate and its chain, for signers that have one (Fulcio).
    fn certificate(&self) -> Option<&Certificate> {
        None
    }
    /// How many signatures may be asked for at once: 1 for a key in memory (signing takes
    /// microseconds), more for a remote signer whose calls wait on the network.
    fn parallelism(&self) -> usize {
        1
    }
}

/// A signing certificate and the chain up to its root, PEM, as storage writes them
/// (`chains.tekton.dev/cert-…`, `chain-…`; cosign's certificate annotations).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    pub cert_pem: String,
    pub chain_pem: String,
}

/// A signature that could not be made. Names the signer, never key material or tokens.
#[derive(Debug, thiserror::Error)]
#[error("signing with {signer}: {reason}")]
pub struct SignError {
    pub signer: String,
    pub reason: String,
}

/// Bytes to sign, and how: in a DSSE envelope (over its PAE) or as they are.
#[derive(Debug, Clone)]
pub struct Payload {
    pub bytes: Vec<u8>,
    pub encoding: Encoding,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// A DSSE envelope of this payload type (every in-toto statement).
    Dsse { payload_type: &'static str },
    /// A signature over the bytes themselves (simple signing; format `tekton`).
    Raw,
}

/// A payload's signature, in the shape its encoding gives it.
#[derive(Debug, Clone)]
pub enum Signature {
    Dsse(dsse::Envelope),
    Raw(Vec<u8>),
}

impl Signature {
    /// The raw signature bytes (for an envelope, the first and only signature's).
    pub fn raw(&self) -> Result<Vec<u8>, String> {
        use base64::Engine as _;
        match self {
            Signature::Raw(sig) => Ok(sig.clone()),
            Signature::Dsse(e) => {
                let first = e
                    .signatures
                    .first()
                    .ok_or("an envelope without a signature")?;
                base64::engine::general_purpose::STANDARD
                    .decode(&first.sig)
                    .map_err(|e| format!("the envelope's signature is not base64: {e}"))
            }
        }
    }
}

/// Signs one payload as its encoding says.
pub fn sign(signer: &dyn Signer, payload: &Payload) -> Result<Signature, SignError> {
    match payload.encoding {
        Encoding::Dsse { payload_type } => {
            dsse::sign(signer, payload_type, &payload.bytes).map(Signature::Dsse)
        }
        Encoding::Raw => signer.sign(&payload.bytes).map(Signature::Raw),
    }
}

/// Signs every payload, up to [`Signer::parallelism`] at a time, in order; the first failure
/// fails them all.
pub fn sign_all(signer: &dyn Signer, payloads: &[Payload]) -> Result<Vec<Signature>, SignError> {
    let workers = signer.parallelism().clamp(1, 16);
    if workers == 1 || payloads.len() < 2 {
        return payloads.iter().map(|p| sign(signer, p)).collect();
    }
    let chunk = payloads.len().div_ceil(workers);
    std::thread::scope(|s| {
        let handles: Vec<_> = payloads
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(|p| sign(signer, p)).collect::<Vec<_>>()))
            .collect();
        let mut out = Vec::with_capacity(payloads.len());
        for h in handles {
            for r in h.join().map_err(|_| SignError {
                signer: signer.describe(),
                reason: "a signing thread panicked".into(),
            })? {
                out.push(r?);
            }
        }
        Ok(out)
    })
}

/// What opening a signer may read: the mounted Secret, the config's `signers.*` keys, and
/// for remote signers the run's deadline and extra CAs.
pub struct OpenContext<'a> {
    pub signing_secrets: &'a Path,
    pub config: &'a crate::config::Config,
    /// No call to a KMS or Fulcio outlives it.
    pub deadline: std::time::Instant,
    /// `--registry-ca` files, trusted for HTTPS besides the system's roots.
    pub registry_ca: &'a [PathBuf],
    /// `--trusted-root`: the Fulcio CAs and CT logs a keyless certificate is checked against.
    pub trusted_root: Option<&'a Path>,
}

/// A transport for a remote signer's service (a KMS, Fulcio): the run's deadline, the system's
/// roots plus `--registry-ca`, plain HTTP only to `plain_http` (an `http://` address the user
/// wrote).
pub fn remote_transport(
    deadline: std::time::Instant,
    registry_ca: &[PathBuf],
    plain_http: Vec<crate::net::HostPort>,
) -> crate::net::Transport {
    crate::net::Transport::new(crate::net::Options {
        deadline,
        plain_http,
        trust: crate::net::tls::Trust::system_and(
            registry_ca
                .iter()
                .map(|path| crate::net::tls::ExtraCa::File {
                    flag: "--registry-ca".into(),
                    path: path.clone(),
                })
                .collect(),
            "--registry-ca",
        ),
    })
}

/// A signer by the name users write in `artifacts.*.signer`.
pub struct Registration {
    pub name: SignerName,
    pub open: fn(&OpenContext<'_>) -> Result<Arc<dyn Signer>, SigningError>,
}

/// Every signer chainlet has. `none` is no signer: it turns the artifact type off (the config
/// does that).
pub const SIGNERS: &[Registration] = &[
    Registration {
        name: SignerName::X509,
        // Chains: with Fulcio enabled the x509 signer is keyless and the Secret is not read.
        open: |ctx| {
            if ctx.config.get("signers.x509.fulcio.enabled") == "true" {
                fulcio::open(ctx)
            } else {
                Ok(Arc::new(load_from_secrets(ctx.signing_secrets)?))
            }
        },
    },
    Registration {
        name: SignerName::Kms,
        open: kms::open,
    },
];

/// The registered signer of a config value.
pub fn lookup(name: SignerName) -> Option<&'static Registration> {
    SIGNERS.iter().find(|r| r.name == name)
}

/// The signers a run needs, each opened once however many artifact types name it.
#[derive(Default)]
pub struct Signers {
    opened: Vec<(SignerName, Arc<dyn Signer>)>,
}

impl Signers {
    /// Opens the signers `names` lists (duplicates opened once).
    pub fn open(names: &[SignerName], ctx: &OpenContext<'_>) -> Result<Self, SigningError> {
        let mut out = Signers::default();
        for &name in names {
            if out.opened.iter().any(|(n, _)| *n == name) {
                continue;
            }
            let reg = lookup(name).ok_or(SigningError::NoSigner { name })?;
            let signer = (reg.open)(ctx)?;
            tracing::info!(signer = %reg.name, key = %signer.describe(), keyid = %signer.key_id(), "loaded signing key");
            out.opened.push((reg.name, signer));
        }
        Ok(out)
    }

    /// Adds an opened signer under a name (how tests plug one in).
    pub fn with(mut self, name: SignerName, signer: Arc<dyn Signer>) -> Self {
        self.opened.retain(|(n, _)| *n != name);
        self.opened.push((name, signer));
        self
    }

    /// The signer opened for `name`.
    pub fn get(&self, name: SignerName) -> Option<&dyn Signer> {
        self.opened
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| s.as_ref())
    }
}

/// Why no signer could be loaded. Every variant names the file; none carries key material.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("{dir}: no signing key found (expected x509.pem, or cosign.key with cosign.password)")]
    NoKey { dir: PathBuf },
    #[error("{dir}: signing-secrets directory cannot be read: {source}")]
    SecretsDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: cannot be read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: missing; cosign.key needs its password in cosign.password (may be empty)")]
    MissingPassword { path: PathBuf },
    #[error("{path}: cannot decrypt the key: wrong password in {password} or a corrupt key")]
    WrongPassword { path: PathBuf, password: String },
    #[error("{path}: not a valid key: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("{path}: unsupported key: {reason}")]
    Unsupported { path: PathBuf, reason: String },
    #[error("signer {name}: not supported yet")]
    NoSigner { name: crate::config::SignerName },
    /// A remote signer that could not be opened (a KMS key, Fulcio, an identity token): what
    /// and why, never a token.
    #[error("{reference}: {reason}")]
    Kms { reference: String, reason: String },
}

/// Loads the signer from a signing-secrets directory, with Chains' precedence:
/// `x509.pem` first, then `cosign.key` + `cosign.password`.
pub fn load_from_secrets(dir: &Path) -> Result<KeyPair, SigningError> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(SigningError::SecretsDir {
                dir: dir.to_owned(),
                source: std::io::Error::other("not a directory"),
            });
        }
        Err(source) => {
            return Err(SigningError::SecretsDir {
                dir: dir.to_owned(),
                source,
            });
        }
    }
    let x509 = dir.join("x509.pem");
    if x509.exists() {
        let pem = read_secret(&x509)?;
        let text = std::str::from_utf8(&pem).map_err(|_| SigningError::Corrupt {
            path: x509.clone(),
            reason: "not a PEM file (not UTF-8)".into(),
        })?;
        return KeyPair::from_pem(text, &x509, "x509.pem");
    }
    let cosign = dir.join("cosign.key");
    if cosign.exists() {
        let key = read_secret(&cosign)?;
        let password_path = dir.join("cosign.password");
        if !password_path.exists() {
            return Err(SigningError::MissingPassword {
                path: password_path,
            });
        }
        let password = read_secret(&password_path)?;
        return cosign_key::decrypt_file(&key, &password, &cosign, &password_path);
    }
    Err(SigningError::NoKey {
        dir: dir.to_owned(),
    })
}

/// Reads a secret file into memory that is wiped on drop. No key file is bigger than a few
/// KiB; a larger one, or anything but a regular file, is refused.
pub(crate) fn read_secret(path: &Path) -> Result<zeroize::Zeroizing<Vec<u8>>, SigningError> {
    const MAX: u64 = 64 * 1024;
    crate::fsread::read_limited(path, MAX)
        .map(zeroize::Zeroizing::new)
        .map_err(|e| match e {
            crate::fsread::ReadError::Io(source) => SigningError::Read {
                path: path.to_owned(),
                source,
            },
            other => SigningError::Corrupt {
                path: path.to_owned(),
                reason: other.to_string(),
            },
        })
}
