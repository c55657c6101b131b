//! OCI 1.1 referrers (distribution spec 1.1, "Listing Referrers" and "Referrers Tag Schema"):
//! the referrers API where the registry has it, else the image index at tag `sha256-<hex>`
//! that clients keep themselves; and the Sigstore bundle manifest cosign 3 writes as a referrer
//! (`cosign sign` / `cosign attest` with the new bundle format: `pkg/oci/remote/write.go`,
//! `WriteReferrer` and `WriteAttestationNewBundleFormat`).
//!
//! Everything read here is untrusted: a tag or referrers answer that is not an image index is
//! an error, never a panic, and fields chainlet does not use are kept as they were.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::layout::{Descriptor, OCI_MANIFEST};
use super::{Call, Client, Manifest, RegistryError, Repo, sha256_digest};

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// The OCI empty descriptor's media type; its blob is `{}`.
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
pub const EMPTY_CONFIG: &[u8] = b"{}";
/// What cosign 3 writes a bundle as: the layer's media type and the manifest's artifactType.
pub const BUNDLE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// Manifest annotations cosign 3 sets on a bundle referrer.
pub const CONTENT_ANNOTATION: &str = "dev.sigstore.bundle.content";
pub const PREDICATE_TYPE_ANNOTATION: &str = "dev.sigstore.bundle.predicateType";
pub const CREATED_ANNOTATION: &str = "org.opencontainers.image.created";

/// The referrers tag of a subject digest `sha256:<hex>`: `sha256-<hex>`.
pub fn fallback_tag(digest_hex: &str) -> String {
    format!("sha256-{digest_hex}")
}

/// An OCI image index: the referrers API's answer and what the referrers tag holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Index {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    /// Fields chainlet does not use (`annotations`, `artifactType`, …), kept as they were.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReferrersError {
    #[error("tag {tag} holds {what}, not an OCI image index; refusing to overwrite it")]
    NotIndex { tag: String, what: String },
    #[error("the referrers API answered {what}, not an OCI image index")]
    BadAnswer { what: String },
    #[error("{reference} is {what}, not a manifest chainlet can name as a subject")]
    BadSubject { reference: String, what: String },
    #[error("tag {tag} would list {count} referrers; chainlet stops at {MAX_REFERRERS}")]
    TooMany { tag: String, count: usize },
}

/// More referrers than this in one index is refused rather than grown further.
pub const MAX_REFERRERS: usize = 10_000;

/// Parses an image index (what the referrers tag or the referrers API returned). `tag` names
/// where it came from in errors; `None` for the API.
pub fn parse_index(tag: Option<&str>, bytes: &[u8]) -> Result<Index, ReferrersError> {
    let bad = |what: String| match tag {
        Some(tag) => ReferrersError::NotIndex {
            tag: tag.to_owned(),
            what,
        },
        None => ReferrersError::BadAnswer { what },
    };
    let index: Index = serde_json::from_slice(bytes)
        .map_err(|_| bad("something that is not an image index".into()))?;
    if index.schema_version != 2 {
        return Err(bad(format!(
            "a schemaVersion {} document",
            index.schema_version
        )));
    }
    match index.media_type.as_deref() {
        // The spec's index has the media type; a registry's own answer may leave it out.
        Some(OCI_INDEX) => {}
        None if tag.is_none() => {}
        Some(other) => return Err(bad(format!("a {other:?} document"))),
        None => return Err(bad("a document without a mediaType".into())),
    }
    Ok(index)
}

/// The `artifactType` of an index entry, empty when it has none.
pub fn artifact_type(d: &Descriptor) -> &str {
    d.other
        .get("artifactType")
        .and_then(|v| v.as_str())
        .unwrap_or("")
}

/// Whether `index` lists a manifest of this digest already (the spec's duplicate rule).
pub fn lists(index: &Index, digest: &str) -> bool {
    index.manifests.iter().any(|d| d.digest == digest)
}

/// The index with `add` appended where missing, every other entry kept in order; `None` when
/// nothing is missing.
pub fn append(
    tag: &str,
    existing: Option<&Index>,
    add: &[Descriptor],
) -> Result<Option<Vec<u8>>, ReferrersError> {
    let missing: Vec<&Descriptor> = add
        .iter()
        .filter(|d| existing.is_none_or(|i| !lists(i, &d.digest)))
        .collect();
    if missing.is_empty() {
        return Ok(None);
    }
    let mut index = existing.cloned().unwrap_or(Index {
        schema_version: 2,
        media_type: Some(OCI_INDEX.to_owned()),
        manifests: Vec::new(),
        other: serde_json::Map::new(),
    });
    index.manifests.extend(missing.into_iter().cloned());
    if index.manifests.len() > MAX_REFERRERS {
        return Err(ReferrersError::TooMany {
            tag: tag.to_owned(),
            count: index.manifests.len(),
        });
    }
    Ok(Some(
        serde_json::to_vec(&index).expect("serialising an index cannot fail"),
    ))
}

/// The subject of a referrer: the image manifest's media type, size and digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub media_type: String,
    pub size: u64,
    pub digest: String,
}

impl Subject {
    /// From the manifest the registry returned for `digest`; its bytes must hash to it.
    pub fn of(digest: &str, m: &Manifest) -> Result<Self, ReferrersError> {
        let actual = sha256_digest(&m.bytes);
        if actual != digest {
            return Err(ReferrersError::BadSubject {
                reference: digest.to_owned(),
                what: format!("answered with a manifest whose digest is {actual}"),
            });
        }
        // The Content-Type, or the manifest's own mediaType when the header has none.
        let media_type = match m.media_type.split(';').next().unwrap_or("").trim() {
            "" => serde_json::from_slice::<serde_json::Value>(&m.bytes)
                .ok()
                .and_then(|v| v.get("mediaType")?.as_str().map(str::to_owned))
                .ok_or_else(|| ReferrersError::BadSubject {
                    reference: digest.to_owned(),
                    what: "a manifest without a media type".into(),
                })?,
            t => t.to_owned(),
        };
        Ok(Self {
            media_type,
            size: m.bytes.len() as u64,
            digest: digest.to_owned(),
        })
    }
}

/// A bundle referrer manifest as cosign 3 builds it, and its index entry.
#[derive(Debug, Clone)]
pub struct BundleManifest {
    pub bytes: Vec<u8>,
    pub digest: String,
    /// The entry for the referrers tag: media type, size, digest, `artifactType` and every
    /// annotation of the manifest (the spec's rule for the tag schema).
    pub descriptor: Descriptor,
}

/// The manifest cosign 3 pushes for a Sigstore bundle about `subject`: artifactType the bundle
/// media type, the empty config (cosign also names the artifactType on it), the bundle as its
/// one layer, and the annotations `dev.sigstore.bundle.content: dsse-envelope`,
/// `dev.sigstore.bundle.predicateType` and `org.opencontainers.image.created`.
pub fn bundle_manifest(
    subject: &Subject,
    bundle: &[u8],
    predicate_type: &str,
    created: &str,
) -> BundleManifest {
    let annotations = BTreeMap::from([
        (CONTENT_ANNOTATION.to_owned(), "dsse-envelope".to_owned()),
        (
            PREDICATE_TYPE_ANNOTATION.to_owned(),
            predicate_type.to_owned(),
        ),
        (CREATED_ANNOTATION.to_owned(), created.to_owned()),
    ]);
    let artifact = |mut d: Descriptor| {
        d.other
            .insert("artifactType".into(), serde_json::Value::from(BUNDLE_V03));
        d
    };
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": artifact(Descriptor {
            media_type: OCI_EMPTY.to_owned(),
            size: EMPTY_CONFIG.len() as u64,
            digest: sha256_digest(EMPTY_CONFIG),
            annotations: None,
            other: serde_json::Map::new(),
        }),
        "layers": [Descriptor {
            media_type: BUNDLE_V03.to_owned(),
            size: bundle.len() as u64,
            digest: sha256_digest(bundle),
            annotations: None,
            other: serde_json::Map::new(),
        }],
        "annotations": annotations,
        "subject": {
            "mediaType": subject.media_type,
            "size": subject.size,
            "digest": subject.digest,
        },
        "artifactType": BUNDLE_V03,
    });
    let bytes = serde_json::to_vec(&manifest).expect("serialising a manifest cannot fail");
    let digest = sha256_digest(&bytes);
    let descriptor = artifact(Descriptor {
        media_type: OCI_MANIFEST.to_owned(),
        size: bytes.len() as u64,
        digest: digest.clone(),
        annotations: Some(annotations),
        other: serde_json::Map::new(),
    });
    BundleManifest {
        bytes,
        digest,
        descriptor,
    }
}

/// The one bundle layer's digest of a referrer manifest, when it is a bundle referrer about
/// `subject_digest`; `None` for anything else (other referrers, unparsable manifests).
pub fn bundle_layer_of(manifest: &[u8], subject_digest: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct M {
        #[serde(default)]
        layers: Vec<L>,
        subject: Option<L>,
    }
    #[derive(Deserialize)]
    struct L {
        #[serde(rename = "mediaType", default)]
        media_type: String,
        #[serde(default)]
        digest: String,
    }
    let m: M = serde_json::from_slice(manifest).ok()?;
    if m.subject?.digest != subject_digest {
        return None;
    }
    match m.layers.as_slice() {
        [l] if l
            .media_type
            .starts_with("application/vnd.dev.sigstore.bundle") =>
        {
            Some(l.digest.clone())
        }
        _ => None,
    }
}

/// What a manifest PUT answered.
#[derive(Debug, Clone)]
pub struct Put {
    pub digest: String,
    /// The `OCI-Subject` header: the registry indexed the manifest's subject itself.
    pub subject_indexed: bool,
}

impl Client {
    /// `GET /v2/<name>/referrers/<digest>`: `Some(index)` when the registry has the referrers
    /// API, `None` when it answers 404 (or 400/406, or 200 with something that is not an
    /// index: a registry without the API behind a catch-all), as the spec's fallback says.
    pub fn referrers(&self, repo: &Repo, digest: &str) -> Result<Option<Index>, RegistryError> {
        let call = Call {
            method: "GET",
            url: self.url(repo, &format!("referrers/{digest}")),
            headers: vec![("Accept", OCI_INDEX.to_owned())],
            body: None,
            op: format!("GET referrers of {digest}"),
            retry: true,
        };
        let a = self.send(repo, call, &[200, 400, 404, 406])?;
        let content_type = a.header("content-type").unwrap_or_default();
        if a.status != 200 || !content_type.starts_with(OCI_INDEX) {
            return Ok(None);
        }
        parse_index(None, &a.body)
            .map(Some)
            .map_err(|e| RegistryError::Status {
                repo: repo.to_string(),
                op: format!("GET referrers of {digest}"),
                status: 200,
                message: e.to_string(),
            })
    }

    /// PUTs a manifest by digest or tag and says whether the registry indexed its subject.
    pub fn put_referrer(
        &self,
        repo: &Repo,
        reference: &str,
        bytes: &[u8],
        media_type: &str,
    ) -> Result<Put, RegistryError> {
        let call = Call {
            method: "PUT",
            url: self.url(repo, &format!("manifests/{reference}")),
            headers: vec![("Content-Type", media_type.to_owned())],
            body: Some(bytes),
            op: format!("PUT manifest {reference}"),
            // Pushing the same bytes by digest again is harmless.
            retry: reference.starts_with("sha256:"),
        };
        let a = self.send(repo, call, &[200, 201, 202])?;
        Ok(Put {
            digest: sha256_digest(bytes),
            subject_indexed: a.header("oci-subject").is_some_and(|v| !v.is_empty()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject() -> Subject {
        Subject {
            media_type: OCI_MANIFEST.into(),
            size: 400,
            digest: format!("sha256:{}", "a".repeat(64)),
        }
    }

    #[test]
    fn a_bundle_manifest_has_cosign_3s_shape() {
        let b = bundle_manifest(
            &subject(),
            b"{\"mediaType\":\"x\"}",
            "https://sigstore.dev/cosign/sign/v1",
            "2026-01-02T03:04:05Z",
        );
        let m: serde_json::Value = serde_json::from_slice(&b.bytes).unwrap();
        assert_eq!(m["artifactType"], BUNDLE_V03);
        assert_eq!(m["config"]["mediaType"], OCI_EMPTY);
        assert_eq!(
            m["config"]["digest"],
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        assert_eq!(m["layers"][0]["mediaType"], BUNDLE_V03);
        assert_eq!(m["subject"]["size"], 400);
        assert_eq!(m["annotations"][CONTENT_ANNOTATION], "dsse-envelope");
        let d = serde_json::to_value(&b.descriptor).unwrap();
        assert_eq!(d["artifactType"], BUNDLE_V03);
        assert_eq!(d["size"], b.bytes.len());
        assert_eq!(d["annotations"], m["annotations"]);
        assert_eq!(
            bundle_layer_of(&b.bytes, &subject().digest).as_deref(),
            Some(sha256_digest(b"{\"mediaType\":\"x\"}").as_str())
        );
        assert_eq!(bundle_layer_of(&b.bytes, "sha256:bb"), None);
    }

    #[test]
    fn appending_keeps_other_referrers_and_adds_no_duplicate() {
        let b = bundle_manifest(&subject(), b"1", "p", "t");
        let first = append("t", None, std::slice::from_ref(&b.descriptor))
            .unwrap()
            .unwrap();
        let i = parse_index(Some("t"), &first).unwrap();
        assert!(
            append("t", Some(&i), std::slice::from_ref(&b.descriptor))
                .unwrap()
                .is_none()
        );
        let other = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"m","size":1,"digest":"sha256:cc","artifactType":"application/spdx+json","annotations":{"k":"v"}}],"annotations":{"x":"y"}}"#;
        let i = parse_index(Some("t"), other.as_bytes()).unwrap();
        let v: serde_json::Value = serde_json::from_slice(
            &append("t", Some(&i), std::slice::from_ref(&b.descriptor))
                .unwrap()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(v["manifests"][0]["artifactType"], "application/spdx+json");
        assert_eq!(v["manifests"][1]["digest"], b.digest);
        assert_eq!(v["annotations"]["x"], "y");
    }

    #[test]
    fn a_tag_holding_something_else_is_refused() {
        let e = parse_index(Some("sha256-aa"), br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{}}"#).unwrap_err();
        assert!(e.to_string().contains("refusing"), "{e}");
        assert!(parse_index(Some("t"), b"[]").is_err());
        assert!(parse_index(None, br#"{"schemaVersion":2,"manifests":[]}"#).is_ok());
    }

    #[test]
    fn a_subject_must_hash_to_its_digest() {
        let m = Manifest {
            bytes: b"{}".to_vec(),
            media_type: OCI_MANIFEST.into(),
        };
        assert!(Subject::of(&sha256_digest(b"{}"), &m).is_ok());
        assert!(Subject::of("sha256:00", &m).is_err());
    }
}
