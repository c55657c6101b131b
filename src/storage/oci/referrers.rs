//! `storage.oci.encoding-format: sigstore-bundle`: every signature and attestation as a
//! Sigstore bundle v0.3 in an OCI 1.1 referrer manifest about the image, as cosign 3 writes
//! them by default (see [`crate::registry::referrers`] for the manifest).
//!
//! Phase one changes nothing a verifier sees: read each image's manifest (the subject's media
//! type and size), ask for its referrers (the API, else the referrers tag `sha256-<hex>`), drop
//! bundles that are referenced already (same bundle layer about the same subject), upload the
//! blobs. Phase two PUTs each manifest by digest; where the registry did not index the subject
//! itself (no `OCI-Subject` header), the referrers tag is updated read-modify-write under the
//! same guard as cosign's tags ([`super::guard`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{OciBackend, bounded, guard};
use crate::registry::layout::{Descriptor, OCI_MANIFEST};
use crate::registry::referrers::{
    self as refs, BUNDLE_V03, BundleManifest, EMPTY_CONFIG, Index, OCI_INDEX,
    PREDICATE_TYPE_ANNOTATION, ReferrersError, Subject,
};
use crate::registry::{RegistryError, Repo, jitter};
use crate::signing::Signature;
use crate::storage::{Batch, StorageError};
use crate::subjects::ImageRef;
use crate::transparency::{LogEntry, bundle};

/// cosign 3's predicate type for an image signature (`pkg/types/predicate.go`).
pub const COSIGN_SIGN_PREDICATE: &str = crate::formats::cosign_sign::PREDICATE_TYPE;

/// One bundle to refer to an image.
struct Item<'a> {
    repo: Repo,
    image: &'a ImageRef,
    bundle: Vec<u8>,
    predicate_type: &'a str,
}

/// A referrers tag and the entries it must end up listing.
struct TagTarget {
    repo: Repo,
    tag: String,
    add: Vec<Descriptor>,
    /// The manifests `add` lists, to push again should the registry lose one.
    manifests: Vec<Vec<u8>>,
}

/// The Sigstore bundle of a DSSE signature, with the signer's key hint or certificate.
fn bundle_of(
    signed: &Signature,
    payload: &[u8],
    certificate: Option<&crate::signing::Certificate>,
    public_key_der: &[u8],
    entry: Option<&LogEntry>,
) -> Result<Vec<u8>, StorageError> {
    let signer = match certificate {
        Some(c) => bundle::Signer::Certificate(c),
        None => bundle::Signer::PublicKey(public_key_der),
    };
    bundle::sigstore_bundle(signed, payload, signer, entry).map_err(|message| {
        StorageError::Unavailable {
            backend: "oci",
            message,
        }
    })
}

fn items<'a>(backend: &OciBackend, batch: &'a Batch<'_>) -> Result<Vec<Item<'a>>, StorageError> {
    let mut out = Vec::new();
    for sig in &batch.images {
        let Some(st) = &sig.statement else {
            return Err(StorageError::Unavailable {
                backend: "oci",
                message: format!(
                    "{}: no signed statement for the image (encoding-format sigstore-bundle)",
                    sig.image.repo_name()
                ),
            });
        };
        out.push(Item {
            repo: backend.repo_of(&sig.image),
            image: &sig.image,
            bundle: bundle_of(
                &st.signed,
                &st.statement,
                sig.certificate.as_ref(),
                &sig.public_key_der,
                st.log_entry.as_ref(),
            )?,
            predicate_type: COSIGN_SIGN_PREDICATE,
        });
    }
    if let Some(att) = batch.attestation.filter(|a| a.envelope().is_some()) {
        let bundle = bundle_of(
            &att.signed,
            &att.statement,
            att.certificate.as_ref(),
            &att.public_key_der,
            att.log_entry.as_ref(),
        )?;
        for image in &att.images {
            out.push(Item {
                repo: backend.repo_of(image),
                image,
                bundle: bundle.clone(),
                predicate_type: att.predicate_type,
            });
        }
    }
    Ok(out)
}

fn referrers_err(repo: &Repo, source: ReferrersError) -> StorageError {
    StorageError::Referrers {
        repo: repo.to_string(),
        source,
    }
}

/// Where an image's referrers are listed now.
#[derive(Clone)]
struct Listing {
    /// The registry answered the referrers API.
    api: bool,
    index: Option<Index>,
}

/// Reads the referrers tag: `None` when there is none.
fn read_tag(backend: &OciBackend, repo: &Repo, tag: &str) -> Result<Option<Index>, StorageError> {
    match backend.client.get_manifest(repo, tag)? {
        None => Ok(None),
        Some(m) => refs::parse_index(Some(tag), &m.bytes)
            .map(Some)
            .map_err(|e| referrers_err(repo, e)),
    }
}

fn listing(backend: &OciBackend, repo: &Repo, digest_hex: &str) -> Result<Listing, StorageError> {
    let digest = format!("sha256:{digest_hex}");
    match backend.client.referrers(repo, &digest)? {
        Some(index) => Ok(Listing {
            api: true,
            index: Some(index),
        }),
        None => Ok(Listing {
            api: false,
            index: read_tag(backend, repo, &refs::fallback_tag(digest_hex))?,
        }),
    }
}

pub(super) fn store(backend: &OciBackend, batch: &Batch<'_>) -> Result<usize, StorageError> {
    let items = items(backend, batch)?;
    if items.is_empty() {
        return Ok(0);
    }
    let created = crate::time::format_rfc3339_seconds(std::time::SystemTime::now());

    // Phase one: subjects, listings, dedupe, blobs.
    let images: Vec<(Repo, &ImageRef)> = {
        let mut seen = BTreeSet::new();
        items
            .iter()
            .filter(|i| seen.insert((i.repo.clone(), i.image.digest_hex.clone())))
            .map(|i| (i.repo.clone(), i.image))
            .collect()
    };
    let found = bounded(&images, |(repo, image)| {
        let image_repo = Repo {
            registry: image.registry.clone(),
            repository: image.repository.clone(),
        };
        let digest = format!("sha256:{}", image.digest_hex);
        let m = backend
            .client
            .get_manifest(&image_repo, &digest)?
            .ok_or_else(|| {
                referrers_err(
                    &image_repo,
                    ReferrersError::BadSubject {
                        reference: digest.clone(),
                        what: "not in the registry".into(),
                    },
                )
            })?;
        let subject = Subject::of(&digest, &m).map_err(|e| referrers_err(&image_repo, e))?;
        Ok((subject, listing(backend, repo, &image.digest_hex)?))
    })?;
    let by_image: BTreeMap<(Repo, String), (Subject, Listing)> = images
        .iter()
        .map(|(repo, image)| (repo.clone(), image.digest_hex.clone()))
        .zip(found)
        .collect();

    // Bundle layers already referenced, by (repo, subject digest): read from the referrer
    // manifests that could be ours (a bundle artifact with the same predicate type).
    let seen_manifests: Mutex<BTreeMap<(Repo, String), Option<String>>> = Mutex::default();
    let referenced = |item: &Item<'_>, subject: &Subject, listing: &Listing| {
        let want = crate::registry::sha256_digest(&item.bundle);
        let candidates = listing.index.iter().flat_map(|i| &i.manifests).filter(|d| {
            refs::artifact_type(d) == BUNDLE_V03
                && d.annotations
                    .as_ref()
                    .and_then(|a| a.get(PREDICATE_TYPE_ANNOTATION))
                    .is_some_and(|p| p == item.predicate_type)
        });
        for d in candidates {
            let key = (item.repo.clone(), d.digest.clone());
            let cached = seen_manifests
                .lock()
                .expect("not poisoned")
                .get(&key)
                .cloned();
            let layer = match cached {
                Some(l) => l,
                None => {
                    let l = backend
                        .client
                        .get_manifest(&item.repo, &d.digest)?
                        .and_then(|m| refs::bundle_layer_of(&m.bytes, &subject.digest));
                    seen_manifests
                        .lock()
                        .expect("not poisoned")
                        .insert(key, l.clone());
                    l
                }
            };
            if layer.as_deref() == Some(want.as_str()) {
                return Ok::<bool, StorageError>(true);
            }
        }
        Ok(false)
    };
    let mut todo: Vec<(&Item<'_>, BundleManifest)> = Vec::new();
    for item in &items {
        let (subject, listing) = &by_image[&(item.repo.clone(), item.image.digest_hex.clone())];
        if referenced(item, subject, listing)? {
            tracing::info!(image = %item.image.repo_name(), predicate = item.predicate_type, "oci: the bundle is referenced already");
            continue;
        }
        let m = refs::bundle_manifest(subject, &item.bundle, item.predicate_type, &created);
        if todo
            .iter()
            .any(|(i, t)| i.repo == item.repo && t.digest == m.digest)
        {
            continue;
        }
        todo.push((item, m));
    }
    bounded(&todo, |(item, _)| {
        backend.push_once(&item.repo, EMPTY_CONFIG, true)?;
        backend.push_once(&item.repo, &item.bundle, true)
    })?;

    // Phase two: the manifests by digest, then the referrers tags the registry did not index.
    let puts = bounded(&todo, |(item, m)| put_manifest(backend, item, m))?;
    // Per referrers tag: the entries to add and their manifests.
    type Adds = (Vec<Descriptor>, Vec<Vec<u8>>);
    let mut tags: BTreeMap<(Repo, String), Adds> = BTreeMap::new();
    for ((item, m), indexed) in todo.iter().zip(puts) {
        let listing = &by_image[&(item.repo.clone(), item.image.digest_hex.clone())].1;
        if indexed {
            continue;
        }
        if listing.api {
            tracing::warn!(repo = %item.repo, "the registry has the referrers API but did not index the subject; updating the referrers tag too");
        }
        let (add, manifests) = tags
            .entry((
                item.repo.clone(),
                refs::fallback_tag(&item.image.digest_hex),
            ))
            .or_default();
        add.push(m.descriptor.clone());
        manifests.push(m.bytes.clone());
    }
    let targets: Vec<TagTarget> = tags
        .into_iter()
        .map(|((repo, tag), (add, manifests))| TagTarget {
            repo,
            tag,
            add,
            manifests,
        })
        .collect();
    if !targets.is_empty() {
        let pending: Vec<(&TagTarget, Option<Index>)> = targets
            .iter()
            .map(|t| {
                let digest_hex = t.tag.trim_start_matches("sha256-");
                let current = by_image
                    .get(&(t.repo.clone(), digest_hex.to_owned()))
                    .and_then(|(_, l)| if l.api { None } else { l.index.clone() });
                (t, current)
            })
            .collect();
        let outcome = guard::Tags {
            grace: backend.grace,
            deadline: backend.deadline,
            label: &|t: &TagTarget| format!("{}:{}", t.repo, t.tag),
            put: &|t: &TagTarget, current: &Option<Index>| put_tag(backend, t, current.clone()),
            check: &|t: &TagTarget| {
                let latest = read_tag(backend, &t.repo, &t.tag)?;
                let kept = latest
                    .as_ref()
                    .is_some_and(|i| t.add.iter().all(|d| refs::lists(i, &d.digest)));
                Ok((kept, latest))
            },
        }
        .commit(pending)?;
        tracing::debug!(?outcome, "oci: referrers tags guarded");
    }
    Ok(todo.len())
}

/// PUTs a referrer manifest by digest; says whether the registry indexed its subject.
/// Concurrent uploads of one blob (the empty config; one image's signature bundle in several
/// runs) can leave distribution briefly without it: upload again and retry.
fn put_manifest(
    backend: &OciBackend,
    item: &Item<'_>,
    m: &BundleManifest,
) -> Result<bool, StorageError> {
    let mut lost_blob_retries = 0;
    loop {
        match backend
            .client
            .put_referrer(&item.repo, &m.digest, &m.bytes, OCI_MANIFEST)
        {
            Ok(put) => return Ok(put.subject_indexed),
            Err(RegistryError::Status {
                status: 400,
                message,
                ..
            }) if message.contains("BLOB_UNKNOWN") && lost_blob_retries < 3 => {
                lost_blob_retries += 1;
                tracing::warn!(repo = %item.repo, "the registry lost a blob of ours; uploading again");
                backend.client.upload_blob(&item.repo, EMPTY_CONFIG)?;
                backend.client.upload_blob(&item.repo, &item.bundle)?;
                std::thread::sleep(jitter(Duration::from_millis(20)));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

fn listed(i: Option<&Index>) -> Vec<&str> {
    i.map(|i| i.manifests.iter().map(|d| d.digest.as_str()).collect())
        .unwrap_or_default()
}

/// One read → PUT of a referrers tag from the last read, as [`OciBackend::put`] does for
/// cosign's tags: read again right before the PUT and rebuild when it changed; a PUT worth
/// retrying is retried from a fresh read.
fn put_tag(
    backend: &OciBackend,
    t: &TagTarget,
    mut current: Option<Index>,
) -> Result<Option<Duration>, StorageError> {
    let mut unavailable = 0;
    let mut lost_manifest_retries = 0;
    let mut backoff = Duration::from_millis(100);
    loop {
        let Some(body) = refs::append(&t.tag, current.as_ref(), &t.add)
            .map_err(|e| referrers_err(&t.repo, e))?
        else {
            return Ok(None);
        };
        let read_at = Instant::now();
        let now = read_tag(backend, &t.repo, &t.tag)?;
        if listed(now.as_ref()) != listed(current.as_ref()) {
            current = now;
            continue;
        }
        match backend
            .client
            .put_referrer(&t.repo, &t.tag, &body, OCI_INDEX)
        {
            Ok(_) => return Ok(Some(read_at.elapsed())),
            // The same manifest PUT by several runs at once (one image's signature, made in
            // the same second) can leave the registry briefly without it: PUT ours again.
            Err(RegistryError::Status {
                status: 400,
                message,
                ..
            }) if message.contains("BLOB_UNKNOWN") && lost_manifest_retries < 3 => {
                lost_manifest_retries += 1;
                tracing::warn!(repo = %t.repo, tag = %t.tag, "the registry lost a referrer manifest; pushing it again");
                for m in &t.manifests {
                    let digest = crate::registry::sha256_digest(m);
                    backend
                        .client
                        .put_referrer(&t.repo, &digest, m, OCI_MANIFEST)?;
                }
                std::thread::sleep(jitter(Duration::from_millis(20)));
                current = read_tag(backend, &t.repo, &t.tag)?;
            }
            Err(RegistryError::Unavailable { message, .. })
                if unavailable < 5 && !backend.client.past_deadline() =>
            {
                unavailable += 1;
                tracing::debug!(repo = %t.repo, tag = %t.tag, "PUT failed ({message}); reading the tag again");
                std::thread::sleep(jitter(backoff));
                backoff *= 2;
                current = read_tag(backend, &t.repo, &t.tag)?;
            }
            Err(e) => return Err(e.into()),
        }
    }
}
