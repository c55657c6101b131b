//! cosign's tag layout: `sha256-<hex>.sig` and `sha256-<hex>.att` image manifests whose layers
//! are signatures or DSSE attestations, with cosign's config blob, media types and annotations,
//! so `cosign verify` and `cosign verify-attestation` find and accept what chainlet writes.

use std::collections::BTreeMap;

use super::sha256_digest;
use serde::{Deserialize, Serialize};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const SIMPLESIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
pub const DSSE_ENVELOPE: &str = "application/vnd.dsse.envelope.v1+json";
/// cosign requires this annotation on every layer; attestations carry it empty.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
pub const PREDICATE_TYPE_ANNOTATION: &str = "predicateType";

/// The tag of an image's signatures.
pub fn sig_tag(digest_hex: &str) -> String {
    format!("sha256-{digest_hex}.sig")
}

/// The tag of an image's attestations.
pub fn att_tag(digest_hex: &str) -> String {
    format!("sha256-{digest_hex}.att")
}

/// A layer to add: its bytes, media type and annotations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    pub media_type: &'static str,
    pub bytes: Vec<u8>,
    pub annotations: BTreeMap<String, String>,
}

impl Layer {
    /// An image signature layer: the simple-signing payload, the base64 signature annotation.
    pub fn signature(payload: Vec<u8>, signature_b64: &str) -> Self {
        Self {
            media_type: SIMPLESIGNING,
            bytes: payload,
            annotations: BTreeMap::from([(SIGNATURE_ANNOTATION.into(), signature_b64.into())]),
        }
    }

    /// An attestation layer: the DSSE envelope, an empty signature annotation and the
    /// predicate type.
    pub fn attestation(envelope: Vec<u8>, predicate_type: &str) -> Self {
        Self {
            media_type: DSSE_ENVELOPE,
            bytes: envelope,
            annotations: BTreeMap::from([
                (SIGNATURE_ANNOTATION.into(), String::new()),
                (PREDICATE_TYPE_ANNOTATION.into(), predicate_type.into()),
            ]),
        }
    }

    pub fn digest(&self) -> String {
        sha256_digest(&self.bytes)
    }

    fn descriptor(&self) -> Descriptor {
        Descriptor {
            media_type: self.media_type.to_owned(),
            size: self.bytes.len() as u64,
            digest: self.digest(),
            annotations: Some(self.annotations.clone()),
            other: serde_json::Map::new(),
        }
    }
}

/// An OCI descriptor in go-containerregistry's field order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType")]
    pub media_type: String,
    pub size: u64,
    pub digest: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Fields chainlet does not use (`urls`, `platform`, `artifactType`, …), kept as they were.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

/// An image manifest as cosign writes it (no manifest annotations, no subject).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageManifest {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// Fields chainlet does not use (`annotations`, `subject`, …), kept as they were.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    #[error("tag {tag} holds {what}, not a cosign image manifest; refusing to overwrite it")]
    NotImageManifest { tag: String, what: String },
    #[error(
        "tag {tag} would hold {layers} layers; cosign refuses to verify past {MAX_LAYERS}, so chainlet does not add them"
    )]
    TooManyLayers { tag: String, layers: usize },
}

/// cosign stops verifying a tag with more layers than this.
pub const MAX_LAYERS: usize = 1000;

/// What to PUT: the manifest, its media type and the config blob.
#[derive(Debug, Clone)]
pub struct Update {
    pub manifest: Vec<u8>,
    pub media_type: String,
    pub config: Vec<u8>,
}

/// Parses what a tag holds now.
pub fn parse(tag: &str, bytes: &[u8], media_type: &str) -> Result<ImageManifest, LayoutError> {
    let m: ImageManifest =
        serde_json::from_slice(bytes).map_err(|_| LayoutError::NotImageManifest {
            tag: tag.to_owned(),
            what: format!("something that is not an image manifest ({media_type})"),
        })?;
    if m.schema_version != 2 {
        return Err(LayoutError::NotImageManifest {
            tag: tag.to_owned(),
            what: format!("a schemaVersion {} manifest", m.schema_version),
        });
    }
    Ok(m)
}

/// Whether every layer is in the manifest already (same digest, media type and annotations):
/// cosign's rule for an identical layer, so re-running a TaskRun adds nothing.
pub fn contains(manifest: &ImageManifest, layer: &Layer) -> bool {
    let want = layer.descriptor();
    manifest.layers.iter().any(|d| {
        d.digest == want.digest
            && d.media_type == want.media_type
            && d.annotations.clone().unwrap_or_default() == layer.annotations
    })
}

/// Appends the layers that are not there yet, keeping every existing layer (cosign's own
/// included) in order; `None` when nothing is missing. The config is rebuilt as cosign builds
/// it: one diff_id and one history entry per layer.
pub fn append(
    tag: &str,
    existing: Option<&ImageManifest>,
    layers: &[Layer],
) -> Result<Option<Update>, LayoutError> {
    let missing: Vec<&Layer> = layers
        .iter()
        .filter(|l| existing.is_none_or(|m| !contains(m, l)))
        .collect();
    if missing.is_empty() {
        return Ok(None);
    }
    let mut descriptors: Vec<Descriptor> = existing.map(|m| m.layers.clone()).unwrap_or_default();
    descriptors.extend(missing.iter().map(|l| l.descriptor()));
    if descriptors.len() > MAX_LAYERS {
        return Err(LayoutError::TooManyLayers {
            tag: tag.to_owned(),
            layers: descriptors.len(),
        });
    }
    let config = config_blob(&descriptors);
    let config_media_type = existing
        .map(|m| m.config.media_type.clone())
        .unwrap_or_else(|| OCI_CONFIG.to_owned());
    let media_type = existing
        .and_then(|m| m.media_type.clone())
        .unwrap_or_else(|| OCI_MANIFEST.to_owned());
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(media_type.clone()),
        config: Descriptor {
            media_type: config_media_type,
            size: config.len() as u64,
            digest: sha256_digest(&config),
            annotations: None,
            other: serde_json::Map::new(),
        },
        layers: descriptors,
        other: existing.map(|m| m.other.clone()).unwrap_or_default(),
    };
    Ok(Some(Update {
        manifest: serde_json::to_vec(&manifest).expect("serialising a manifest cannot fail"),
        media_type,
        config,
    }))
}

/// cosign's config blob: empty platform, Go's zero time, and the layers as diff_ids (cosign's
/// layers are uncompressed, so a diff_id is the layer digest).
fn config_blob(layers: &[Descriptor]) -> Vec<u8> {
    const ZERO_TIME: &str = "0001-01-01T00:00:00Z";
    let history: Vec<String> = layers
        .iter()
        .map(|_| format!("{{\"created\":\"{ZERO_TIME}\"}}"))
        .collect();
    let diff_ids: Vec<String> = layers.iter().map(|d| format!("\"{}\"", d.digest)).collect();
    format!(
        "{{\"architecture\":\"\",\"created\":\"{ZERO_TIME}\",\"history\":[{}],\"os\":\"\",\
         \"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[{}]}},\"config\":{{}}}}",
        history.join(","),
        diff_ids.join(",")
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_attestation_manifest_has_cosigns_shape() {
        let layer = Layer::attestation(b"{}".to_vec(), "https://slsa.dev/provenance/v1");
        let u = append("t", None, std::slice::from_ref(&layer))
            .unwrap()
            .unwrap();
        let m: serde_json::Value = serde_json::from_slice(&u.manifest).unwrap();
        assert_eq!(m["mediaType"], OCI_MANIFEST);
        assert_eq!(m["config"]["mediaType"], OCI_CONFIG);
        assert_eq!(m["layers"][0]["mediaType"], DSSE_ENVELOPE);
        assert_eq!(m["layers"][0]["annotations"][SIGNATURE_ANNOTATION], "");
        let cfg: serde_json::Value = serde_json::from_slice(&u.config).unwrap();
        assert_eq!(cfg["rootfs"]["diff_ids"][0], layer.digest());
        assert!(String::from_utf8(u.config).unwrap().starts_with(
            "{\"architecture\":\"\",\"created\":\"0001-01-01T00:00:00Z\",\"history\":[{\"created\""
        ));
    }

    #[test]
    fn appending_keeps_old_layers_and_skips_identical_ones() {
        let a = Layer::signature(b"a".to_vec(), "c2ln");
        let b = Layer::signature(b"b".to_vec(), "c2lnMg==");
        let first = append("t", None, std::slice::from_ref(&a))
            .unwrap()
            .unwrap();
        let m = parse("t", &first.manifest, OCI_MANIFEST).unwrap();
        assert!(
            append("t", Some(&m), std::slice::from_ref(&a))
                .unwrap()
                .is_none()
        );
        let second = append("t", Some(&m), &[a.clone(), b.clone()])
            .unwrap()
            .unwrap();
        let m2 = parse("t", &second.manifest, OCI_MANIFEST).unwrap();
        assert_eq!(m2.layers.len(), 2);
        assert!(contains(&m2, &a) && contains(&m2, &b));
    }

    #[test]
    fn fields_chainlet_does_not_know_are_kept_on_append() {
        let existing = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":2,"digest":"sha256:aa"},"layers":[{"mediaType":"x","size":1,"digest":"sha256:bb","urls":["https://u"]}],"annotations":{"org.example":"kept"}}"#;
        let m = parse("t", existing.as_bytes(), OCI_MANIFEST).unwrap();
        let u = append("t", Some(&m), &[Layer::signature(b"s".to_vec(), "c2ln")])
            .unwrap()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&u.manifest).unwrap();
        assert_eq!(v["annotations"]["org.example"], "kept");
        assert_eq!(v["layers"][0]["urls"][0], "https://u");
    }

    #[test]
    fn a_tag_never_grows_past_cosigns_layer_limit() {
        let mut m = parse(
            "t",
            &append("t", None, &[Layer::signature(b"0".to_vec(), "x")])
                .unwrap()
                .unwrap()
                .manifest,
            OCI_MANIFEST,
        )
        .unwrap();
        let one = m.layers[0].clone();
        m.layers = vec![one; MAX_LAYERS];
        let e = append("t", Some(&m), &[Layer::signature(b"new".to_vec(), "y")]).unwrap_err();
        assert!(e.to_string().contains("1000"), "{e}");
    }
}
