//! OCI image layouts (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`), as `skopeo copy
//! oci:DIR:NAME`, `buildah push … oci:DIR`, `crane`'s and BuildKit's OCI exporters write them:
//! each manifest or index that `index.json` lists is an image.

use serde_json::Value;

/// The annotation that names a manifest in a layout: a full reference or just a tag.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// More entries than this in one `index.json` are refused.
pub const MAX_ENTRIES: usize = 1000;

/// One descriptor of `index.json`'s `manifests`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub media_type: String,
    /// `sha256:<hex>` as written (validated).
    pub digest: String,
    pub size: u64,
    /// The `org.opencontainers.image.ref.name` annotation, if any.
    pub ref_name: Option<String>,
}

/// Parses `index.json`. Each entry needs a `digest` of a known algorithm with the right hex
/// length and a `size`; only sha256 manifests can be named as images (registries and cosign
/// address them so), so another algorithm is refused by name.
pub fn parse_index(bytes: &[u8]) -> Result<Vec<Entry>, String> {
    let v: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("index.json is not valid JSON: {e}"))?;
    let obj = v.as_object().ok_or("index.json is not a JSON object")?;
    match obj.get("schemaVersion") {
        Some(Value::Number(n)) if n.as_u64() == Some(2) => {}
        None => {}
        Some(other) => {
            return Err(format!(
                "index.json has schemaVersion {}, not 2",
                short(&other.to_string())
            ));
        }
    }
    let manifests = match obj.get("manifests") {
        Some(Value::Array(a)) => a,
        Some(_) => return Err("index.json: \"manifests\" is not an array".into()),
        None => return Err("index.json has no \"manifests\"".into()),
    };
    if manifests.len() > MAX_ENTRIES {
        return Err(format!(
            "index.json lists more than {MAX_ENTRIES} manifests"
        ));
    }
    let mut out = Vec::new();
    for (i, m) in manifests.iter().enumerate() {
        let at = |p: &str| format!("index.json manifests[{i}]: {p}");
        let m = m.as_object().ok_or_else(|| at("is not an object"))?;
        let media_type = match m.get("mediaType") {
            Some(Value::String(s)) => s.clone(),
            None => String::new(),
            Some(_) => return Err(at("mediaType is not a string")),
        };
        let digest = m
            .get("digest")
            .and_then(Value::as_str)
            .ok_or_else(|| at("has no digest string"))?;
        check_digest(digest).map_err(|p| at(&p))?;
        let size = m
            .get("size")
            .and_then(Value::as_u64)
            .ok_or_else(|| at("has no size (a non-negative integer)"))?;
        let ref_name = match m.get("annotations") {
            None | Some(Value::Null) => None,
            Some(Value::Object(a)) => match a.get(REF_NAME) {
                None => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(_) => return Err(at(&format!("annotation {REF_NAME} is not a string"))),
            },
            Some(_) => return Err(at("annotations is not an object")),
        };
        out.push(Entry {
            media_type,
            digest: digest.to_owned(),
            size,
            ref_name,
        });
    }
    Ok(out)
}

fn check_digest(d: &str) -> Result<(), String> {
    let (alg, hex) = d
        .split_once(':')
        .ok_or_else(|| format!("digest {:?} is not algorithm:hex", short(d)))?;
    let len = match alg {
        "sha256" => 64,
        "sha512" => {
            return Err(format!(
                "digest {:?}: only sha256 manifests can be named as images",
                short(d)
            ));
        }
        _ => return Err(format!("digest {:?}: unknown algorithm", short(d))),
    };
    if hex.len() != len || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(format!(
            "digest {:?}: sha256 needs 64 lowercase hex characters",
            short(d)
        ));
    }
    Ok(())
}

/// The image reference an entry stands for: its `ref.name` when that is a full reference (it
/// names a registry: `host.tld/…`, `host:port/…`, `localhost/…`), else `repository` (the
/// `=REPOSITORY` of the flag), with the entry's digest.
pub fn reference(entry: &Entry, repository: Option<&str>) -> Result<String, String> {
    let full = entry.ref_name.as_deref().filter(|r| is_full_reference(r));
    let name = match (full, repository) {
        (Some(r), _) => {
            // A reference with its own digest must agree with the descriptor.
            match r.split_once('@') {
                Some((base, d)) if d == entry.digest => base.to_owned(),
                Some(_) => {
                    return Err(format!(
                        "{} is named {:?}, which carries another digest",
                        entry.digest,
                        short(r)
                    ));
                }
                None => r.to_owned(),
            }
        }
        (None, Some(repo)) => repo.to_owned(),
        (None, None) => {
            let has = match &entry.ref_name {
                Some(r) => format!("its {REF_NAME} is {:?}, not a full reference", short(r)),
                None => format!("it has no {REF_NAME} annotation"),
            };
            return Err(format!(
                "{}: {has}; name the repository with --oci-layout DIR=REPOSITORY",
                entry.digest
            ));
        }
    };
    Ok(format!("{name}@{}", entry.digest))
}

/// A reference that names its registry: the first component has a `.` or `:` or is
/// `localhost`. A bare tag (`latest`, `v1.2`) or a Docker Hub short name is not one: chainlet
/// would not guess a registry to sign in.
pub fn is_full_reference(r: &str) -> bool {
    match r.split_once('/') {
        Some((host, rest)) => {
            !rest.is_empty() && (host.contains('.') || host.contains(':') || host == "localhost")
        }
        None => false,
    }
}

fn short(s: &str) -> String {
    s.chars().take(100).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b4";

    fn entry(ref_name: Option<&str>) -> Entry {
        Entry {
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            digest: D.into(),
            size: 10,
            ref_name: ref_name.map(str::to_owned),
        }
    }

    #[test]
    fn index_entries_and_their_names() {
        let index = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{D}","size":10,"annotations":{{"{REF_NAME}":"v1"}}}}]}}"#
        );
        let e = parse_index(index.as_bytes()).unwrap();
        assert_eq!(e, [entry(Some("v1"))]);
        assert_eq!(
            reference(&e[0], Some("reg.io/app")).unwrap(),
            format!("reg.io/app@{D}")
        );
        assert!(
            reference(&e[0], None)
                .unwrap_err()
                .contains("DIR=REPOSITORY")
        );
        assert_eq!(
            reference(&entry(Some("localhost:5000/a:v1")), Some("reg.io/x")).unwrap(),
            format!("localhost:5000/a:v1@{D}")
        );
        assert!(reference(&entry(Some("busybox:v1")), None).is_err());
    }

    #[test]
    fn bad_indexes_are_refused() {
        assert!(parse_index(b"[]").is_err());
        assert!(parse_index(b"{}").is_err());
        assert!(parse_index(br#"{"manifests":[{"digest":"sha256:ab","size":1}]}"#).is_err());
        assert!(parse_index(br#"{"manifests":[{"digest":"md5:ab","size":1}]}"#).is_err());
        assert!(parse_index(br#"{"schemaVersion":1,"manifests":[]}"#).is_err());
    }
}
