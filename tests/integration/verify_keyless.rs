//! `chainlet::verify::evidence` on what `chainlet attest --output-dir` wrote: keyless
//! signatures (the `@sigstore/mock` Fulcio certificate, its SCT and the mock's Rekor v1 entry)
//! and key signatures logged in the real Rekor v2 with RFC 3161 timestamps from the real
//! timestamp authority, each against the trusted root the harness wrote; another identity,
//! another issuer, a tampered entry or timestamp, or a missing entry when one is required,
//! each fails with its reason. (The CLI `chainlet verify` is tested over these same files.)

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use base64::Engine as _;
use chainlet::transparency::trust::TrustedRoot;
use chainlet::verify::evidence::{
    self, BundleContent, Evidence, Identity, Matcher, PublicKey, Requirement, TlogEvidence, Trust,
};
use serde_json::{Value, json};

use crate::common::attest::Attest;
use crate::common::sigstore::{
    RekorV1Mock, RekorV2, Tsa, trusted_root, trusted_root_keyless, write_json,
};
use crate::common::*;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;
const ISSUER: &str = "https://oidc.chainlet.test/clusters/ci";
const IDENTITY: &str = "https://kubernetes.io/namespaces/ci/serviceaccounts/build-bot";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A projected service-account token for the build-bot account (the mock Fulcio does not
/// check its signature).
fn pod_token() -> String {
    use p256::ecdsa::signature::Signer as _;
    let key = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
    let header = B64URL.encode(br#"{"alg":"ES256","typ":"JWT","kid":"test"}"#);
    let claims = json!({
        "iss": ISSUER, "sub": IDENTITY, "aud": ["sigstore"], "iat": now(), "exp": now() + 600,
    });
    let input = format!("{header}.{}", B64URL.encode(claims.to_string()));
    let sig: p256::ecdsa::Signature = key.sign(input.as_bytes());
    format!("{input}.{}", B64URL.encode(sig.to_bytes()))
}

/// Every `bundle.sigstore.json` chainlet wrote under the pod's `out/`: the TaskRun's first.
fn bundles(pod: &Pod) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = pod
        .written()
        .iter()
        .filter(|f| f.ends_with("bundle.sigstore.json"))
        .map(|f| pod.path("out").join(f))
        .collect();
    found.sort_by_key(|p| !p.to_string_lossy().contains("taskrun-"));
    found
}

fn read(path: &Path) -> (BundleContent, Evidence) {
    let bytes = std::fs::read(path).unwrap();
    evidence::from_bundle(&bytes, &path.display().to_string()).unwrap_or_else(|e| panic!("{e}"))
}

fn identity(subject: Matcher, issuer: Matcher) -> Option<Identity> {
    Some(Identity { subject, issuer })
}

fn exact(s: &str) -> Matcher {
    Matcher::Exact(s.into())
}

fn refused(ev: &Evidence, trust: &Trust) -> String {
    let e = evidence::check(ev, trust, SystemTime::now()).unwrap_err();
    assert!(e.starts_with(&ev.place) && !e.contains('\n'), "{e}");
    e
}

/// Keyless through the mock's Fulcio and Rekor v1: the TaskRun's attestation (a DSSE
/// envelope, its `dsse` entry) and the images' signatures (message signatures, `hashedrekord`
/// entries) verify for the token's identity and issuer, with the mock's CA, CT log and log.
#[test]
fn keyless_bundles_chainlet_wrote_verify_for_the_token_identity_only() {
    let Some(mock) = RekorV1Mock::start() else {
        return;
    };
    let pod = Pod::new();
    pod.typical_results();
    std::fs::create_dir_all(pod.path("secrets")).unwrap();
    let token = pod.path("token");
    std::fs::write(&token, pod_token()).unwrap();
    let root_path = write_json(
        &pod.path(""),
        "trusted_root.json",
        &trusted_root_keyless(&mock, &[&mock], &[]),
    );
    let out = Attest::offline(&pod)
        .flag("--trusted-root", &root_path)
        .set("transparency.enabled=true")
        .set(&format!("transparency.url={}", mock.url()))
        .set("signers.x509.fulcio.enabled=true")
        .set(&format!("signers.x509.fulcio.address={}", mock.url()))
        .set(&format!(
            "signers.x509.identity.token.file={}",
            token.display()
        ))
        .run();
    ok(&out);
    let root = TrustedRoot::read(&root_path).unwrap();
    let trust = |identity, tlog| Trust {
        key: None,
        identity,
        root: Some(root.clone()),
        tlog,
        timestamp: Requirement::IfPresent,
    };
    let good = || {
        trust(
            identity(exact(IDENTITY), exact(ISSUER)),
            Requirement::Required,
        )
    };
    let found = bundles(&pod);
    assert!(
        found.len() >= 2,
        "the TaskRun's and the images' bundles: {found:?}"
    );
    let started = now() as i64;
    for path in &found {
        let (content, ev) = read(path);
        let checked =
            evidence::check(&ev, &good(), SystemTime::now()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(checked.signer, IDENTITY);
        assert_eq!(checked.issuer.as_deref(), Some(ISSUER));
        assert!(checked.log_index.is_some(), "{checked:?}");
        let at = checked.signed_at.expect("the log's integrated time");
        assert!(
            (started - 600..=started + 60).contains(&at),
            "{at} vs {started}"
        );
        match content {
            BundleContent::Dsse { payload_type, .. } => {
                assert!(path.to_string_lossy().contains("taskrun-"), "{path:?}");
                assert_eq!(payload_type, "application/vnd.in-toto+json");
            }
            BundleContent::MessageDigest(..) => {
                assert!(path.to_string_lossy().contains("images/"), "{path:?}")
            }
        }
    }

    let (_, ev) = read(&found[0]);
    // Another service account, another issuer, a pattern that does not match.
    let other = IDENTITY.replace("build-bot", "deployer");
    let e = refused(
        &ev,
        &trust(
            identity(exact(&other), exact(ISSUER)),
            Requirement::Required,
        ),
    );
    assert!(e.contains("does not match"), "{e}");
    let e = refused(
        &ev,
        &trust(
            identity(exact(IDENTITY), exact("https://accounts.google.com")),
            Requirement::Required,
        ),
    );
    assert!(e.contains("OIDC issuer"), "{e}");
    let pattern = Matcher::Regexp("^https://kubernetes\\.io/namespaces/ci/".into());
    evidence::check(
        &ev,
        &trust(identity(pattern, exact(ISSUER)), Requirement::Required),
        SystemTime::now(),
    )
    .unwrap();
    let pattern = Matcher::Regexp("/namespaces/prod/".into());
    assert!(
        refused(
            &ev,
            &trust(identity(pattern, exact(ISSUER)), Requirement::Required)
        )
        .contains("does not match")
    );
    // No log entry: required, it fails; if present, there is no trusted time for the
    // certificate (valid for minutes), so it fails too.
    let mut bare = ev.clone();
    bare.tlog.clear();
    assert!(refused(&bare, &good()).contains("no transparency log entry, and one is required"));
    let lax = trust(
        identity(exact(IDENTITY), exact(ISSUER)),
        Requirement::IfPresent,
    );
    assert!(refused(&bare, &lax).contains("no trusted signing time"));
    // The entry's SET over another integrated time; another entry's body.
    let mut bad = ev.clone();
    let TlogEvidence::BundleEntry(v) = &mut bad.tlog[0] else {
        panic!()
    };
    let t: i64 = v["integratedTime"].as_str().unwrap().parse().unwrap();
    v["integratedTime"] = (t - 1).to_string().into();
    assert!(refused(&bad, &good()).contains("signed entry timestamp"));
    if found.len() > 1 {
        let (_, image) = read(&found[1]);
        let mut swapped = ev.clone();
        swapped.tlog = image.tlog.clone();
        let e = refused(&swapped, &good());
        assert!(e.contains("transparency log entry 0"), "{e}");
    }
    // A root without the mock's CA.
    let mut no_ca = root.clone();
    no_ca.certificate_authorities.clear();
    let t = Trust {
        root: Some(no_ca),
        ..good()
    };
    assert!(refused(&ev, &t).contains("no certificate authorities"));
}

/// A cosign key, the real Rekor v2 (no integrated time) and the real timestamp authority: the
/// time comes from the RFC 3161 timestamp, the entry's inclusion proof and checkpoint verify
/// with the trusted root's log key.
#[test]
fn rekor_v2_bundles_with_timestamps_verify_with_the_key() {
    let Some(rekor) = RekorV2::start() else {
        return;
    };
    let Some(tsa) = Tsa::start() else { return };
    let pod = Pod::new();
    pod.typical_results().chainlet_key("test");
    let root_path = write_json(
        &pod.path(""),
        "trusted_root.json",
        &trusted_root(&[&rekor], &[&tsa]),
    );
    let out = Attest::offline(&pod)
        .set("transparency.enabled=true")
        .set(&format!("transparency.url={}", rekor.url()))
        .flag("--trusted-root", &root_path)
        .flag("--rekor-version", "2")
        .flag("--timestamp-url", format!("{}/api/v1/timestamp", tsa.url()))
        .run();
    ok(&out);
    let root = TrustedRoot::read(&root_path).unwrap();
    let pem = std::fs::read_to_string(pod.path("secrets/cosign.pub")).unwrap();
    let trust = |tlog, timestamp| Trust {
        key: Some(PublicKey::from_pem(&pem).unwrap()),
        identity: None,
        root: Some(root.clone()),
        tlog,
        timestamp,
    };
    let found = bundles(&pod);
    assert_eq!(found.len(), 4, "the TaskRun's and three images': {found:?}");
    let started = now() as i64;
    for path in &found {
        let (_, ev) = read(path);
        let checked = evidence::check(
            &ev,
            &trust(Requirement::Required, Requirement::Required),
            SystemTime::now(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(checked.signer, "key");
        assert!(checked.log_index.is_some());
        let at = checked.signed_at.expect("the timestamp's time");
        assert!(
            (started - 600..=started + 60).contains(&at),
            "{at} vs {started}"
        );
    }

    let (_, ev) = read(&found[0]);
    let good = || trust(Requirement::Required, Requirement::Required);
    // Without its timestamp: required, it fails.
    let mut bad = ev.clone();
    bad.timestamps.clear();
    assert!(refused(&bad, &good()).contains("no RFC 3161 timestamp"));
    // A timestamp byte.
    let mut bad = ev.clone();
    let n = bad.timestamps[0].len();
    bad.timestamps[0][n - 8] ^= 1;
    assert!(refused(&bad, &good()).contains("timestamp 0 does not verify"));
    // The proof's root, the checkpoint's tree size.
    let tamper = |f: &dyn Fn(&mut Value)| {
        let mut bad = ev.clone();
        let TlogEvidence::BundleEntry(v) = &mut bad.tlog[0] else {
            panic!()
        };
        f(v);
        refused(&bad, &good())
    };
    let e = tamper(&|v| {
        let mut r = B64
            .decode(v["inclusionProof"]["rootHash"].as_str().unwrap())
            .unwrap();
        r[3] ^= 1;
        v["inclusionProof"]["rootHash"] = B64.encode(r).into();
    });
    assert!(e.contains("inclusion proof"), "{e}");
    let e = tamper(&|v| {
        let cp = v["inclusionProof"]["checkpoint"]["envelope"]
            .as_str()
            .unwrap()
            .to_owned();
        let mut lines: Vec<&str> = cp.split('\n').collect();
        let size = format!("{}", lines[1].parse::<u64>().unwrap() + 1);
        lines[1] = &size;
        v["inclusionProof"]["checkpoint"]["envelope"] = lines.join("\n").into();
    });
    assert!(e.contains("checkpoint"), "{e}");
    // Another key: the signature fails first.
    let other = crate::common::sigstore::p256_key(&pod.path(""), "other").1;
    let other_pem =
        pem_rfc7468::encode_string("PUBLIC KEY", pem_rfc7468::LineEnding::LF, &other).unwrap();
    let t = Trust {
        key: Some(PublicKey::from_pem(&other_pem).unwrap()),
        ..good()
    };
    assert!(refused(&ev, &t).contains("does not verify"));
}

/// Keyless with the real Rekor v2 and timestamp authority: the log gives no integrated time,
/// so the certificate is checked at the timestamp's time; without the timestamp there is no
/// trusted time and it fails.
#[test]
fn keyless_rekor_v2_bundles_are_checked_at_the_timestamps_time() {
    let Some(mock) = RekorV1Mock::start() else {
        return;
    };
    let Some(rekor) = RekorV2::start() else {
        return;
    };
    let Some(tsa) = Tsa::start() else { return };
    let pod = Pod::new();
    pod.typical_results();
    std::fs::create_dir_all(pod.path("secrets")).unwrap();
    let token = pod.path("token");
    std::fs::write(&token, pod_token()).unwrap();
    let root_path = write_json(
        &pod.path(""),
        "trusted_root.json",
        &trusted_root_keyless(&mock, &[&rekor], &[&tsa]),
    );
    let out = Attest::offline(&pod)
        .flag("--trusted-root", &root_path)
        .flag("--rekor-version", "2")
        .flag("--timestamp-url", format!("{}/api/v1/timestamp", tsa.url()))
        .set("transparency.enabled=true")
        .set(&format!("transparency.url={}", rekor.url()))
        .set("signers.x509.fulcio.enabled=true")
        .set(&format!("signers.x509.fulcio.address={}", mock.url()))
        .set(&format!(
            "signers.x509.identity.token.file={}",
            token.display()
        ))
        .run();
    ok(&out);
    let root = TrustedRoot::read(&root_path).unwrap();
    let trust = |timestamp| Trust {
        key: None,
        identity: identity(exact(IDENTITY), exact(ISSUER)),
        root: Some(root.clone()),
        tlog: Requirement::Required,
        timestamp,
    };
    let found = bundles(&pod);
    assert_eq!(found.len(), 4, "the TaskRun's and three images': {found:?}");
    for path in found {
        let (_, ev) = read(&path);
        let checked = evidence::check(&ev, &trust(Requirement::Required), SystemTime::now())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(checked.signer, IDENTITY);
        assert!(checked.signed_at.is_some() && checked.log_index.is_some());
        let mut bare = ev.clone();
        bare.timestamps.clear();
        let e = refused(&bare, &trust(Requirement::IfPresent));
        assert!(e.contains("no trusted signing time"), "{e}");
    }
}
