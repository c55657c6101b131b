//! Finding what is stored for an image in its registry: cosign's `sha256-<hex>.sig` and
//! `sha256-<hex>.att` manifests and their layers, and OCI 1.1 referrers (the API, else the
//! `sha256-<hex>` tag) that are Sigstore bundles. Every blob is checked against its descriptor's
//! digest and size before it is read.

use std::collections::BTreeMap;

use super::found::{self, Found};
use crate::registry::layout::{self, Descriptor};
use crate::registry::referrers::{self, Index};
use crate::registry::{Client, Repo, sha256_digest};

/// Larger layers are refused: cosign's are a few kilobytes.
const MAX_LAYERS: usize = layout::MAX_LAYERS;

/// The most one layer or bundle may be (a statement naming 10 000 files is about 2 MiB), and
/// all of one tag's layers or one image's referrers together: what a hostile registry can make
/// chainlet hold. Sizes are the descriptors', which the bytes must then match.
const MAX_BLOB: u64 = 16 * 1024 * 1024;
const MAX_BLOBS_TOTAL: u64 = 64 * 1024 * 1024;

/// Whether the layers of `sizes` fit in [`MAX_BLOBS_TOTAL`].
fn too_big(sizes: impl Iterator<Item = u64>) -> Option<u64> {
    let total = sizes.fold(0u64, u64::saturating_add);
    (total > MAX_BLOBS_TOTAL).then_some(total)
}

/// Everything found for one image digest.
#[derive(Debug, Default)]
pub struct Discovery {
    pub found: Vec<Found>,
    /// Where was looked, for "no attestation found" reasons.
    pub looked: Vec<String>,
}

/// Reads the `.att` tag, the referrers and (when `signatures`) the `.sig` tag of `hex`, at once.
pub fn discover(
    client: &Client,
    repo: &Repo,
    hex: &str,
    signatures: bool,
) -> Result<Discovery, String> {
    let (att, sig, refs) = std::thread::scope(|s| {
        let att = s.spawn(|| cosign_tag(client, repo, &layout::att_tag(hex)));
        let sig = signatures.then(|| s.spawn(|| cosign_tag(client, repo, &layout::sig_tag(hex))));
        let refs = referrers_of(client, repo, hex);
        (
            att.join()
                .unwrap_or_else(|_| Err("reading the .att tag failed".into())),
            sig.map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("reading the .sig tag failed".into()))
            }),
            refs,
        )
    });
    let mut d = Discovery {
        looked: vec![format!("{repo}:{}", layout::att_tag(hex))],
        ..Discovery::default()
    };
    d.found.extend(att?);
    if let Some(sig) = sig {
        d.looked.push(format!("{repo}:{}", layout::sig_tag(hex)));
        d.found.extend(sig?);
    }
    let (where_, refs) = refs?;
    d.looked.push(where_);
    d.found.extend(refs);
    Ok(d)
}

/// The layers of a cosign `.sig` or `.att` tag; nothing when the tag is absent.
fn cosign_tag(client: &Client, repo: &Repo, tag: &str) -> Result<Vec<Found>, String> {
    let Some(m) = client.get_manifest(repo, tag).map_err(|e| e.to_string())? else {
        return Ok(Vec::new());
    };
    let place = format!("{repo}:{tag}");
    let manifest = match layout::parse(tag, &m.bytes, &m.media_type) {
        Ok(m) => m,
        Err(e) => return Ok(vec![Found::broken(place, e.to_string())]),
    };
    if manifest.layers.len() > MAX_LAYERS {
        return Ok(vec![Found::broken(
            place,
            format!(
                "{} layers, more than cosign reads ({MAX_LAYERS})",
                manifest.layers.len()
            ),
        )]);
    }
    if let Some(total) = too_big(manifest.layers.iter().map(|l| l.size)) {
        return Ok(vec![Found::broken(
            place,
            format!("its layers add up to {total} bytes, more than {MAX_BLOBS_TOTAL}"),
        )]);
    }
    let mut out = Vec::new();
    for (i, layer) in manifest.layers.iter().enumerate() {
        let place = format!("{repo}:{tag} layer {}", i + 1);
        let bytes = match blob(client, repo, layer) {
            Ok(b) => b,
            Err(e) => {
                out.push(Found::broken(place, e));
                continue;
            }
        };
        let annotations = layer.annotations.clone().unwrap_or_default();
        out.push(layer_found(&layer.media_type, bytes, &annotations, &place));
    }
    Ok(out)
}

/// One `.sig`/`.att` layer: a simple-signing payload or a DSSE envelope, with its annotations.
pub fn layer_found(
    media_type: &str,
    bytes: Vec<u8>,
    annotations: &BTreeMap<String, String>,
    place: &str,
) -> Found {
    let beside = match found::annotations(annotations) {
        Ok(b) => b,
        Err(e) => return Found::broken(place, e),
    };
    match media_type {
        layout::DSSE_ENVELOPE => found::envelope(&bytes, place, &beside),
        layout::SIMPLESIGNING => {
            let sig = annotations
                .get(layout::SIGNATURE_ANNOTATION)
                .map(String::as_str)
                .unwrap_or("");
            found::signature(bytes, sig, place, &beside)
        }
        other => Found::broken(
            place,
            format!(
                "layer media type {other:?} is neither a DSSE envelope nor a simple-signing payload"
            ),
        ),
    }
}

/// A blob, checked against its descriptor.
fn blob(client: &Client, repo: &Repo, d: &Descriptor) -> Result<Vec<u8>, String> {
    if !is_sha256_digest(&d.digest) {
        return Err(format!(
            "layer digest {:?} is not sha256:<64 hex>",
            d.digest
        ));
    }
    if d.size > MAX_BLOB {
        return Err(format!(
            "the layer is {} bytes, more than {MAX_BLOB}",
            d.size
        ));
    }
    let bytes = client
        .get_blob(repo, &d.digest)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("blob {} is missing from the registry", d.digest))?;
    check_blob(d, &bytes)?;
    Ok(bytes)
}

/// A blob's bytes must hash to the descriptor's digest and have its size.
pub fn check_blob(d: &Descriptor, bytes: &[u8]) -> Result<(), String> {
    let actual = sha256_digest(bytes);
    if actual != d.digest {
        return Err(format!(
            "the blob's bytes hash to {actual}, not the layer's digest {} (tampered or corrupt)",
            d.digest
        ));
    }
    if bytes.len() as u64 != d.size {
        return Err(format!(
            "the blob has {} bytes, the layer says {} (tampered or corrupt)",
            bytes.len(),
            d.size
        ));
    }
    Ok(())
}

fn is_sha256_digest(d: &str) -> bool {
    d.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|c| c.is_ascii_hexdigit()))
}

/// The Sigstore bundle referrers of `sha256:<hex>`: from the referrers API, else the
/// referrers tag. Returns where it looked, and what it found.
fn referrers_of(client: &Client, repo: &Repo, hex: &str) -> Result<(String, Vec<Found>), String> {
    let digest = format!("sha256:{hex}");
    let (where_, index) = match client.referrers(repo, &digest).map_err(|e| e.to_string())? {
        Some(i) => (format!("the referrers of {repo}@{digest}"), Some(i)),
        None => {
            let tag = referrers::fallback_tag(hex);
            let where_ = format!("{repo}:{tag}");
            match client.get_manifest(repo, &tag).map_err(|e| e.to_string())? {
                None => (where_, None),
                Some(m) => match referrers::parse_index(Some(&tag), &m.bytes) {
                    Ok(i) => (where_, Some(i)),
                    // Not an index: not a referrers tag, nothing of ours.
                    Err(_) => (where_, None),
                },
            }
        }
    };
    let Some(index) = index else {
        return Ok((where_, Vec::new()));
    };
    Ok((where_, bundles_in(client, repo, &digest, &index)))
}

fn bundles_in(client: &Client, repo: &Repo, subject: &str, index: &Index) -> Vec<Found> {
    let mut out = Vec::new();
    let mut spent = 0u64;
    for d in index.manifests.iter().take(MAX_LAYERS) {
        if !referrers::artifact_type(d).starts_with("application/vnd.dev.sigstore.bundle") {
            continue;
        }
        let place = format!("{repo}@{} (referrer)", d.digest);
        if !is_sha256_digest(&d.digest) {
            out.push(Found::broken(
                place,
                "the referrer's digest is not sha256:<64 hex>",
            ));
            continue;
        }
        let m = match client.get_manifest(repo, &d.digest) {
            Ok(Some(m)) => m,
            Ok(None) => {
                out.push(Found::broken(place, "the referrer manifest is missing"));
                continue;
            }
            Err(e) => {
                out.push(Found::broken(place, e.to_string()));
                continue;
            }
        };
        if sha256_digest(&m.bytes) != d.digest {
            out.push(Found::broken(
                place,
                "the manifest's bytes do not hash to its digest (tampered or corrupt)",
            ));
            continue;
        }
        let Some(layer) = bundle_layer(&m.bytes, subject) else {
            out.push(Found::broken(
                place,
                format!("not a one-layer Sigstore bundle manifest about {subject}"),
            ));
            continue;
        };
        spent = spent.saturating_add(layer.size);
        if spent > MAX_BLOBS_TOTAL {
            out.push(Found::broken(
                place,
                format!("the image's bundles add up to more than {MAX_BLOBS_TOTAL} bytes"),
            ));
            break;
        }
        match blob(client, repo, &layer) {
            Ok(bytes) => out.push(found::bundle(&bytes, &place)),
            Err(e) => out.push(Found::broken(place, e)),
        }
    }
    out
}

/// The bundle layer's descriptor of a referrer manifest about `subject`.
pub fn bundle_layer(manifest: &[u8], subject: &str) -> Option<Descriptor> {
    let digest = referrers::bundle_layer_of(manifest, subject)?;
    let m: layout::ImageManifest = serde_json::from_slice(manifest).ok()?;
    m.layers.into_iter().find(|l| l.digest == digest)
}
