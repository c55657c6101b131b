//! Local files: `--bundle FILE ARTIFACT` (a Sigstore bundle and the file or image it is for)
//! and `--dir DIR` (chainlet attest's `--output-dir`, DESIGN.md "Layout").

use std::io::Read as _;
use std::path::{Path, PathBuf};

use sha2::Sha256;

use super::evidence::{self, BundleContent};
use super::found::{self, Beside, Found, Kind};
use super::{Report, Setup, judge, shown};
use crate::Failure;
use crate::pki::Hash;
use crate::subjects::ImageRef;

/// Bundles, envelopes and payloads are small.
const MAX_FILE: u64 = 16 * 1024 * 1024;

fn read(path: &Path) -> Result<Vec<u8>, String> {
    crate::fsread::read_limited(path, MAX_FILE).map_err(|e| format!("{}: {e}", shown(path)))
}

/// The artifact of `--bundle`: a file, or an image by digest.
enum Artifact {
    File(PathBuf),
    Image(ImageRef),
}

/// `--bundle FILE ARTIFACT`.
pub fn bundle(file: &str, artifact: &str, setup: &Setup) -> Result<Report, Failure> {
    let path = Path::new(file);
    let target = if Path::new(artifact).is_file() {
        Artifact::File(PathBuf::from(artifact))
    } else if let Ok(image) = ImageRef::parse(artifact.trim()) {
        Artifact::Image(image)
    } else {
        return Err(Failure::usage(format!(
            "verify: --bundle {file} {artifact}: the artifact is neither a file nor IMAGE@sha256:<hex>"
        )));
    };
    let place = shown(path);
    let bytes = match read(path) {
        Ok(b) => b,
        Err(e) => return Err(Failure::usage(format!("verify: --bundle: {e}"))),
    };
    let sha256 = match &target {
        Artifact::File(p) => {
            sha256_file(p).map_err(|e| Failure::run(format!("verify: {artifact}: {e}")))?
        }
        Artifact::Image(i) => i.digest_hex.clone(),
    };
    let found = match evidence::from_bundle(&bytes, &place) {
        Err(e) => Found::broken(&place, found::strip_place(&e, &place)),
        Ok((
            BundleContent::Dsse {
                payload_type,
                payload,
            },
            ev,
        )) => Found {
            place: place.clone(),
            kind: Kind::Attestation {
                payload_type,
                payload,
                evidence: vec![ev],
            },
        },
        Ok((BundleContent::MessageDigest(hash, digest), ev)) => {
            let actual = match (&target, hash) {
                (_, Hash::Sha256) => Ok(hex_to_bytes(&sha256)),
                (Artifact::File(p), Hash::Sha384) => {
                    hash_file::<sha2::Sha384>(p).map_err(|e| format!("{}: {e}", shown(p)))
                }
                (Artifact::File(p), Hash::Sha512) => {
                    hash_file::<sha2::Sha512>(p).map_err(|e| format!("{}: {e}", shown(p)))
                }
                (Artifact::Image(_), _) => Err("an image digest is sha256 only".into()),
            };
            match actual {
                Err(e) => Found::broken(&place, e),
                Ok(a) if a != digest => Found::broken(
                    &place,
                    format!(
                        "the bundle signs a digest that is not {artifact}'s (another artifact, or \
                         the file changed)"
                    ),
                ),
                Ok(_) => Found {
                    place: place.clone(),
                    kind: Kind::Blob { evidence: ev },
                },
            }
        }
    };
    Ok(judge(artifact, Some(&sha256), &[found], &[], setup))
}

fn hex_to_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

fn sha256_file(path: &Path) -> Result<String, String> {
    hash_file::<Sha256>(path).map(|d| crate::registry::hex(&d))
}

/// The digest of a file, read 64 KiB at a time (an artifact may be large).
fn hash_file<D: sha2::Digest>(path: &Path) -> Result<Vec<u8>, String> {
    let mut f = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut h = D::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().to_vec())
}

/// The attestation folders of an output dir (`taskrun-*`, `pipelinerun-*`), sorted.
fn attestation_dirs(dir: &Path) -> Result<Vec<PathBuf>, Failure> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Failure::usage(format!("verify: --dir {}: {e}", shown(dir))))?;
    let mut out: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("taskrun-") || n.starts_with("pipelinerun-"))
                && p.join("envelope.json").is_file()
        })
        .collect();
    out.sort();
    Ok(out)
}

/// One attestation folder: its bundle when it reads as one (it carries the log entry and
/// timestamps), else its envelope.
fn attestation_in(folder: &Path) -> Found {
    let bundle_path = folder.join(crate::storage::file::BUNDLE_FILE);
    if bundle_path.is_file()
        && let Ok(bytes) = read(&bundle_path)
    {
        let f = found::bundle(&bytes, &shown(&bundle_path));
        if matches!(f.kind, Kind::Attestation { .. }) {
            return f;
        }
    }
    let path = folder.join("envelope.json");
    match read(&path) {
        Ok(bytes) => found::envelope(&bytes, &shown(&path), &Beside::default()),
        Err(e) => Found::broken(shown(&path), e),
    }
}

/// The image signature folder of `image`, when there is one.
fn signature_in(dir: &Path, image: &ImageRef) -> Option<Found> {
    let folder =
        dir.join("images")
            .join(format!("{}@sha256-{}", image.repo_name(), image.digest_hex));
    let payload_path = folder.join("payload.json");
    if !payload_path.is_file() {
        return None;
    }
    let place = shown(&folder);
    Some(
        match (read(&payload_path), read(&folder.join("signature"))) {
            (Ok(payload), Ok(sig)) => found::signature(
                payload,
                String::from_utf8_lossy(&sig).trim(),
                &place,
                &Beside::default(),
            ),
            (Err(e), _) | (_, Err(e)) => Found::broken(place, e),
        },
    )
}

/// `--dir DIR IMAGE`: every attestation in the dir (one must be about the image), and the
/// image's signature folder.
pub fn image_in_dir(
    dir: &Path,
    name: &str,
    image: &ImageRef,
    setup: &Setup,
) -> Result<Report, Failure> {
    let mut found: Vec<Found> = attestation_dirs(dir)?
        .iter()
        .map(|d| attestation_in(d))
        .collect();
    if setup.require_signature {
        found.extend(signature_in(dir, image));
    }
    let looked = vec![shown(dir)];
    Ok(judge(name, Some(&image.digest_hex), &found, &looked, setup))
}

/// `--dir DIR` alone: each attestation on its own (signature and policy; no image to name).
pub fn whole_dir(dir: &Path, setup: &Setup) -> Result<Vec<Report>, Failure> {
    let dirs = attestation_dirs(dir)?;
    if dirs.is_empty() {
        return Ok(vec![judge(&shown(dir), None, &[], &[shown(dir)], setup)]);
    }
    Ok(dirs
        .iter()
        .map(|d| judge(&shown(d), None, &[attestation_in(d)], &[], setup))
        .collect())
}
