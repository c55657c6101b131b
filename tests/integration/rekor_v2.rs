//! Rekor v2 and RFC 3161 timestamps, live: chainlet logs a TaskRun's attestation and its image
//! signatures in the real Rekor v2 (rekor-server-posix) with timestamps from the real timestamp
//! authority, writes `bundle.sigstore.json` files, and cosign 3.1 and sigstore-go verify them
//! against the trusted root the harness writes; a tampered proof, checkpoint or timestamp fails
//! cosign 3.1; a log whose key is not the trusted root's, or a timestamp authority that is down,
//! fails the run with nothing written.

use std::path::{Path, PathBuf};
use std::time::Instant;

use base64::Engine as _;
use serde_json::Value;

use crate::common::attest::Attest;
use crate::common::sigstore::{
    LogKey, RekorV2, Tsa, cosign3, p256_key, signing_config, sigstore_go_verify, trusted_root,
    write_json,
};
use crate::common::*;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn text(out: &std::process::Output) -> String {
    format!(
        "{}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A pod with typical results (three images) and a cosign key (password "test").
fn pod() -> Pod {
    let pod = Pod::new();
    pod.typical_results().chainlet_key("test");
    pod
}

/// `chainlet attest` with storage file, logging to `rekor` under trusted root `root`, with
/// timestamps from `tsa_url` (the RFC 3161 endpoint).
fn attest(pod: &Pod, rekor: &RekorV2, root: &Path, tsa_url: &str) -> Attest {
    Attest::offline(pod)
        .set("transparency.enabled=true")
        .set(&format!("transparency.url={}", rekor.url()))
        .flag("--trusted-root", root)
        .flag("--rekor-version", "2")
        .flag("--timestamp-url", tsa_url)
}

fn tsa_endpoint(tsa: &Tsa) -> String {
    format!("{}/api/v1/timestamp", tsa.url())
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{path:?}: {e}")))
        .unwrap()
}

/// Every image signature folder under `out/images`.
fn image_dirs(pod: &Pod) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = pod
        .written()
        .iter()
        .filter(|f| f.starts_with("images/") && f.ends_with("/bundle.sigstore.json"))
        .map(|f| pod.path("out").join(f).parent().unwrap().to_owned())
        .collect();
    dirs.sort();
    dirs
}

/// A change to a bundle's JSON.
type Tamper<'a> = Box<dyn Fn(&mut Value) + 'a>;

fn cosign_type(predicate_type: &str) -> &'static str {
    match predicate_type {
        "https://slsa.dev/provenance/v1" => "slsaprovenance1",
        "https://slsa.dev/provenance/v0.2" => "slsaprovenance02",
        other => panic!("no cosign --type for {other}"),
    }
}

fn verify_blob(bundle: &Path, key: &Path, root: &Path, blob: &Path) -> std::process::Output {
    cosign3(
        &[
            "verify-blob",
            // Without it cosign 3.1 does not check RFC 3161 timestamps for a key's signature.
            "--use-signed-timestamps",
            "--bundle",
            bundle.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--trusted-root",
            root.to_str().unwrap(),
            blob.to_str().unwrap(),
        ],
        &[],
    )
    .expect("cosign3 is there (checked before)")
}

#[test]
fn attestation_and_image_bundles_from_rekor_v2_verify_with_cosign3_and_sigstore_go() {
    let Some(rekor) = RekorV2::start() else {
        return;
    };
    let Some(tsa) = Tsa::start() else { return };
    if cosign3(&["version"], &[]).is_none() {
        return;
    }
    let pod = pod();
    let root = write_json(
        &pod.path(""),
        "trusted_root.json",
        &trusted_root(&[&rekor], &[&tsa]),
    );
    let t0 = Instant::now();
    let out = attest(&pod, &rekor, &root, &tsa_endpoint(&tsa)).run();
    let took = t0.elapsed();
    assert!(out.status.success(), "chainlet attest: {}", text(&out));
    let images = image_dirs(&pod);
    eprintln!(
        "chainlet attest logged {} entries in Rekor v2 in {} ms",
        1 + images.len(),
        took.as_millis()
    );
    assert_eq!(images.len(), 3, "{:?}", pod.written());

    let key = pod.path("secrets/cosign.pub");
    let run_dir = pod.path(&format!("out/taskrun-{UID}"));
    let bundle_path = run_dir.join("bundle.sigstore.json");
    let bundle = read_json(&bundle_path);
    let entry = &bundle["verificationMaterial"]["tlogEntries"][0];
    assert_eq!(entry["kindVersion"]["kind"], "hashedrekord", "{bundle:#}");
    assert_eq!(entry["kindVersion"]["version"], "0.0.2", "{bundle:#}");
    assert!(
        entry["inclusionProof"]["checkpoint"]["envelope"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1\n"),
        "{bundle:#}"
    );
    assert_eq!(
        bundle["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "{bundle:#}"
    );

    // The attestation: cosign 3.1 checks the statement's subjects against the artifact's
    // digest, so it is given one subject's digest.
    let statement = pod.statement();
    let typ = cosign_type(statement["predicateType"].as_str().unwrap());
    let subject = statement["subject"][0]["digest"]["sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = cosign3(
        &[
            "verify-blob-attestation",
            "--use-signed-timestamps",
            "--bundle",
            bundle_path.to_str().unwrap(),
            "--new-bundle-format",
            "--key",
            key.to_str().unwrap(),
            "--trusted-root",
            root.to_str().unwrap(),
            "--type",
            typ,
            "--digest",
            &subject,
            "--digestAlg",
            "sha256",
        ],
        &[],
    )
    .unwrap();
    assert!(
        out.status.success(),
        "cosign3 verify-blob-attestation: {}",
        text(&out)
    );
    let sigstore_go = |bundle: &Path, artifact: &[&str]| {
        let mut args = vec![
            "-publicKey",
            key.to_str().unwrap(),
            "-trustedrootJSONpath",
            root.to_str().unwrap(),
            "-requireCTlog=false",
        ];
        args.extend_from_slice(artifact);
        args.push(bundle.to_str().unwrap());
        sigstore_go_verify(&args)
    };
    if let Some(out) = sigstore_go(&bundle_path, &["-artifact-digest", &subject]) {
        assert!(
            out.status.success() && text(&out).contains("Verification successful"),
            "sigstore-go-verification (attestation): {}",
            text(&out)
        );
    }

    // Each image signature: its bundle and its payload.
    for dir in &images {
        let bundle = dir.join("bundle.sigstore.json");
        let payload = dir.join("payload.json");
        let out = verify_blob(&bundle, &key, &root, &payload);
        assert!(
            out.status.success(),
            "cosign3 verify-blob {dir:?}: {}",
            text(&out)
        );
        if let Some(out) = sigstore_go(&bundle, &["-artifact", payload.to_str().unwrap()]) {
            assert!(
                out.status.success(),
                "sigstore-go-verification {dir:?}: {}",
                text(&out)
            );
        }
    }

    // A flipped byte in the inclusion proof, the checkpoint or the timestamp: refused. The
    // images were logged after the attestation, so their proofs have at least one hash.
    let dir = &images[0];
    let original = read_json(&dir.join("bundle.sigstore.json"));
    let flip_b64 = |v: &mut Value, at_end: bool| {
        let mut bytes = B64.decode(v.as_str().unwrap()).unwrap();
        let i = if at_end { bytes.len() - 1 } else { 0 };
        bytes[i] ^= 1;
        *v = Value::String(B64.encode(bytes));
    };
    let tampered: [(&str, Tamper<'_>); 3] = [
        (
            // A v2 verifier proves inclusion under the checkpoint's root (rekor-tiles
            // pkg/verify VerifyInclusionProof), not the proof's rootHash field: flip a sibling.
            "inclusion proof hash",
            Box::new(|b: &mut Value| {
                flip_b64(
                    &mut b["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["hashes"][0],
                    false,
                )
            }),
        ),
        (
            "checkpoint",
            Box::new(|b: &mut Value| {
                let cp = &mut b["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["checkpoint"]
                    ["envelope"];
                // The tree size line, one digit changed.
                let text = cp.as_str().unwrap().to_owned();
                let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
                let size: u64 = lines[1].parse().unwrap();
                lines[1] = (size + 1).to_string();
                *cp = Value::String(lines.join("\n"));
            }),
        ),
        (
            "timestamp",
            Box::new(|b: &mut Value| {
                flip_b64(
                    &mut b["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]
                        [0]["signedTimestamp"],
                    true,
                )
            }),
        ),
    ];
    for (what, tamper) in &tampered {
        let mut b = original.clone();
        tamper(&mut b);
        let path = write_json(&pod.path(""), "tampered.json", &b);
        let out = verify_blob(&path, &key, &root, &dir.join("payload.json"));
        assert!(
            !out.status.success(),
            "cosign3 accepted a bundle with a flipped {what}: {}",
            text(&out)
        );
        if let Some(out) = sigstore_go(
            &path,
            &["-artifact", dir.join("payload.json").to_str().unwrap()],
        ) {
            assert!(
                !out.status.success(),
                "sigstore-go accepted a bundle with a flipped {what}: {}",
                text(&out)
            );
        }
    }
}

#[test]
fn a_signing_config_names_the_v2_log_and_the_timestamp_authority() {
    let Some(rekor) = RekorV2::start() else {
        return;
    };
    let Some(tsa) = Tsa::start() else { return };
    if cosign3(&["version"], &[]).is_none() {
        return;
    }
    let pod = pod();
    let root = write_json(
        &pod.path(""),
        "trusted_root.json",
        &trusted_root(&[&rekor], &[&tsa]),
    );
    let config = write_json(
        &pod.path(""),
        "signing_config.json",
        &signing_config(&[&rekor], &[&tsa]),
    );
    // No transparency.url, --rekor-version or --timestamp-url: the signing config says.
    let out = Attest::offline(&pod)
        .set("transparency.enabled=true")
        .flag("--trusted-root", &root)
        .flag("--signing-config", &config)
        .run();
    assert!(out.status.success(), "chainlet attest: {}", text(&out));
    let dir = &image_dirs(&pod)[0];
    let out = verify_blob(
        &dir.join("bundle.sigstore.json"),
        &pod.path("secrets/cosign.pub"),
        &root,
        &dir.join("payload.json"),
    );
    assert!(out.status.success(), "cosign3 verify-blob: {}", text(&out));
}

#[test]
fn a_log_key_other_than_the_trusted_roots_fails_the_run_and_nothing_is_written() {
    let Some(rekor) = RekorV2::start() else {
        return;
    };
    let Some(tsa) = Tsa::start() else { return };
    let pod = pod();
    let (_, other) = p256_key(&pod.path(""), "other-log");
    let root = write_json(
        &pod.path(""),
        "trusted_root.json",
        &trusted_root(
            &[&LogKey {
                url: rekor.url(),
                der: other,
                major_api_version: 2,
            }],
            &[&tsa],
        ),
    );
    let out = attest(&pod, &rekor, &root, &tsa_endpoint(&tsa)).run();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(err.contains("does not verify"), "{err}");
    assert!(err.contains(&rekor.url()), "the error names the log: {err}");
    assert_eq!(
        err.lines().filter(|l| !l.trim().is_empty()).count(),
        1,
        "{err}"
    );
    assert_eq!(pod.written(), Vec::<String>::new());
}

#[test]
fn a_timestamp_authority_that_is_down_fails_the_run_and_nothing_is_written() {
    let Some(rekor) = RekorV2::start() else {
        return;
    };
    let Some(tsa) = Tsa::start() else { return };
    let pod = pod();
    let root = write_json(
        &pod.path(""),
        "trusted_root.json",
        &trusted_root(&[&rekor], &[&tsa]),
    );
    // Nothing listens there.
    let down = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/api/v1/timestamp", l.local_addr().unwrap())
    };
    let t0 = Instant::now();
    let out = attest(&pod, &rekor, &root, &down)
        .flag("--registry-timeout", "5")
        .run();
    let err = stderr(&out);
    eprintln!("failed after {} ms", t0.elapsed().as_millis());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        err.contains("timestamp authority") && err.contains(&down),
        "{err}"
    );
    assert_eq!(pod.written(), Vec::<String>::new());
}

#[test]
fn a_rerun_reuses_the_entries_the_log_already_has_read_back_from_its_tiles() {
    let Some(rekor) = RekorV2::start() else {
        return;
    };
    let Some(tsa) = Tsa::start() else { return };
    if cosign3(&["version"], &[]).is_none() {
        return;
    }
    let pod = pod();
    let root = write_json(
        &pod.path(""),
        "trusted_root.json",
        &trusted_root(&[&rekor], &[&tsa]),
    );
    let index_of = |dir: &Path| {
        read_json(&dir.join("bundle.sigstore.json"))["verificationMaterial"]["tlogEntries"][0]
            ["logIndex"]
            .clone()
    };
    let out = attest(&pod, &rekor, &root, &tsa_endpoint(&tsa)).run();
    assert!(out.status.success(), "first run: {}", text(&out));
    let first: Vec<Value> = image_dirs(&pod).iter().map(|d| index_of(d)).collect();
    // The same images, the same key: the same signatures (deterministic ECDSA), which the log
    // answers with 409; the run reads them back and stores them as before.
    let out = attest(&pod, &rekor, &root, &tsa_endpoint(&tsa))
        .flag("--log-level", "info")
        .run();
    assert!(out.status.success(), "second run: {}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("reused"), "{stderr}");
    let dirs = image_dirs(&pod);
    let second: Vec<Value> = dirs.iter().map(|d| index_of(d)).collect();
    assert_eq!(
        first, second,
        "the image signatures' entries are the first run's"
    );
    let key = pod.path("secrets/cosign.pub");
    for dir in &dirs {
        let out = verify_blob(
            &dir.join("bundle.sigstore.json"),
            &key,
            &root,
            &dir.join("payload.json"),
        );
        assert!(out.status.success(), "{}: {}", dir.display(), text(&out));
    }
}
