//! The half of a run that TaskRuns and PipelineRuns share: sign → transparency → store.
//!
//! It takes [`Work`] (payloads still unsigned, built by the earlier stages) and the opened
//! parts, each behind its seam: signers ([`Signers`]), a log ([`Transparency`]) and backends
//! ([`Route`]s). Nothing here knows which signer, log or backend it drives, so a new one plugs in
//! without touching this file (`tests/seams/` does exactly that).

use crate::Failure;
use crate::config::SignerName;
use crate::signing::{self, Payload, Signature, Signer, Signers, SigningError};
use crate::storage::tekton::Target;
use crate::storage::{Attestation, Backend, Batch, ImageSignature, SignedStatement};
use crate::subjects::ImageRef;
use crate::transparency::{self, LogEntry, Transparency};

/// What a run signs, before signing.
pub struct Work {
    /// The run the attestation is about.
    pub target: Target,
    /// The TaskRun or PipelineRun attestation, when its artifact type is on.
    pub attestation: Option<Unsigned>,
    /// The signer of the attestation's artifact type (`artifacts.taskrun.signer`, …).
    pub attestation_signer: SignerName,
    /// Images to sign (`artifacts.oci`), each with its simple-signing payload.
    pub images: Vec<(ImageRef, Payload)>,
    /// `artifacts.oci.signer`.
    pub image_signer: SignerName,
    /// For `storage.oci.encoding-format: sigstore-bundle`, one more payload per image, in the
    /// order of `images`: cosign 3's in-toto statement about it (DSSE); empty otherwise.
    pub image_statements: Vec<Payload>,
    /// The run's annotations, when it was read from the API (`transparency.enabled: manual`
    /// decides from them).
    pub annotations: Option<std::collections::BTreeMap<String, String>>,
}

/// An attestation before signing.
pub struct Unsigned {
    /// `taskrun-<uid>` or `pipelinerun-<uid>`.
    pub key: String,
    /// The statement's subjects that are images.
    pub images: Vec<ImageRef>,
    pub predicate_type: &'static str,
    pub payload: Payload,
}

/// A backend and the parts of the run it stores.
pub struct Route {
    pub backend: Box<dyn Backend>,
    /// Image signatures (`artifacts.oci.storage` lists it).
    pub signatures: bool,
    /// The attestation (its artifact type's storage lists it).
    pub attestation: bool,
}

/// What a run stored.
pub struct Stored {
    pub attestation: Option<Attestation>,
    pub signatures: Vec<ImageSignature>,
}

/// Signs, logs and stores `work`. `open_signers` runs while the backends warm up (decrypting a
/// cosign key takes about 100 ms of one core; meanwhile the backends read what they will
/// append to). `routes` are in store order.
pub fn execute(
    work: &Work,
    open_signers: impl FnOnce(&[SignerName]) -> Result<Signers, SigningError> + Send,
    log: &dyn Transparency,
    routes: &[Route],
) -> Result<Stored, Failure> {
    let mut names: Vec<SignerName> = Vec::new();
    if work.attestation.is_some() {
        names.push(work.attestation_signer);
    }
    if !work.images.is_empty() {
        names.push(work.image_signer);
    }
    let signed_images: Vec<ImageRef> = work.images.iter().map(|(i, _)| i.clone()).collect();
    let attested_images: &[ImageRef] = work
        .attestation
        .as_ref()
        .map_or(&[], |a| a.images.as_slice());
    let signers = std::thread::scope(|s| {
        let opening = s.spawn(|| open_signers(&names));
        for r in routes {
            r.backend.warm_up(
                if r.signatures { &signed_images } else { &[] },
                if r.attestation { attested_images } else { &[] },
            );
        }
        opening.join()
    })
    .map_err(|_| Failure::run("opening the signers failed unexpectedly"))?
    .map_err(Failure::run)?;
    let signer = |name: SignerName| {
        signers
            .get(name)
            .ok_or_else(|| Failure::run(format!("signer {name} was not opened")))
    };

    let mut attestation = match &work.attestation {
        Some(unsigned) => {
            let signer = signer(work.attestation_signer)?;
            let signed = signing::sign(signer, &unsigned.payload).map_err(Failure::run)?;
            Some(Attestation {
                key: unsigned.key.clone(),
                images: unsigned.images.clone(),
                predicate_type: unsigned.predicate_type,
                statement: unsigned.payload.bytes.clone(),
                signed,
                certificate: signer.certificate().cloned(),
                public_key_der: signer.public_key_der(),
                log_entry: None,
            })
        }
        None => None,
    };
    let signatures = if work.images.is_empty() {
        Vec::new()
    } else {
        let signer = signer(work.image_signer)?;
        let payloads: Vec<Payload> = work.images.iter().map(|(_, p)| p.clone()).collect();
        signing::sign_all(signer, &payloads).map_err(Failure::run)?
    };
    // cosign 3's statements about the images (encoding-format sigstore-bundle), same signer.
    let statements = if work.image_statements.is_empty() {
        Vec::new()
    } else {
        signing::sign_all(signer(work.image_signer)?, &work.image_statements)
            .map_err(Failure::run)?
    };

    // Every upload at once: a log answers in tens of milliseconds (v1) to a second (v2, which
    // batches entries into checkpoints), so one after another would add up.
    let mut uploads: Vec<(&Payload, &Signature, &dyn Signer)> = Vec::new();
    if let (Some(unsigned), Some(a)) = (&work.attestation, &attestation) {
        uploads.push((
            &unsigned.payload,
            &a.signed,
            signer(work.attestation_signer)?,
        ));
    }
    if !work.images.is_empty() {
        let image_signer = signer(work.image_signer)?;
        for ((_, payload), sig) in work.images.iter().zip(&signatures) {
            uploads.push((payload, sig, image_signer));
        }
        for (payload, sig) in work.image_statements.iter().zip(&statements) {
            uploads.push((payload, sig, image_signer));
        }
    }
    // A log that fails fails the run before anything is stored, and every backend that
    // records failures does (`tekton`: `chains.tekton.dev/signed: "failed"`), as Chains marks
    // a run whose upload failed.
    let mut entries = log_all(log, &uploads)
        .inspect_err(|failure| record_failure(routes, None, &failure.message))?
        .into_iter();
    if let Some(a) = attestation.as_mut() {
        a.log_entry = entries.next().flatten();
    }
    let mut out = Vec::with_capacity(signatures.len());
    if !work.images.is_empty() {
        let image_signer = signer(work.image_signer)?;
        let logged: Vec<Option<LogEntry>> = entries.collect();
        let (image_entries, statement_entries) =
            logged.split_at(signatures.len().min(logged.len()));
        let mut statements = statements
            .into_iter()
            .zip(&work.image_statements)
            .zip(statement_entries.iter().cloned());
        for (((image, payload), sig), log_entry) in work
            .images
            .iter()
            .zip(signatures)
            .zip(image_entries.iter().cloned())
        {
            let raw = sig.raw().map_err(Failure::run)?;
            let statement = statements
                .next()
                .map(|((signed, st), log_entry)| SignedStatement {
                    statement: st.bytes.clone(),
                    signed,
                    log_entry,
                });
            out.push(ImageSignature {
                image: image.clone(),
                payload: payload.bytes.clone(),
                signature: signing::base64(&raw),
                certificate: image_signer.certificate().cloned(),
                log_entry,
                public_key_der: image_signer.public_key_der(),
                statement,
            });
        }
    }
    let signatures = out;

    store(routes, attestation.as_ref(), &signatures)?;
    Ok(Stored {
        attestation,
        signatures,
    })
}

/// How many log uploads run at once.
const LOG_PARALLELISM: usize = 8;

/// Logs every signed payload, up to [`LOG_PARALLELISM`] at a time, answers in order; the
/// first failure fails the run before anything is stored.
fn log_all(
    log: &dyn Transparency,
    uploads: &[(&Payload, &Signature, &dyn Signer)],
) -> Result<Vec<Option<LogEntry>>, Failure> {
    let one = |(payload, signature, signer): &(&Payload, &Signature, &dyn Signer)| {
        log.log(&transparency::Signed {
            payload,
            signature,
            signer: *signer,
        })
        .map_err(Failure::run)
    };
    if uploads.len() < 2 {
        return uploads.iter().map(one).collect();
    }
    let chunk = uploads.len().div_ceil(LOG_PARALLELISM);
    std::thread::scope(|s| {
        let handles: Vec<_> = uploads
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(one).collect::<Vec<_>>()))
            .collect();
        let mut out = Vec::with_capacity(uploads.len());
        for h in handles {
            for r in h
                .join()
                .map_err(|_| Failure::run("a transparency-log upload failed unexpectedly"))?
            {
                out.push(r?);
            }
        }
        Ok(out)
    })
}

/// Hands each backend the parts it stores, after every backend's preflight has passed. When one
/// fails, every other backend may record the failure (`tekton` marks the run `"failed"`; the
/// run's own patch failing leaves no mark).
fn store(
    routes: &[Route],
    attestation: Option<&Attestation>,
    signatures: &[ImageSignature],
) -> Result<(), Failure> {
    let batches: Vec<(usize, Batch)> = routes
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let batch = Batch {
                attestation: attestation.filter(|_| r.attestation),
                images: if r.signatures {
                    signatures.iter().collect()
                } else {
                    Vec::new()
                },
            };
            (i, batch)
        })
        .filter(|(_, b)| b.attestation.is_some() || !b.images.is_empty())
        .collect();
    let outcome = batches
        .iter()
        .try_for_each(|(i, _)| {
            routes[*i]
                .backend
                .preflight()
                .map_err(|e| (*i, Failure::run(e)))
        })
        .and_then(|()| {
            batches.iter().try_for_each(|(i, batch)| {
                let backend = &routes[*i].backend;
                backend.store(batch).map_err(|e| (*i, Failure::run(e)))?;
                tracing::info!(storage = backend.name(), "stored");
                Ok(())
            })
        });
    let Err((failed, failure)) = outcome else {
        return Ok(());
    };
    record_failure(routes, Some(failed), &failure.message);
    Err(failure)
}

/// Has every backend but `except` record the failure where it can.
fn record_failure(routes: &[Route], except: Option<usize>, message: &str) {
    for (i, r) in routes.iter().enumerate() {
        if Some(i) != except
            && let Err(e) = r.backend.record_failure(message)
        {
            tracing::warn!(
                storage = r.backend.name(),
                "could not record the failure: {e}"
            );
        }
    }
}
