//! The Sigstore test servers (common::sigstore) proved with real clients: cosign 3.1 signs a blob
//! with a key into a bundle logged in the real Rekor v2 and timestamped by the real timestamp
//! authority, and cosign 3.1 and sigstore-go verify it against the trusted root the harness
//! writes (and refuse it with another log key); the Rekor v1 mock dedups as Rekor does and its
//! SETs verify over RFC 8785 JSON against its published key.

use std::time::{Duration, Instant};

use base64::Engine as _;
use p256::ecdsa::signature::Verifier as _;
use p256::pkcs8::DecodePublicKey as _;
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::common::registry::Registry;
use crate::common::sigstore::{
    LogKey, RekorV1Mock, RekorV2, Tsa, cosign3, http, oras, p256_key, rekor_cli, signing_config,
    sigstore_go_verify, trusted_root, write_json,
};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn text(out: &std::process::Output) -> String {
    format!(
        "{}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn cosign3_bundle_with_rekor_v2_and_tsa_verifies_with_cosign3_and_sigstore_go() {
    let t0 = Instant::now();
    let Some(rekor) = RekorV2::start() else {
        return;
    };
    let Some(tsa) = Tsa::start() else { return };
    eprintln!("both servers up in {} ms", t0.elapsed().as_millis());
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let root = write_json(
        dir.path(),
        "trusted_root.json",
        &trusted_root(&[&rekor], &[&tsa]),
    );
    let config = write_json(
        dir.path(),
        "signing_config.json",
        &signing_config(&[&rekor], &[&tsa]),
    );
    let pw = [("COSIGN_PASSWORD", "test-password")];
    let prefix = d("cosign");
    let Some(out) = cosign3(&["generate-key-pair", "--output-key-prefix", &prefix], &pw) else {
        return;
    };
    assert!(out.status.success(), "generate-key-pair: {}", text(&out));
    std::fs::write(d("blob"), b"chainlet sigstore harness\n").unwrap();
    let signed = Instant::now();
    let out = cosign3(
        &[
            "sign-blob",
            "--yes",
            "--key",
            &d("cosign.key"),
            "--signing-config",
            config.to_str().unwrap(),
            "--bundle",
            &d("bundle.json"),
            &d("blob"),
        ],
        &pw,
    )
    .unwrap();
    assert!(out.status.success(), "sign-blob: {}", text(&out));
    eprintln!("cosign3 sign-blob took {} ms", signed.elapsed().as_millis());

    // The bundle carries a v2 entry from this log and an RFC 3161 timestamp.
    let bundle: Value = serde_json::from_slice(&std::fs::read(d("bundle.json")).unwrap()).unwrap();
    let entry = &bundle["verificationMaterial"]["tlogEntries"][0];
    assert_eq!(entry["kindVersion"]["version"], "0.0.2", "{bundle:#}");
    assert_eq!(
        entry["logId"]["keyId"],
        B64.encode(sha2::Sha256::digest(rekor.public_key_der())),
        "logId is SHA-256 of the log key's DER"
    );
    let checkpoint = entry["inclusionProof"]["checkpoint"]["envelope"]
        .as_str()
        .unwrap();
    assert!(
        checkpoint.starts_with(&format!("{}\n", rekor.origin())),
        "{checkpoint}"
    );
    assert!(
        !bundle["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{bundle:#}"
    );
    // The log's own files hold the entry: the checkpoint, a level-0 tile and an entry bundle,
    // served as a tile log's read URL.
    let (status, _, served) = http(
        "GET",
        &format!("{}/checkpoint", rekor.tiles_url()),
        None,
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(status, 200);
    let served = String::from_utf8(served).unwrap();
    assert!(served.starts_with("127.0.0.1\n"), "{served}");
    assert_eq!(served, rekor.checkpoint());
    let storage = rekor.storage_dir();
    assert!(storage.join("tile/entries/000.p").is_dir(), "{storage:?}");
    let chain = tsa.cert_chain_pem();
    assert!(chain.matches("BEGIN CERTIFICATE").count() >= 2, "{chain}");

    let verify = |root: &str| {
        cosign3(
            &[
                "verify-blob",
                "--key",
                &d("cosign.pub"),
                "--bundle",
                &d("bundle.json"),
                "--trusted-root",
                root,
                &d("blob"),
            ],
            &[],
        )
        .unwrap()
    };
    let out = verify(root.to_str().unwrap());
    assert!(out.status.success(), "cosign3 verify-blob: {}", text(&out));

    let Some(out) = sigstore_go_verify(&[
        "-publicKey",
        &d("cosign.pub"),
        "-trustedrootJSONpath",
        root.to_str().unwrap(),
        "-requireCTlog=false",
        "-artifact",
        &d("blob"),
        &d("bundle.json"),
    ]) else {
        return;
    };
    assert!(
        out.status.success() && text(&out).contains("Verification successful"),
        "sigstore-go-verification: {}",
        text(&out)
    );

    // The same bundle against a trusted root whose log (same URL) has another key: refused.
    let (_, other_der) = p256_key(dir.path(), "other-log");
    let other = LogKey {
        url: rekor.url(),
        der: other_der,
        major_api_version: 2,
    };
    let wrong = write_json(
        dir.path(),
        "wrong_root.json",
        &trusted_root(&[&other], &[&tsa]),
    );
    let out = verify(wrong.to_str().unwrap());
    assert!(
        !out.status.success(),
        "cosign3 accepted another log key: {}",
        text(&out)
    );
    let out = sigstore_go_verify(&[
        "-publicKey",
        &d("cosign.pub"),
        "-trustedrootJSONpath",
        wrong.to_str().unwrap(),
        "-requireCTlog=false",
        "-artifact",
        &d("blob"),
        &d("bundle.json"),
    ])
    .unwrap();
    assert!(
        !out.status.success(),
        "sigstore-go accepted another log key: {}",
        text(&out)
    );
}

/// A hashedrekord v0.0.1 entry for a blob signed with a fresh P-256 key.
fn hashedrekord() -> Value {
    use p256::ecdsa::signature::Signer as _;
    use p256::pkcs8::EncodePublicKey as _;
    let key = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
    let blob = b"chainlet rekor v1 mock\n";
    let sig: p256::ecdsa::Signature = key.sign(blob);
    let pem = key
        .verifying_key()
        .to_public_key_pem(p256::pkcs8::LineEnding::LF)
        .unwrap();
    json!({
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": { "hash": { "algorithm": "sha256", "value": hex(&sha2::Sha256::digest(blob)) } },
            "signature": {
                "content": B64.encode(sig.to_der().as_bytes()),
                "publicKey": { "content": B64.encode(pem.as_bytes()) },
            },
        },
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn rekor_v1_mock_dedups_with_409_and_its_set_verifies() {
    let t0 = Instant::now();
    let Some(mock) = RekorV1Mock::start() else {
        return;
    };
    eprintln!("mock up in {} ms", t0.elapsed().as_millis());
    let entries = format!("{}/api/v1/log/entries", mock.url());
    let body = serde_json::to_vec(&hashedrekord()).unwrap();
    let post = || http("POST", &entries, Some(&body), Duration::from_secs(10)).unwrap();

    let (status, headers, first) = post();
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&first));
    let first: Value = serde_json::from_slice(&first).unwrap();
    let (uuid, entry) = first.as_object().unwrap().iter().next().unwrap();
    let location = format!("/api/v1/log/entries/{uuid}");
    assert!(
        headers.contains(&("location".into(), location.clone())),
        "{headers:?}"
    );

    // The same entry again: 409, pointing at the first.
    let (status, headers, answer) = post();
    assert_eq!(status, 409, "{}", String::from_utf8_lossy(&answer));
    assert!(
        headers.contains(&("location".into(), location.clone())),
        "{headers:?}"
    );
    // Both bodies reached the server, as sent.
    let posted = mock.posted();
    assert_eq!(posted.len(), 2);
    assert_eq!(posted[0], hashedrekord());
    assert_eq!(posted[1], hashedrekord());

    // Read back by uuid and by logIndex: what the first POST returned.
    let get = |path: &str| {
        let (status, _, b) = http(
            "GET",
            &format!("{}{path}", mock.url()),
            None,
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(status, 200, "GET {path}");
        serde_json::from_slice::<Value>(&b).unwrap()
    };
    assert_eq!(get(&location), first);
    let index = entry["logIndex"].as_u64().unwrap();
    assert_eq!(get(&format!("/api/v1/log/entries?logIndex={index}")), first);

    // The SET: ECDSA P-256 SHA-256 over RFC 8785 JSON of body, integratedTime, logID, logIndex
    // (serde_json's map is sorted and its output compact, which is RFC 8785 for these values).
    let signed = serde_json::to_string(&json!({
        "body": entry["body"],
        "integratedTime": entry["integratedTime"],
        "logID": entry["logID"],
        "logIndex": entry["logIndex"],
    }))
    .unwrap();
    let set = B64
        .decode(
            entry["verification"]["signedEntryTimestamp"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    let (status, _, pem) = http(
        "GET",
        &format!("{}/api/v1/log/publicKey", mock.url()),
        None,
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(status, 200);
    let key =
        p256::ecdsa::VerifyingKey::from_public_key_pem(std::str::from_utf8(&pem).unwrap()).unwrap();
    let sig = p256::ecdsa::Signature::from_der(&set).unwrap();
    key.verify(signed.as_bytes(), &sig)
        .expect("the SET verifies");
    assert!(key.verify(b"something else", &sig).is_err());
    assert_eq!(
        entry["logID"].as_str().unwrap(),
        hex(&sha2::Sha256::digest(mock.public_key_der()))
    );
    assert_eq!(
        B64.decode(entry["body"].as_str().unwrap()).unwrap(),
        serde_json::to_vec(&hashedrekord()).unwrap(),
        "the entry body is the canonical JSON of what was sent"
    );

    // Faults: garbage, 500, a log that never answers; then back to normal.
    mock.set_fault("garbage");
    let (status, _, b) = post();
    assert_eq!(status, 200);
    assert!(serde_json::from_slice::<Value>(&b).is_err());
    mock.set_fault("500");
    assert_eq!(post().0, 500);
    mock.set_fault("hang");
    let waited = Instant::now();
    assert!(http("POST", &entries, Some(&body), Duration::from_millis(500)).is_err());
    assert!(waited.elapsed() >= Duration::from_millis(450));
    mock.set_fault("off");
    assert_eq!(post().0, 409);
    assert_eq!(mock.posted().len(), 6);
    // The mock's TSA and Fulcio are there too (Fulcio checks neither token nor possession).
    assert!(mock.tsa_cert_chain_pem().contains("BEGIN CERTIFICATE"));
    let url64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let token = format!(
        "{}.{}.c2ln",
        url64.encode(br#"{"alg":"none"}"#),
        url64.encode(br#"{"sub":"test@example.com","iss":"https://issuer.test"}"#)
    );
    let pem = {
        use p256::pkcs8::EncodePublicKey as _;
        p256::ecdsa::SigningKey::from_slice(&[9u8; 32])
            .unwrap()
            .verifying_key()
            .to_public_key_pem(p256::pkcs8::LineEnding::LF)
            .unwrap()
    };
    let request = json!({
        "credentials": { "oidcIdentityToken": token },
        "publicKeyRequest": {
            "publicKey": { "algorithm": "ECDSA", "content": pem },
            "proofOfPossession": "",
        },
    });
    let (status, _, cert) = http(
        "POST",
        &format!("{}/api/v2/signingCert", mock.url()),
        Some(&serde_json::to_vec(&request).unwrap()),
        Duration::from_secs(10),
    )
    .unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&cert));
    let cert: Value = serde_json::from_slice(&cert).unwrap();
    let chain = &cert["signedCertificateEmbeddedSct"]["chain"]["certificates"];
    assert_eq!(chain.as_array().map(Vec::len), Some(2), "{cert:#}");
}

#[test]
fn oras_and_rekor_cli_run() {
    let Some(out) = rekor_cli(&["version"]) else {
        return;
    };
    assert!(out.status.success(), "rekor-cli version: {}", text(&out));
    let registry = Registry::plain();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bundle.json");
    std::fs::write(&file, br#"{"test":true}"#).unwrap();
    let reference = format!("{}/sigstore/oras:v1", registry.addr);
    let Some(out) = oras(&[
        "push",
        "--plain-http",
        "--disable-path-validation",
        "--artifact-type",
        "application/vnd.dev.sigstore.bundle.v0.3+json",
        &reference,
        &format!("{}:application/json", file.display()),
    ]) else {
        return;
    };
    assert!(out.status.success(), "oras push: {}", text(&out));
    let out = oras(&["manifest", "fetch", "--plain-http", &reference]).unwrap();
    assert!(out.status.success(), "oras manifest fetch: {}", text(&out));
    let manifest: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        manifest["artifactType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
}
