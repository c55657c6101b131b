//! `storage.oci.encoding-format: sigstore-bundle` against the real registry (Debian's
//! docker-registry 2.8, which has no referrers API: the referrers tag schema), checked with
//! cosign 3.1 and oras: what chainlet writes is what `cosign sign` / `cosign attest` 3 write
//! by default, and `cosign verify` / `verify-attestation` accept it without a log.

use std::collections::BTreeSet;
use std::process::Output;

use serde_json::Value;

use crate::common::registry::{Registry, plain_client, push_image};
use crate::common::sigstore::{cosign3, oras};
use crate::common::*;

const REPO: &str = "team/app";
const BUNDLE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
const SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";
const SLSA1: &str = "https://slsa.dev/provenance/v1";

fn repo(reg: &Registry) -> chainlet::registry::Repo {
    chainlet::registry::Repo {
        registry: reg.addr.clone(),
        repository: REPO.into(),
    }
}

/// A pod whose image (pushed to `reg`) is its IMAGE_URL/IMAGE_DIGEST, with a cosign key.
fn pod_for(reg: &Registry) -> (Pod, String) {
    let hex = push_image(&reg.addr, REPO);
    let pod = Pod::new();
    pod.result("IMAGE_URL", &format!("{}/{REPO}:v1\n", reg.addr))
        .result("IMAGE_DIGEST", &format!("sha256:{hex}\n"))
        .chainlet_key("pw");
    (pod, hex)
}

fn attest_bundles(pod: &Pod, reg: &Registry, uid: &str) -> Attest {
    Attest::new(pod)
        .taskrun("build-run", uid)
        .flag("--insecure-registry", &reg.addr)
        .storage_oci()
        .set("storage.oci.encoding-format=sigstore-bundle")
        .times()
}

fn image(reg: &Registry, hex: &str) -> String {
    format!("{}/{REPO}@sha256:{hex}", reg.addr)
}

/// GET a manifest or index as JSON.
fn get(reg: &Registry, reference: &str) -> Option<(Value, Vec<u8>)> {
    plain_client(&reg.addr)
        .get_manifest(&repo(reg), reference)
        .unwrap()
        .map(|m| (serde_json::from_slice(&m.bytes).unwrap(), m.bytes))
}

/// The referrers tag's entries.
fn referrers(reg: &Registry, hex: &str) -> Vec<Value> {
    get(reg, &format!("sha256-{hex}"))
        .map(|(v, _)| v["manifests"].as_array().cloned().unwrap_or_default())
        .unwrap_or_default()
}

fn with_predicate<'a>(entries: &'a [Value], predicate: &str) -> Vec<&'a Value> {
    entries
        .iter()
        .filter(|d| d["annotations"]["dev.sigstore.bundle.predicateType"] == predicate)
        .collect()
}

fn cosign3_ok(args: &[&str]) -> Option<(bool, String)> {
    let out: Output = cosign3(args, &[])?;
    Some((
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    ))
}

fn verify(pod: &Pod, img: &str) -> Option<(bool, String)> {
    cosign3_ok(&[
        "verify",
        "--key",
        &pod.s("secrets/cosign.pub"),
        "--insecure-ignore-tlog",
        "--allow-http-registry",
        img,
    ])
}

fn verify_attestation(pod: &Pod, img: &str) -> Option<(bool, String)> {
    cosign3_ok(&[
        "verify-attestation",
        "--key",
        &pod.s("secrets/cosign.pub"),
        "--insecure-ignore-tlog",
        "--allow-http-registry",
        "--type",
        "slsaprovenance1",
        img,
    ])
}

#[test]
fn bundles_verify_with_cosign3_and_have_cosign_3s_shape() {
    let reg = Registry::plain();
    let (pod, hex) = pod_for(&reg);
    ok(&attest_bundles(&pod, &reg, UID).run());
    let img = image(&reg, &hex);
    let Some((verified, text)) = verify(&pod, &img) else {
        return;
    };
    assert!(verified, "cosign3 verify {img}:\n{text}");
    let (verified, text) = verify_attestation(&pod, &img).unwrap();
    assert!(verified, "cosign3 verify-attestation {img}:\n{text}");

    // No cosign tags: this encoding writes referrers only.
    assert!(get(&reg, &format!("sha256-{hex}.sig")).is_none());
    assert!(get(&reg, &format!("sha256-{hex}.att")).is_none());
    let entries = referrers(&reg, &hex);
    assert_eq!(entries.len(), 2, "{entries:?}");
    let (subject, subject_bytes) = get(&reg, &format!("sha256:{hex}")).unwrap();
    for predicate in [SIGN_PREDICATE, SLSA1] {
        let found = with_predicate(&entries, predicate);
        assert_eq!(found.len(), 1, "{predicate}: {entries:?}");
        let d = found[0];
        assert_eq!(d["artifactType"], BUNDLE);
        assert_eq!(d["mediaType"], "application/vnd.oci.image.manifest.v1+json");
        assert_eq!(
            d["annotations"]["dev.sigstore.bundle.content"],
            "dsse-envelope"
        );
        let (m, bytes) = get(&reg, d["digest"].as_str().unwrap()).unwrap();
        assert_eq!(d["size"], bytes.len());
        assert_eq!(m["artifactType"], BUNDLE);
        assert_eq!(
            m["config"]["mediaType"],
            "application/vnd.oci.empty.v1+json"
        );
        assert_eq!(m["config"]["size"], 2);
        assert_eq!(m["layers"].as_array().unwrap().len(), 1);
        assert_eq!(m["layers"][0]["mediaType"], BUNDLE);
        assert_eq!(m["subject"]["digest"], format!("sha256:{hex}"));
        assert_eq!(m["subject"]["size"], subject_bytes.len());
        assert_eq!(m["subject"]["mediaType"], subject["mediaType"]);
        assert_eq!(m["annotations"], d["annotations"]);
        assert!(
            m["annotations"]["org.opencontainers.image.created"]
                .as_str()
                .unwrap()
                .ends_with('Z')
        );
    }

    // oras finds both through the referrers tag, with the bundle artifactType.
    let Some(out) = oras(&["discover", "--plain-http", "--format", "json", &img]) else {
        return;
    };
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let found: Vec<&Value> = v["referrers"]
        .as_array()
        .or(v["manifests"].as_array())
        .unwrap()
        .iter()
        .collect();
    assert_eq!(found.len(), 2, "{v}");
    assert!(found.iter().all(|d| d["artifactType"] == BUNDLE), "{v}");
}

#[test]
fn cosign_3s_image_signature_statement_is_what_is_signed() {
    let reg = Registry::plain();
    let (pod, hex) = pod_for(&reg);
    ok(&attest_bundles(&pod, &reg, UID).run());
    let entries = referrers(&reg, &hex);
    let sig = with_predicate(&entries, SIGN_PREDICATE)[0];
    let (m, _) = get(&reg, sig["digest"].as_str().unwrap()).unwrap();
    let bundle = blob(&reg, m["layers"][0]["digest"].as_str().unwrap());
    let b: Value = serde_json::from_slice(&bundle).unwrap();
    assert_eq!(b["mediaType"], BUNDLE);
    assert!(b["verificationMaterial"]["publicKey"]["hint"].is_string());
    assert_eq!(
        b["dsseEnvelope"]["payloadType"],
        "application/vnd.in-toto+json"
    );
    use base64::Engine as _;
    let statement: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(b["dsseEnvelope"]["payload"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        statement,
        serde_json::json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"digest": {"sha256": hex}, "annotations": {}}],
            "predicateType": SIGN_PREDICATE,
            "predicate": {}
        })
    );
}

fn blob(reg: &Registry, digest: &str) -> Vec<u8> {
    let out = std::process::Command::new("curl")
        .args([
            "-sf",
            &format!("http://{}/v2/{REPO}/blobs/{digest}", reg.addr),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "GET blob {digest}");
    out.stdout
}

#[test]
fn a_rerun_adds_no_second_referrer() {
    let reg = Registry::plain();
    let (pod, hex) = pod_for(&reg);
    ok(&attest_bundles(&pod, &reg, UID).run());
    let first = referrers(&reg, &hex);
    // Same run, same key, same times: the same bundles, already referenced.
    ok(&attest_bundles(&pod, &reg, UID).run());
    assert_eq!(referrers(&reg, &hex), first);
}

#[test]
fn eight_concurrent_runs_keep_all_eight_referrers() {
    let reg = Registry::plain();
    let (pod, hex) = pod_for(&reg);
    let uids: Vec<String> = (0..8)
        .map(|i| format!("00000000-0000-0000-0000-00000000000{i}"))
        .collect();
    let outs: Vec<Output> = std::thread::scope(|s| {
        let handles: Vec<_> = uids
            .iter()
            .map(|uid| s.spawn(|| attest_bundles(&pod, &reg, uid).run()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for o in &outs {
        ok(o);
    }
    let entries = referrers(&reg, &hex);
    let attestations: BTreeSet<&str> = with_predicate(&entries, SLSA1)
        .iter()
        .map(|d| d["digest"].as_str().unwrap())
        .collect();
    assert_eq!(attestations.len(), 8, "{entries:?}");
    assert!(!with_predicate(&entries, SIGN_PREDICATE).is_empty());
    if let Some((verified, text)) = verify_attestation(&pod, &image(&reg, &hex)) {
        assert!(verified, "{text}");
    }
}

/// The referrers tag replaced by one entry: a copy of chainlet's signature referrer whose
/// bundle has its DSSE signature changed.
fn tamper(reg: &Registry, hex: &str) {
    let client = plain_client(&reg.addr);
    let r = repo(reg);
    let entries = referrers(reg, hex);
    let sig = with_predicate(&entries, SIGN_PREDICATE)[0];
    let (mut m, _) = get(reg, sig["digest"].as_str().unwrap()).unwrap();
    let mut b: Value =
        serde_json::from_slice(&blob(reg, m["layers"][0]["digest"].as_str().unwrap())).unwrap();
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut raw = b64
        .decode(b["dsseEnvelope"]["signatures"][0]["sig"].as_str().unwrap())
        .unwrap();
    let last = raw.len() - 1;
    raw[last] ^= 1;
    b["dsseEnvelope"]["signatures"][0]["sig"] = Value::from(b64.encode(&raw));
    let bytes = serde_json::to_vec(&b).unwrap();
    let digest = client.push_blob(&r, &bytes).unwrap();
    m["layers"][0]["digest"] = Value::from(digest);
    m["layers"][0]["size"] = Value::from(bytes.len());
    let mbytes = serde_json::to_vec(&m).unwrap();
    let mdigest = chainlet::registry::sha256_digest(&mbytes);
    client
        .put_manifest(
            &r,
            &mdigest,
            &mbytes,
            "application/vnd.oci.image.manifest.v1+json",
        )
        .unwrap();
    let mut entry = sig.clone();
    entry["digest"] = Value::from(mdigest);
    entry["size"] = Value::from(mbytes.len());
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [entry],
    });
    client
        .put_manifest(
            &r,
            &format!("sha256-{hex}"),
            &serde_json::to_vec(&index).unwrap(),
            "application/vnd.oci.image.index.v1+json",
        )
        .unwrap();
}

#[test]
fn a_tampered_bundle_fails_cosign3_verify() {
    let reg = Registry::plain();
    let (pod, hex) = pod_for(&reg);
    ok(&attest_bundles(&pod, &reg, UID).run());
    let img = image(&reg, &hex);
    let Some((verified, text)) = verify(&pod, &img) else {
        return;
    };
    assert!(verified, "before tampering:\n{text}");
    tamper(&reg, &hex);
    let (verified, text) = verify(&pod, &img).unwrap();
    assert!(!verified, "cosign3 accepted a tampered bundle:\n{text}");
}

/// A writer as slow as cosign: it read the tag before chainlet wrote (here: an empty tag),
/// and PUTs its stale copy (`stale`, without chainlet's entry) 2.5 s after chainlet's entry
/// first shows, which is after chainlet's read-back. Returns whether chainlet's entry is in
/// the tag when chainlet has exited 0.
fn race_a_slow_writer(
    settle: &str,
    tag_of: fn(&str) -> String,
    encoding: &str,
    has_ours: fn(&Registry, &str) -> bool,
    stale: fn(&Registry, &str),
) -> bool {
    let reg = Registry::plain();
    let (pod, hex) = pod_for(&reg);
    let tag = tag_of(&hex);
    let run = Attest::new(&pod)
        .taskrun("build-run", UID)
        .flag("--insecure-registry", &reg.addr)
        .storage("taskrun", "oci")
        .set("artifacts.oci.storage=")
        .set(&format!("storage.oci.encoding-format={encoding}"))
        .flag("--registry-settle", settle)
        .times();
    std::thread::scope(|s| {
        let chainlet = s.spawn(|| run.run());
        let start = std::time::Instant::now();
        while !has_ours(&reg, &tag) {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(30),
                "no entry of chainlet's appeared"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        // After chainlet's read-back, which comes 4 × its read → PUT window after its PUT,
        // capped at 2 s; and before a last re-check 4 s after it.
        std::thread::sleep(std::time::Duration::from_millis(2500));
        stale(&reg, &tag);
        ok(&chainlet.join().unwrap());
    });
    has_ours(&reg, &tag)
}

fn att_has_ours(reg: &Registry, tag: &str) -> bool {
    crate::common::registry::layers(&reg.addr, REPO, tag)
        .iter()
        .any(|l| l["annotations"]["predicateType"] == SLSA1)
}

/// cosign's stale `.att`: only its own layer.
fn stale_att(reg: &Registry, tag: &str) {
    use chainlet::registry::layout::{self, Layer};
    let client = plain_client(&reg.addr);
    let r = repo(reg);
    let layer = Layer::attestation(
        b"{\"payload\":\"\"}".to_vec(),
        "https://example.com/race/v1",
    );
    let u = layout::append(tag, None, std::slice::from_ref(&layer))
        .unwrap()
        .unwrap();
    client.push_blob(&r, &layer.bytes).unwrap();
    client.push_blob(&r, &u.config).unwrap();
    client
        .put_manifest(&r, tag, &u.manifest, &u.media_type)
        .unwrap();
}

fn referrers_have_ours(reg: &Registry, tag: &str) -> bool {
    referrers(reg, tag.trim_start_matches("sha256-"))
        .iter()
        .any(|d| d["annotations"]["dev.sigstore.bundle.predicateType"] == SLSA1)
}

/// A stale referrers index: one other referrer (any manifest of the repository).
fn stale_referrers(reg: &Registry, tag: &str) {
    let other = push_image(&reg.addr, REPO);
    let (_, bytes) = get(reg, &format!("sha256:{other}")).unwrap();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "size": bytes.len(), "digest": format!("sha256:{other}"),
                       "artifactType": "application/example"}],
    });
    plain_client(&reg.addr)
        .put_manifest(
            &repo(reg),
            tag,
            &serde_json::to_vec(&index).unwrap(),
            "application/vnd.oci.image.index.v1+json",
        )
        .unwrap();
}

#[test]
fn the_last_recheck_restores_what_a_slow_writer_erased_from_the_att_tag() {
    let att = |hex: &str| format!("sha256-{hex}.att");
    assert!(race_a_slow_writer(
        "4000",
        att,
        "dsse",
        att_has_ours,
        stale_att
    ));
    // Without it (what chainlet did before), the slow writer wins, and the run still exits 0.
    assert!(!race_a_slow_writer(
        "0",
        att,
        "dsse",
        att_has_ours,
        stale_att
    ));
}

#[test]
fn the_last_recheck_restores_what_a_slow_writer_erased_from_the_referrers_tag() {
    let tag = |hex: &str| format!("sha256-{hex}");
    assert!(race_a_slow_writer(
        "4000",
        tag,
        "sigstore-bundle",
        referrers_have_ours,
        stale_referrers
    ));
    assert!(!race_a_slow_writer(
        "0",
        tag,
        "sigstore-bundle",
        referrers_have_ours,
        stale_referrers
    ));
}

/// Pushes a bundle referrer about image `hex` whose DSSE envelope (type `payload_type`) holds
/// `payload`, signed by openssl with `key`; the referrers tag lists only it.
fn push_signed_referrer(
    reg: &Registry,
    hex: &str,
    key: &std::path::Path,
    payload_type: &str,
    payload: &[u8],
) {
    use base64::Engine as _;
    use chainlet::registry::referrers as refs;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut pae = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    pae.extend_from_slice(payload);
    let dir = key.parent().unwrap();
    std::fs::write(dir.join("pae"), &pae).unwrap();
    openssl(
        dir,
        &[
            "dgst",
            "-sha256",
            "-sign",
            key.to_str().unwrap(),
            "-out",
            "sig",
            "pae",
        ],
    );
    openssl(
        dir,
        &[
            "pkey",
            "-in",
            key.to_str().unwrap(),
            "-pubout",
            "-outform",
            "DER",
            "-out",
            "pub.der",
        ],
    );
    let der = std::fs::read(dir.join("pub.der")).unwrap();
    use sha2::Digest as _;
    let bundle = serde_json::to_vec(&serde_json::json!({
        "mediaType": BUNDLE,
        "verificationMaterial": {"publicKey": {"hint": b64.encode(sha2::Sha256::digest(&der))}, "tlogEntries": []},
        "dsseEnvelope": {"payload": b64.encode(payload), "payloadType": payload_type,
                         "signatures": [{"sig": b64.encode(std::fs::read(dir.join("sig")).unwrap())}]},
    }))
    .unwrap();
    let client = plain_client(&reg.addr);
    let r = repo(reg);
    client.push_blob(&r, &bundle).unwrap();
    client.push_blob(&r, refs::EMPTY_CONFIG).unwrap();
    let digest = format!("sha256:{hex}");
    let subject =
        refs::Subject::of(&digest, &client.get_manifest(&r, &digest).unwrap().unwrap()).unwrap();
    let m = refs::bundle_manifest(&subject, &bundle, SIGN_PREDICATE, "2026-01-02T03:04:05Z");
    client
        .put_manifest(
            &r,
            &m.digest,
            &m.bytes,
            "application/vnd.oci.image.manifest.v1+json",
        )
        .unwrap();
    let index = refs::append("t", None, &[m.descriptor]).unwrap().unwrap();
    client
        .put_manifest(&r, &refs::fallback_tag(hex), &index, refs::OCI_INDEX)
        .unwrap();
}

/// The question: would Chains' simple-signing payload in a DSSE bundle do for cosign 3?
/// No: as an in-toto payload it is no statement about the image, and under its own payload
/// type cosign 3.1 refuses the type. cosign 3's statement, signed the same way, verifies.
#[test]
fn cosign3_refuses_simple_signing_in_dsse_and_takes_cosign_3s_statement() {
    let work = tempfile::tempdir().unwrap();
    let key = work.path().join("x509.pem");
    openssl(
        work.path(),
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "x509.pem",
        ],
    );
    openssl(
        work.path(),
        &["pkey", "-in", "x509.pem", "-pubout", "-out", "x509.pub"],
    );
    let public = work.path().join("x509.pub");
    let reg = Registry::plain();
    type MakePayload = fn(&chainlet::subjects::ImageRef) -> Vec<u8>;
    let cases: [(&str, MakePayload, bool, &str); 3] = [
        (
            "application/vnd.in-toto+json",
            chainlet::formats::cosign_sign::statement,
            true,
            "",
        ),
        (
            "application/vnd.in-toto+json",
            chainlet::formats::simplesigning::payload,
            false,
            "does not match digests in statement",
        ),
        (
            "application/vnd.dev.cosign.simplesigning.v1+json",
            chainlet::formats::simplesigning::payload,
            false,
            "unsupported DSSE payload type",
        ),
    ];
    for (payload_type, payload, verifies, why) in cases {
        let hex = push_image(&reg.addr, REPO);
        let img = image(&reg, &hex);
        let image_ref = chainlet::subjects::ImageRef::parse(&img).unwrap();
        push_signed_referrer(&reg, &hex, &key, payload_type, &payload(&image_ref));
        let Some((ok, text)) = cosign3_ok(&[
            "verify",
            "--key",
            public.to_str().unwrap(),
            "--insecure-ignore-tlog",
            "--allow-http-registry",
            &img,
        ]) else {
            return;
        };
        assert_eq!(ok, verifies, "{payload_type}:\n{text}");
        assert!(text.contains(why), "{payload_type}:\n{text}");
    }
}

/// cosign 3.1 against the image, with the log checked (no `--insecure-ignore-tlog`).
fn cosign3_logged(pod: &Pod, root: &std::path::Path, args: &[&str], img: &str) -> (bool, String) {
    let key = pod.s("secrets/cosign.pub");
    let root = root.to_str().unwrap();
    let mut all: Vec<&str> = args.to_vec();
    all.extend([
        "--key",
        key.as_str(),
        "--trusted-root",
        root,
        "--use-signed-timestamps",
        "--allow-http-registry",
        img,
    ]);
    cosign3_ok(&all).expect("cosign3 is there (checked before)")
}

#[test]
fn bundles_logged_in_rekor_v2_verify_with_cosign3_without_ignoring_the_log() {
    use crate::common::sigstore::{RekorV2, Tsa, trusted_root, write_json};
    let Some(rekor) = RekorV2::start() else {
        return;
    };
    let Some(tsa) = Tsa::start() else { return };
    if cosign3(&["version"], &[]).is_none() {
        return;
    }
    let reg = Registry::plain();
    let (pod, hex) = pod_for(&reg);
    let root = write_json(
        &pod.path(""),
        "trusted_root.json",
        &trusted_root(&[&rekor], &[&tsa]),
    );
    ok(&attest_bundles(&pod, &reg, UID)
        .set("transparency.enabled=true")
        .set(&format!("transparency.url={}", rekor.url()))
        .flag("--trusted-root", &root)
        .flag("--rekor-version", "2")
        .flag("--timestamp-url", format!("{}/api/v1/timestamp", tsa.url()))
        .run());
    let img = image(&reg, &hex);
    // Every referrer's bundle carries its log entry and a timestamp.
    let entries = referrers(&reg, &hex);
    assert_eq!(entries.len(), 2, "{entries:#?}");
    for d in &entries {
        let (m, _) = get(&reg, d["digest"].as_str().unwrap()).unwrap();
        let layer = m["layers"][0]["digest"].as_str().unwrap();
        let bundle: Value = serde_json::from_slice(&blob(&reg, layer)).unwrap();
        let material = &bundle["verificationMaterial"];
        assert_eq!(
            material["tlogEntries"][0]["kindVersion"]["version"], "0.0.2",
            "{bundle:#}"
        );
        assert!(
            material["timestampVerificationData"]["rfc3161Timestamps"][0]["signedTimestamp"]
                .is_string(),
            "{bundle:#}"
        );
    }
    let (verified, text) = cosign3_logged(&pod, &root, &["verify"], &img);
    assert!(verified, "cosign3 verify {img}:\n{text}");
    let (verified, text) = cosign3_logged(
        &pod,
        &root,
        &["verify-attestation", "--type", "slsaprovenance1"],
        &img,
    );
    assert!(verified, "cosign3 verify-attestation {img}:\n{text}");

    // A trusted root with another key for the same log refuses the same bundles.
    let other = crate::common::sigstore::LogKey {
        url: rekor.url(),
        der: crate::common::sigstore::p256_key(&pod.path(""), "other").1,
        major_api_version: 2,
    };
    let wrong = write_json(
        &pod.path(""),
        "wrong_root.json",
        &trusted_root(&[&other], &[&tsa]),
    );
    let (verified, text) = cosign3_logged(&pod, &wrong, &["verify"], &img);
    assert!(
        !verified,
        "cosign3 verify with another log key passed:\n{text}"
    );
}
