//! Digest files as image builders write them, told apart by their content:
//!
//! - a bare digest, `sha256:<hex>`: buildah `--digestfile`, kaniko `--digest-file` (the image's
//!   name must be given with `=IMAGE`);
//! - lines of `repo[:tag]@sha256:<hex>`: kaniko `--image-name-with-digest-file`,
//!   `ko build --image-refs`;
//! - a JSON object: `docker buildx build --metadata-file` (`containerimage.digest` and
//!   `image.name`, which may list several names separated by commas), or `docker buildx bake
//!   --metadata-file` (one such object per target).

use serde_json::Value;

/// More lines or bake targets than this are refused.
pub const MAX_ENTRIES: usize = 1000;

/// Which builder's format a file had (for logs and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One bare `sha256:<hex>`.
    Bare,
    /// `repo@sha256:<hex>` lines.
    References,
    /// buildx metadata JSON.
    BuildxMetadata,
}

/// Parses a digest file into image references `name@sha256:<hex>` (the names as written, with
/// any tag; normalising them is the caller's job). `image` is the `=IMAGE` of the flag: needed
/// for a bare digest (and for buildx metadata without `image.name`), refused where the file
/// names its images itself, so that two names never compete.
pub fn parse(text: &str, image: Option<&str>) -> Result<(Kind, Vec<String>), String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("is empty".into());
    }
    if trimmed.starts_with('{') {
        return buildx(trimmed, image).map(|refs| (Kind::BuildxMetadata, refs));
    }
    let lines: Vec<&str> = trimmed
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if lines.len() > MAX_ENTRIES {
        return Err(format!("has more than {MAX_ENTRIES} lines"));
    }
    if let [only] = lines[..]
        && !only.contains('@')
    {
        check_digest(only).map_err(|p| format!("line 1: {p}"))?;
        let image = image.ok_or(
            "holds only a digest (buildah --digestfile, kaniko --digest-file): name the image \
             with PATH=IMAGE",
        )?;
        return Ok((Kind::Bare, vec![join(image, only)?]));
    }
    if image.is_some() {
        return Err(
            "names its images itself (repo@sha256:… lines); =IMAGE is only for a file holding a \
             bare digest"
                .into(),
        );
    }
    let mut refs = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some((name, digest)) = line.rsplit_once('@') else {
            return Err(format!(
                "line {}: expected repo@sha256:<hex> (a bare digest must be alone in its file)",
                i + 1
            ));
        };
        check_digest(digest).map_err(|p| format!("line {}: {p}", i + 1))?;
        if name.is_empty() {
            return Err(format!("line {}: no image name before '@'", i + 1));
        }
        refs.push(format!("{name}@{digest}"));
    }
    Ok((Kind::References, refs))
}

fn buildx(text: &str, image: Option<&str>) -> Result<Vec<String>, String> {
    let v: Value = serde_json::from_str(text)
        .map_err(|e| format!("is not valid JSON (buildx --metadata-file): {e}"))?;
    let obj = v.as_object().ok_or("is not a JSON object")?;
    let mut targets: Vec<(&str, &serde_json::Map<String, Value>)> = Vec::new();
    if obj.contains_key(DIGEST_KEY) {
        targets.push(("", obj));
    } else {
        // buildx bake: one metadata object per target (serde_json's map is sorted by key).
        for (k, v) in obj {
            if let Some(o) = v.as_object()
                && o.contains_key(DIGEST_KEY)
            {
                targets.push((k, o));
            }
        }
        if targets.is_empty() {
            return Err(format!(
                "is JSON without {DIGEST_KEY:?} (expected docker buildx --metadata-file output)"
            ));
        }
    }
    if targets.len() > MAX_ENTRIES {
        return Err(format!("has more than {MAX_ENTRIES} targets"));
    }
    let mut refs = Vec::new();
    for (target, o) in targets {
        let at = if target.is_empty() {
            String::new()
        } else {
            format!("target {target:?}: ")
        };
        let digest = o[DIGEST_KEY]
            .as_str()
            .ok_or_else(|| format!("{at}{DIGEST_KEY:?} is not a string"))?;
        check_digest(digest).map_err(|p| format!("{at}{DIGEST_KEY:?}: {p}"))?;
        let names: Vec<&str> = match o.get(NAME_KEY) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => s
                .split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .collect(),
            Some(_) => return Err(format!("{at}{NAME_KEY:?} is not a string")),
        };
        if names.len() > MAX_ENTRIES {
            return Err(format!(
                "{at}{NAME_KEY:?} has more than {MAX_ENTRIES} names"
            ));
        }
        match (names.is_empty(), image) {
            (true, Some(image)) => refs.push(join(image, digest)?),
            (true, None) => {
                return Err(format!(
                    "{at}has no {NAME_KEY:?} (the image was not pushed by name): name it with \
                     PATH=IMAGE"
                ));
            }
            (false, Some(_)) => {
                return Err(format!(
                    "{at}names its image in {NAME_KEY:?}; =IMAGE is only for metadata without one"
                ));
            }
            (false, None) => {
                for name in names {
                    // `name@sha256:…` in image.name is allowed; the digest must then agree.
                    match name.split_once('@') {
                        Some((base, d)) if d == digest => refs.push(format!("{base}@{digest}")),
                        Some(_) => {
                            return Err(format!(
                                "{at}{NAME_KEY:?} entry {name:?} has another digest than {digest}"
                            ));
                        }
                        None => refs.push(format!("{name}@{digest}")),
                    }
                }
            }
        }
    }
    Ok(refs)
}

const DIGEST_KEY: &str = "containerimage.digest";
const NAME_KEY: &str = "image.name";

/// `IMAGE@digest`, where IMAGE is a name with an optional tag but no digest.
fn join(image: &str, digest: &str) -> Result<String, String> {
    let image = image.trim();
    if image.is_empty() {
        return Err("=IMAGE is empty".into());
    }
    if image.contains('@') {
        return Err(format!(
            "=IMAGE {image:?} has a digest; give the image name only"
        ));
    }
    Ok(format!("{image}@{digest}"))
}

/// `sha256:` and 64 lowercase hex characters: what image digests are.
pub fn check_digest(d: &str) -> Result<(), String> {
    let shown: String = d.chars().take(80).collect();
    let Some(hex) = d.strip_prefix("sha256:") else {
        return Err(format!("{shown:?} is not a sha256: image digest"));
    };
    if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(format!(
            "{shown:?}: a sha256 digest has 64 lowercase hex characters"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b4";

    #[test]
    fn each_builder_format() {
        assert_eq!(
            parse(&format!("{D}\n"), Some("reg.io/app:v1")).unwrap(),
            (Kind::Bare, vec![format!("reg.io/app:v1@{D}")])
        );
        assert!(parse(D, None).unwrap_err().contains("PATH=IMAGE"));
        assert_eq!(
            parse(&format!("reg.io/a:v1@{D}\nreg.io/b@{D}\n"), None).unwrap(),
            (
                Kind::References,
                vec![format!("reg.io/a:v1@{D}"), format!("reg.io/b@{D}")]
            )
        );
        let meta = format!(
            r#"{{"buildx.build.ref":"x","containerimage.digest":"{D}","image.name":"reg.io/a:v1,reg.io/a:latest"}}"#
        );
        assert_eq!(
            parse(&meta, None).unwrap().1,
            [format!("reg.io/a:v1@{D}"), format!("reg.io/a:latest@{D}")]
        );
        let bake = format!(
            r#"{{"b":{{"containerimage.digest":"{D}","image.name":"reg.io/b"}},"a":{{"containerimage.digest":"{D}","image.name":"reg.io/a"}}}}"#
        );
        assert_eq!(
            parse(&bake, None).unwrap().1,
            [format!("reg.io/a@{D}"), format!("reg.io/b@{D}")]
        );
    }

    #[test]
    fn near_misses_are_refused() {
        assert!(parse("", None).is_err());
        assert!(parse("sha256:abc", Some("x")).is_err());
        assert!(parse(&format!("{D}\n{D}"), Some("x")).is_err());
        assert!(parse(&format!("reg.io/a@{D}"), Some("x")).is_err());
        assert!(parse("{\"a\":1}", None).is_err());
        assert!(parse(D, Some(&format!("reg.io/a@{D}"))).is_err());
    }
}
