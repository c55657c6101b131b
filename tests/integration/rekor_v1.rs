//! `transparency.enabled` against a Rekor v1 log: the `@sigstore/mock` server (no real Rekor v1
//! can be had here, see REAL-SERVERS.md), a real registry, the real API server, and the real
//! cosign 2.5 and 3.1 as verifiers. What the log received is also checked here, independently
//! of chainlet: each entry's hash, signature and key against what the registry holds.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::common::kubeapi::KubeApi;
use crate::common::registry::{Registry, layers, plain_client, push_image};
use crate::common::sigstore::{RekorV1Mock, cosign3, http, trusted_root, write_json};
use crate::common::*;

const REPO: &str = "team/app";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A pod signing the image pushed to `reg` with a cosign key made by chainlet.
fn pod_for(reg: &Registry) -> (Pod, String) {
    let hex = push_image(&reg.addr, REPO);
    let pod = Pod::new();
    pod.result("IMAGE_URL", &format!("{}/{REPO}:v1\n", reg.addr))
        .result("IMAGE_DIGEST", &format!("sha256:{hex}\n"))
        .chainlet_key("pw");
    (pod, hex)
}

/// `chainlet attest` into the registry, logging to `mock`.
fn attest_logged(pod: &Pod, reg: &Registry, mock: &RekorV1Mock) -> Attest {
    Attest::new(pod)
        .taskrun("build-run", UID)
        .flag("--insecure-registry", &reg.addr)
        .storage_oci()
        .times()
        .set("transparency.enabled=true")
        .set(&format!("transparency.url={}", mock.url()))
}

/// The mock's key as a PEM file (cosign 2's `SIGSTORE_REKOR_PUBLIC_KEY`) and a trusted root
/// naming the mock (cosign 3's `--trusted-root`, chainlet's too).
fn trust_files(dir: &Path, mock: &RekorV1Mock) -> (PathBuf, PathBuf) {
    let pem = dir.join("rekor.pub");
    std::fs::write(
        &pem,
        pem_rfc7468::encode_string(
            "PUBLIC KEY",
            pem_rfc7468::LineEnding::LF,
            &mock.public_key_der(),
        )
        .unwrap(),
    )
    .unwrap();
    let root = write_json(dir, "trusted_root.json", &trusted_root(&[mock], &[]));
    (pem, root)
}

fn cosign2(args: &[&str], rekor_pem: &Path) -> (bool, String) {
    let args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    cosign_run(
        &args,
        &[("SIGSTORE_REKOR_PUBLIC_KEY", rekor_pem.to_str().unwrap())],
    )
}

/// `cosign verify` and `cosign verify-attestation` (cosign 2.5 with the log's key, and
/// cosign 3.1 with the trusted root), without `--insecure-ignore-tlog`: (sig ok, att ok) per
/// cosign, with their output.
fn verify_all(
    pubkey: &Path,
    image: &str,
    mock: &RekorV1Mock,
    rekor_pem: &Path,
    root: &Path,
) -> Vec<(&'static str, bool, String)> {
    let key = pubkey.to_str().unwrap();
    let url = mock.url();
    let mut out = Vec::new();
    let (ok, text) = cosign2(
        &[
            "verify",
            "--key",
            key,
            "--rekor-url",
            &url,
            "--allow-http-registry",
            image,
        ],
        rekor_pem,
    );
    out.push(("cosign 2 verify", ok, text));
    let (ok, text) = cosign2(
        &[
            "verify-attestation",
            "--key",
            key,
            "--rekor-url",
            &url,
            "--allow-http-registry",
            "--type",
            "slsaprovenance1",
            image,
        ],
        rekor_pem,
    );
    out.push(("cosign 2 verify-attestation", ok, text));
    let root = root.to_str().unwrap();
    for (what, extra) in [
        ("cosign 3 verify", &["verify"][..]),
        (
            "cosign 3 verify-attestation",
            &["verify-attestation", "--type", "slsaprovenance1"][..],
        ),
    ] {
        let mut args: Vec<&str> = extra.to_vec();
        args.extend([
            "--key",
            key,
            "--trusted-root",
            root,
            "--allow-http-registry",
            image,
        ]);
        if let Some(o) = cosign3(&args, &[]) {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            out.push((what, o.status.success(), text));
        }
    }
    out
}

fn blob(reg: &Registry, digest: &str) -> Vec<u8> {
    let (status, _, body) = http(
        "GET",
        &format!("http://{}/v2/{REPO}/blobs/{digest}", reg.addr),
        None,
        Duration::from_secs(10),
    )
    .unwrap();
    assert_eq!(status, 200, "GET blob {digest}");
    body
}

fn pem_der(b64_pem: &str) -> Vec<u8> {
    let pem = B64.decode(b64_pem).unwrap();
    pem_rfc7468::decode_vec(&pem).unwrap().1
}

fn verifies(pubkey_der: &[u8], message: &[u8], sig_der: &[u8]) -> bool {
    use p256::ecdsa::signature::Verifier as _;
    use p256::pkcs8::DecodePublicKey as _;
    let key = p256::ecdsa::VerifyingKey::from_public_key_der(pubkey_der).unwrap();
    p256::ecdsa::Signature::from_der(sig_der).is_ok_and(|s| key.verify(message, &s).is_ok())
}

/// Checks every entry the mock received against the registry's layers, without chainlet's
/// code: a hashedrekord per `.sig` layer (hash of the payload, signature over it, cosign.pub)
/// and a dsse entry per `.att` layer (the envelope as stored, its signature over the PAE,
/// cosign.pub). Returns the number of entries.
fn check_posted(mock: &RekorV1Mock, reg: &Registry, hex_digest: &str, cosign_pub: &Path) -> usize {
    let pubkey = {
        let pem = std::fs::read_to_string(cosign_pub).unwrap();
        pem_rfc7468::decode_vec(pem.trim().as_bytes()).unwrap().1
    };
    let posted = mock.posted();
    let sig = layers(&reg.addr, REPO, &format!("sha256-{hex_digest}.sig"));
    let att = layers(&reg.addr, REPO, &format!("sha256-{hex_digest}.att"));
    assert_eq!((sig.len(), att.len()), (1, 1));
    let payload = blob(reg, sig[0]["digest"].as_str().unwrap());
    let envelope = blob(reg, att[0]["digest"].as_str().unwrap());
    let mut kinds = Vec::new();
    for entry in &posted {
        assert_eq!(entry["apiVersion"], "0.0.1", "{entry}");
        let kind = entry["kind"].as_str().unwrap().to_owned();
        match kind.as_str() {
            "hashedrekord" => {
                let spec = &entry["spec"];
                assert_eq!(spec["data"]["hash"]["algorithm"], "sha256");
                assert_eq!(
                    spec["data"]["hash"]["value"],
                    hex(&sha2::Sha256::digest(&payload)),
                    "the entry's hash is the stored payload's"
                );
                let signature = spec["signature"]["content"].as_str().unwrap();
                assert_eq!(
                    sig[0]["annotations"]["dev.cosignproject.cosign/signature"],
                    signature
                );
                assert!(verifies(&pubkey, &payload, &B64.decode(signature).unwrap()));
                assert_eq!(
                    pem_der(spec["signature"]["publicKey"]["content"].as_str().unwrap()),
                    pubkey
                );
            }
            "dsse" => {
                let proposed = &entry["spec"]["proposedContent"];
                let sent = proposed["envelope"].as_str().unwrap();
                assert_eq!(
                    sent.as_bytes(),
                    &envelope[..],
                    "the envelope logged is the one stored"
                );
                let verifiers = proposed["verifiers"].as_array().unwrap();
                assert_eq!(verifiers.len(), 1);
                assert_eq!(pem_der(verifiers[0].as_str().unwrap()), pubkey);
                let env: Value = serde_json::from_str(sent).unwrap();
                let body = B64.decode(env["payload"].as_str().unwrap()).unwrap();
                let ptype = env["payloadType"].as_str().unwrap();
                let pae = [
                    format!("DSSEv1 {} {ptype} {} ", ptype.len(), body.len()).as_bytes(),
                    &body,
                ]
                .concat();
                let s = B64
                    .decode(env["signatures"][0]["sig"].as_str().unwrap())
                    .unwrap();
                assert!(
                    verifies(&pubkey, &pae, &s),
                    "the envelope verifies with cosign.pub"
                );
            }
            other => panic!("unexpected entry kind {other}"),
        }
        kinds.push(kind);
    }
    kinds.sort();
    kinds.dedup();
    assert_eq!(kinds, ["dsse", "hashedrekord"]);
    posted.len()
}

/// The cosign bundle annotation on the first layer of `tag`, parsed.
fn bundle_of(reg: &Registry, tag: &str) -> Value {
    let l = layers(&reg.addr, REPO, tag);
    serde_json::from_str(
        l[0]["annotations"]["dev.sigstore.cosign/bundle"]
            .as_str()
            .unwrap(),
    )
    .unwrap()
}

/// Rewrites `tag`'s manifest with `edit` applied to its first layer's bundle annotation.
fn tamper(reg: &Registry, tag: &str, edit: impl Fn(&mut Value)) {
    let client = plain_client(&reg.addr);
    let repo = chainlet::registry::Repo {
        registry: reg.addr.clone(),
        repository: REPO.into(),
    };
    let m = client.get_manifest(&repo, tag).unwrap().unwrap();
    let mut manifest: Value = serde_json::from_slice(&m.bytes).unwrap();
    let annotation = &mut manifest["layers"][0]["annotations"]["dev.sigstore.cosign/bundle"];
    let mut bundle: Value = serde_json::from_str(annotation.as_str().unwrap()).unwrap();
    edit(&mut bundle);
    *annotation = Value::String(bundle.to_string());
    client
        .put_manifest(
            &repo,
            tag,
            &serde_json::to_vec(&manifest).unwrap(),
            &m.media_type,
        )
        .unwrap();
}

#[test]
fn logged_signature_and_attestation_verify_with_cosign_2_and_3_and_fail_when_tampered() {
    let Some(mock) = RekorV1Mock::start() else {
        return;
    };
    let reg = Registry::plain();
    let (pod, digest) = pod_for(&reg);
    let (rekor_pem, root) = trust_files(pod.root.path(), &mock);
    let results = pod.path("results-out");
    std::fs::create_dir_all(&results).unwrap();
    let t0 = Instant::now();
    let out = attest_logged(&pod, &reg, &mock)
        .flag(
            "--write-result",
            format!("log-index={}", results.join("index").display()),
        )
        .flag(
            "--write-result",
            format!("log-uuid={}", results.join("uuid").display()),
        )
        .env("CHAINLET_LOG_LEVEL", "info")
        .run();
    ok(&out);
    eprintln!("attest with the log: {} ms", t0.elapsed().as_millis());
    let log = stderr(&out);
    assert!(log.contains("came from the log itself"), "{log}");
    assert!(log.contains("log_index="), "{log}");

    assert_eq!(
        check_posted(&mock, &reg, &digest, &pod.path("secrets/cosign.pub")),
        2
    );
    // The bundle annotation on each layer is the log's entry: its body is what was posted.
    let att_bundle = bundle_of(&reg, &format!("sha256-{digest}.att"));
    let sig_bundle = bundle_of(&reg, &format!("sha256-{digest}.sig"));
    let index = std::fs::read_to_string(results.join("index")).unwrap();
    let uuid = std::fs::read_to_string(results.join("uuid")).unwrap();
    assert_eq!(
        att_bundle["Payload"]["logIndex"].to_string(),
        index,
        "log-index is the attestation's"
    );
    assert!(
        uuid.len() == 64 && uuid.bytes().all(|b| b.is_ascii_hexdigit()),
        "{uuid}"
    );
    for (b, kind) in [(&att_bundle, "dsse"), (&sig_bundle, "hashedrekord")] {
        let body: Value =
            serde_json::from_slice(&B64.decode(b["Payload"]["body"].as_str().unwrap()).unwrap())
                .unwrap();
        assert_eq!(body["kind"], kind);
        assert!(mock.posted().contains(&body), "{body}");
        assert_eq!(
            b["Payload"]["logID"],
            hex(&sha2::Sha256::digest(mock.public_key_der()))
        );
    }

    let image = format!("{}/{REPO}@sha256:{digest}", reg.addr);
    let cosign_pub = pod.path("secrets/cosign.pub");
    let t0 = Instant::now();
    let runs = verify_all(&cosign_pub, &image, &mock, &rekor_pem, &root);
    eprintln!("verifiers: {} ms", t0.elapsed().as_millis());
    assert_eq!(
        runs.len(),
        4,
        "cosign 2 and cosign 3, verify and verify-attestation"
    );
    for (what, ok, text) in &runs {
        assert!(ok, "{what} {image}:\n{text}");
    }

    // chainlet verify: the entry is checked with the trusted root's log key; without a root a
    // logged attestation is refused with the way out, unless the log is ignored.
    let gate = |extra: &[&str]| {
        let key = cosign_pub.to_str().unwrap();
        let mut args = vec!["verify", "--key", key, "--insecure-registry", &reg.addr];
        args.extend_from_slice(extra);
        args.extend(["--require-signature", "--output", "json", image.as_str()]);
        chainlet(&args)
    };
    let root_s = root.to_str().unwrap();
    let with_root = gate(&["--trusted-root", root_s, "--require-tlog"]);
    assert!(with_root.status.success(), "{}", stderr(&with_root));
    let report: Value = serde_json::from_slice(&with_root.stdout).unwrap();
    assert_eq!(
        report["images"][0]["attestations"][0]["logIndex"].to_string(),
        index,
        "{report}"
    );
    let no_root = gate(&[]);
    assert_eq!(no_root.status.code(), Some(1), "{}", stderr(&no_root));
    assert!(
        stderr(&no_root).contains("(--trusted-root, or --insecure-ignore-tlog)"),
        "{}",
        stderr(&no_root)
    );
    let ignored = gate(&["--insecure-ignore-tlog"]);
    assert!(ignored.status.success(), "{}", stderr(&ignored));

    // Another log key: nothing verifies (the log is really checked).
    let other = pod.path("other.pub");
    let (_, other_der) = crate::common::sigstore::p256_key(pod.root.path(), "other");
    std::fs::write(
        &other,
        pem_rfc7468::encode_string("PUBLIC KEY", pem_rfc7468::LineEnding::LF, &other_der).unwrap(),
    )
    .unwrap();
    let (ok, text) = cosign2(
        &[
            "verify",
            "--key",
            cosign_pub.to_str().unwrap(),
            "--rekor-url",
            &mock.url(),
            "--allow-http-registry",
            &image,
        ],
        &other,
    );
    assert!(!ok, "cosign 2 verify with another log key:\n{text}");

    // A tampered bundle fails every verifier: the SET no longer matches its payload.
    tamper(&reg, &format!("sha256-{digest}.sig"), |b| {
        let i = b["Payload"]["integratedTime"].as_i64().unwrap();
        b["Payload"]["integratedTime"] = json!(i + 1);
    });
    tamper(&reg, &format!("sha256-{digest}.att"), |b| {
        let i = b["Payload"]["logIndex"].as_u64().unwrap();
        b["Payload"]["logIndex"] = json!(i + 1);
    });
    for (what, ok, text) in verify_all(&cosign_pub, &image, &mock, &rekor_pem, &root) {
        assert!(!ok, "{what} passed with a tampered bundle:\n{text}");
    }
    let tampered = gate(&["--trusted-root", root_s]);
    assert_eq!(tampered.status.code(), Some(1), "{}", stderr(&tampered));
    assert!(
        stderr(&tampered).contains("chainlet: verify: "),
        "{}",
        stderr(&tampered)
    );
}

#[test]
fn a_rerun_reuses_the_entry_and_adds_no_layer() {
    let Some(mock) = RekorV1Mock::start() else {
        return;
    };
    let reg = Registry::plain();
    let (pod, digest) = pod_for(&reg);
    let (_, root) = trust_files(pod.root.path(), &mock);
    let results = pod.path("results-out");
    std::fs::create_dir_all(&results).unwrap();
    let run = || {
        let t0 = Instant::now();
        let out = attest_logged(&pod, &reg, &mock)
            .flag("--trusted-root", &root)
            .flag(
                "--write-result",
                format!("log-uuid={}", results.join("uuid").display()),
            )
            .env("CHAINLET_LOG_LEVEL", "info")
            .run();
        ok(&out);
        eprintln!("attest: {} ms", t0.elapsed().as_millis());
        (
            stderr(&out),
            std::fs::read_to_string(results.join("uuid")).unwrap(),
        )
    };
    let (first_log, first_uuid) = run();
    assert!(
        !first_log.contains("came from the log itself"),
        "{first_log}"
    );
    let sig_tag = format!("sha256-{digest}.sig");
    let att_tag = format!("sha256-{digest}.att");
    let sig_before = layers(&reg.addr, REPO, &sig_tag);
    let att_before = layers(&reg.addr, REPO, &att_tag);
    let entries_before = mock
        .requests()
        .iter()
        .filter(|r| r["method"] == "POST")
        .count();
    assert_eq!(entries_before, 2);

    let (second_log, second_uuid) = run();
    assert!(
        second_log.contains("has this entry already"),
        "{second_log}"
    );
    assert_eq!(first_uuid, second_uuid, "the same entry");
    // Both entries were posted again, answered 409 and read back by uuid.
    let requests = mock.requests();
    assert_eq!(requests.iter().filter(|r| r["method"] == "POST").count(), 4);
    assert_eq!(
        layers(&reg.addr, REPO, &sig_tag),
        sig_before,
        "one .sig layer, unchanged"
    );
    assert_eq!(
        layers(&reg.addr, REPO, &att_tag),
        att_before,
        "one .att layer, unchanged"
    );
    assert_eq!(sig_before.len(), 1);
    assert_eq!(
        check_posted(&mock, &reg, &digest, &pod.path("secrets/cosign.pub")),
        4
    );
}

/// A TaskRun in the API server whose results name nothing: only its attestation is signed.
fn taskrun_object(annotations: Value) -> Value {
    json!({
        "apiVersion": "tekton.dev/v1", "kind": "TaskRun",
        "metadata": {"name": "build-run", "annotations": annotations},
        "spec": {"taskRef": {"name": "build"}},
        "status": {
            "startTime": "2026-03-01T10:00:00Z", "completionTime": "2026-03-01T10:01:00Z",
            "steps": [{"name": "build", "container": "step-build",
                       "imageID": "docker-pullable://gcr.io/tools/builder@sha256:d4b63d3e24d6eef04a6dc0795cf8a73470688803d97c52cffa3c8d4efd3397b6"}]
        }
    })
}

fn tekton_attest(pod: &Pod, api: &KubeApi, uid: &str, mock_url: &str, enabled: &str) -> Attest {
    Attest::new(pod)
        .taskrun("build-run", uid)
        .api(api)
        .storage("taskrun", "tekton")
        .storage("oci", "")
        .set(&format!("transparency.enabled={enabled}"))
        .set(&format!("transparency.url={mock_url}"))
}

#[test]
fn storage_tekton_records_the_entry_url_and_manual_logs_only_when_asked() {
    let Some(mock) = RekorV1Mock::start() else {
        return;
    };
    let Some(api) = KubeApi::start() else {
        return;
    };
    let pod = Pod::new();
    std::fs::create_dir_all(pod.path("steps")).unwrap();
    pod.chainlet_key("pw");
    let uid = api.create_taskrun(taskrun_object(json!({})));
    let results = pod.path("results-out");
    std::fs::create_dir_all(&results).unwrap();
    let out = tekton_attest(&pod, &api, &uid, &mock.url(), "true")
        .flag(
            "--write-result",
            format!("log-index={}", results.join("index").display()),
        )
        .run();
    ok(&out);
    let index = std::fs::read_to_string(results.join("index")).unwrap();
    let tr = api.taskrun("build-run");
    let a = &tr["metadata"]["annotations"];
    assert_eq!(a["chains.tekton.dev/signed"], "true");
    assert_eq!(
        a["chains.tekton.dev/transparency"],
        format!("{}/api/v1/log/entries?logIndex={index}", mock.url())
    );
    // The URL reads back the entry the log made for the envelope stored on the run.
    let (status, _, entry) = http(
        "GET",
        a["chains.tekton.dev/transparency"].as_str().unwrap(),
        None,
        Duration::from_secs(10),
    )
    .unwrap();
    assert_eq!(status, 200);
    let entry: Value = serde_json::from_slice(&entry).unwrap();
    let (_, e) = entry.as_object().unwrap().iter().next().unwrap();
    let body: Value =
        serde_json::from_slice(&B64.decode(e["body"].as_str().unwrap()).unwrap()).unwrap();
    let envelope = B64
        .decode(
            a[format!("chains.tekton.dev/signature-taskrun-{uid}")]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    assert_eq!(
        body["spec"]["proposedContent"]["envelope"]
            .as_str()
            .unwrap()
            .as_bytes(),
        &envelope[..]
    );
    assert_eq!(mock.posted().len(), 1);

    // manual: a run without the upload annotation is not logged; one with it is.
    let plain = Pod::new();
    std::fs::create_dir_all(plain.path("steps")).unwrap();
    plain.chainlet_key("pw");
    let api2 = KubeApi::start().unwrap();
    let uid2 = api2.create_taskrun(taskrun_object(json!({})));
    ok(&tekton_attest(&plain, &api2, &uid2, &mock.url(), "manual").run());
    assert_eq!(
        mock.posted().len(),
        1,
        "manual without the annotation logs nothing"
    );
    let tr = api2.taskrun("build-run");
    assert_eq!(
        tr["metadata"]["annotations"]["chains.tekton.dev/signed"],
        "true"
    );
    assert!(tr["metadata"]["annotations"]["chains.tekton.dev/transparency"].is_null());

    let api3 = KubeApi::start().unwrap();
    let uid3 = api3.create_taskrun(taskrun_object(
        json!({"chains.tekton.dev/transparency-upload": "true"}),
    ));
    ok(&tekton_attest(&plain, &api3, &uid3, &mock.url(), "manual").run());
    assert_eq!(mock.posted().len(), 2, "manual with the annotation logs");
    let tr = api3.taskrun("build-run");
    assert!(
        tr["metadata"]["annotations"]["chains.tekton.dev/transparency"]
            .as_str()
            .unwrap()
            .starts_with(&mock.url())
    );
}

#[test]
fn a_log_that_fails_fails_the_run_and_nothing_is_stored() {
    let Some(mock) = RekorV1Mock::start() else {
        return;
    };
    let Some(api) = KubeApi::start() else {
        return;
    };
    let reg = Registry::plain();
    let (pod, digest) = pod_for(&reg);
    std::fs::create_dir_all(pod.path("steps")).unwrap();
    let (_, root) = trust_files(pod.root.path(), &mock);
    const TIMEOUT: u64 = 4;
    for (n, fault) in ["garbage", "500", "hang"].into_iter().enumerate() {
        let name = format!("build-run-{n}");
        let mut object = taskrun_object(json!({}));
        object["metadata"]["name"] = json!(name);
        let uid = api.create_taskrun(object);
        mock.set_fault(fault);
        let t0 = Instant::now();
        let out = Attest::new(&pod)
            .taskrun(&name, &uid)
            .api(&api)
            .flag("--insecure-registry", &reg.addr)
            .storage("taskrun", "tekton")
            .storage("oci", "oci")
            .set("transparency.enabled=true")
            .set(&format!("transparency.url={}", mock.url()))
            // garbage: the key comes from the trusted root, so the entry's answer is what fails.
            .flag("--trusted-root", &root)
            .flag("--registry-timeout", TIMEOUT.to_string())
            .run();
        let took = t0.elapsed();
        mock.set_fault("off");
        eprintln!(
            "fault {fault}: exit {:?} in {} ms",
            out.status.code(),
            took.as_millis()
        );
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "fault {fault}: {err}");
        assert!(
            err.contains(&mock.url()),
            "fault {fault}: the error names the log: {err}"
        );
        let last = err.lines().last().unwrap_or_default();
        assert!(last.len() < 1000, "fault {fault}: one short line: {last}");
        assert!(
            took < Duration::from_secs(TIMEOUT + 15),
            "fault {fault}: took {took:?}"
        );
        assert!(
            layers(&reg.addr, REPO, &format!("sha256-{digest}.sig")).is_empty(),
            "fault {fault}: no signature stored"
        );
        let a = &api.taskrun(&name)["metadata"]["annotations"];
        assert_eq!(
            a["chains.tekton.dev/signed"], "failed",
            "fault {fault}: {a}"
        );
        assert!(
            a[format!("chains.tekton.dev/signature-taskrun-{uid}")].is_null(),
            "fault {fault}: {a}"
        );
    }
}

#[test]
fn a_log_that_does_not_verify_with_the_trusted_key_fails_the_run() {
    let Some(mock) = RekorV1Mock::start() else {
        return;
    };
    let reg = Registry::plain();
    let (pod, digest) = pod_for(&reg);
    // A trusted root that names the mock's URL with another key: its SETs do not verify.
    let (_, other_der) = crate::common::sigstore::p256_key(pod.root.path(), "other");
    let stranger = crate::common::sigstore::LogKey {
        url: mock.url(),
        der: other_der,
        major_api_version: 1,
    };
    let root = write_json(
        pod.root.path(),
        "trusted_root.json",
        &trusted_root(&[&stranger], &[]),
    );
    let out = attest_logged(&pod, &reg, &mock)
        .flag("--trusted-root", &root)
        .run();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("does not verify"), "{err}");
    assert!(err.contains(&mock.url()), "{err}");
    assert!(!mock.posted().is_empty(), "the log was asked");
    for tag in ["sig", "att"] {
        assert!(
            layers(&reg.addr, REPO, &format!("sha256-{digest}.{tag}")).is_empty(),
            "nothing stored in .{tag}"
        );
    }
}
