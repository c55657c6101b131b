//! Storage `tekton`: the signed payloads on the TaskRun (or PipelineRun) itself, as annotations with Chains' keys.
//!
//! ```text
//! chains.tekton.dev/payload-taskrun-<uid>     base64 of the signed payload (the statement)
//! chains.tekton.dev/signature-taskrun-<uid>   base64 of the signature: the DSSE envelope's JSON,
//!                                             or the raw signature for format `tekton`
//! chains.tekton.dev/cert-taskrun-<uid>        base64 of the signing certificate (empty for keys)
//! chains.tekton.dev/chain-taskrun-<uid>       base64 of its chain (empty for keys)
//! chains.tekton.dev/{payload,signature,cert,chain}-<first 12 hex of an image digest>
//!                                             image signatures (artifacts.oci.storage=tekton)
//! chains.tekton.dev/transparency              the log entry's URL (`<log>/api/v1/log/entries?logIndex=N`)
//!                                             when the run was logged; as in Chains, the last
//!                                             entry logged wins (the attestation, then images)
//! chains.tekton.dev/signed                    "true", in the same patch
//! ```
//!
//! It is the last backend to run: its one JSON merge patch writes every annotation together with
//! `chains.tekton.dev/signed: "true"`, so the TaskRun never says signed unless every other
//! backend has succeeded. When one failed, [`mark_failed`] writes `"failed"` and the reason.
//! Before anything is stored anywhere, [`TektonBackend::preflight`] sends the patch as a dry run,
//! so a missing `patch` permission fails the run with nothing written.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;

use super::{Backend, Batch, Context, Place, Registration, StorageError};
use crate::kube::{Kube, RunKind};
use crate::signing::Certificate;

pub const PREFIX: &str = "chains.tekton.dev/";
pub const SIGNED: &str = "chains.tekton.dev/signed";
/// Why the run failed, next to `chains.tekton.dev/signed: "failed"`.
pub const FAILURE: &str = "chainlet.dev/failure";

pub struct TektonBackend {
    kube: Arc<Kube>,
    target: Target,
}

/// The run whose annotations are patched.
#[derive(Debug, Clone)]
pub struct Target {
    pub kind: RunKind,
    pub name: String,
    pub uid: String,
}

pub const REGISTRATION: Registration = Registration {
    name: crate::config::StorageName::Tekton,
    open: |ctx: &Context<'_>| match ctx.kube {
        Some(kube) => Ok(Box::new(TektonBackend::new(
            kube.clone(),
            ctx.target.clone(),
        ))),
        None => Err(StorageError::Unavailable {
            backend: "tekton",
            message: "needs the Kubernetes API, and this pod has no API access".into(),
        }),
    },
};

impl TektonBackend {
    pub fn new(kube: Arc<Kube>, target: Target) -> Self {
        Self { kube, target }
    }

    fn patch(
        &self,
        annotations: &BTreeMap<String, String>,
        dry_run: bool,
    ) -> Result<(), StorageError> {
        let t = &self.target;
        Ok(self
            .kube
            .patch_annotations(t.kind, &t.name, &t.uid, annotations, dry_run)?)
    }
}

/// The annotations for a batch, with Chains' keys and base64 values.
pub fn annotations(batch: &Batch<'_>) -> BTreeMap<String, String> {
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let mut out = BTreeMap::new();
    // Chains writes the certificate and chain PEM as they are (empty for keys), base64 too.
    let mut put = |key: &str, payload: &[u8], signature: &[u8], cert: Option<&Certificate>| {
        out.insert(format!("{PREFIX}payload-{key}"), b64(payload));
        out.insert(format!("{PREFIX}signature-{key}"), b64(signature));
        let (c, chain) = cert.map_or(("", ""), |c| (&c.cert_pem[..], &c.chain_pem[..]));
        out.insert(format!("{PREFIX}cert-{key}"), b64(c.as_bytes()));
        out.insert(format!("{PREFIX}chain-{key}"), b64(chain.as_bytes()));
    };
    if let Some(att) = batch.attestation {
        let signature = att.signature_bytes();
        put(
            &att.key,
            &att.statement,
            &signature,
            att.certificate.as_ref(),
        );
    }
    for image in &batch.images {
        let short = image
            .image
            .digest_hex
            .get(..12)
            .unwrap_or(&image.image.digest_hex);
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&image.signature)
            .unwrap_or_default();
        put(short, &image.payload, &raw, image.certificate.as_ref());
    }
    // Chains logs the TaskRun first, then the images, and keeps the last URL.
    let logged = batch
        .attestation
        .and_then(|a| a.log_entry.as_ref())
        .into_iter()
        .chain(batch.images.iter().filter_map(|i| i.log_entry.as_ref()))
        .last();
    if let Some(entry) = logged {
        out.insert(
            crate::transparency::ENTRY_ANNOTATION.to_owned(),
            entry.chains_url(),
        );
    }
    out
}

impl Backend for TektonBackend {
    fn name(&self) -> &'static str {
        "tekton"
    }

    fn place(&self) -> Place {
        Place::Last
    }

    fn record_failure(&self, reason: &str) -> Result<(), StorageError> {
        Ok(mark_failed(&self.kube, &self.target, reason)?)
    }

    /// The patch, sent as a dry run: the API server checks the permission and the object
    /// without changing it.
    fn preflight(&self) -> Result<(), StorageError> {
        self.patch(&BTreeMap::new(), true)
    }

    fn store(&self, batch: &Batch<'_>) -> Result<(), StorageError> {
        let mut patch = annotations(batch);
        patch.insert(SIGNED.into(), "true".into());
        self.patch(&patch, false)
    }
}

/// Records a failed run on the run itself: `chains.tekton.dev/signed: "failed"` and the reason.
pub fn mark_failed(
    kube: &Kube,
    target: &Target,
    reason: &str,
) -> Result<(), crate::kube::KubeError> {
    let patch = BTreeMap::from([
        (SIGNED.to_owned(), "failed".to_owned()),
        (FAILURE.to_owned(), reason.to_owned()),
    ]);
    kube.patch_annotations(target.kind, &target.name, &target.uid, &patch, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::Signature;
    use crate::storage::Attestation;

    fn attestation(certificate: Option<Certificate>) -> Attestation {
        Attestation {
            key: "taskrun-u".into(),
            images: Vec::new(),
            predicate_type: "",
            statement: b"{}".to_vec(),
            signed: Signature::Raw(vec![1, 2]),
            certificate,
            public_key_der: Vec::new(),
            log_entry: None,
        }
    }

    #[test]
    fn cert_and_chain_are_empty_for_keys_and_base64_pem_for_a_certificate() {
        let att = attestation(None);
        let batch = Batch {
            attestation: Some(&att),
            images: Vec::new(),
        };
        let a = annotations(&batch);
        assert_eq!(a["chains.tekton.dev/cert-taskrun-u"], "");
        assert_eq!(a["chains.tekton.dev/chain-taskrun-u"], "");
        let att = attestation(Some(Certificate {
            cert_pem: "LEAF".into(),
            chain_pem: "ROOT".into(),
        }));
        let batch = Batch {
            attestation: Some(&att),
            images: Vec::new(),
        };
        let a = annotations(&batch);
        assert_eq!(a["chains.tekton.dev/cert-taskrun-u"], "TEVBRg==");
        assert_eq!(a["chains.tekton.dev/chain-taskrun-u"], "Uk9PVA==");
        assert_eq!(a["chains.tekton.dev/signature-taskrun-u"], "AQI=");
    }
}
