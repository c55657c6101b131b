//! `chainlet verify` against the real registry: what `chainlet attest` and the real
//! `cosign attest --key` stored is accepted, and each way it can be wrong is rejected with its
//! reason. (Keyless, log and timestamp cases are in `keyless.rs` and the log tests.)

use std::process::Output;

use serde_json::Value;

use crate::common::registry::{Registry, plain_client, push_image};
use crate::common::*;

const REPO: &str = "team/app";

fn repo(reg: &Registry) -> chainlet::registry::Repo {
    chainlet::registry::Repo {
        registry: reg.addr.clone(),
        repository: REPO.into(),
    }
}

/// A pod whose IMAGE_URL/IMAGE_DIGEST name an image pushed to `reg`, with a cosign key.
fn pod_for(reg: &Registry) -> (Pod, String) {
    let hex = push_image(&reg.addr, REPO);
    let pod = Pod::new();
    pod.result("IMAGE_URL", &format!("{}/{REPO}:v1\n", reg.addr))
        .result("IMAGE_DIGEST", &format!("sha256:{hex}\n"))
        .chainlet_key("pw");
    (pod, hex)
}

/// `chainlet attest` storing the attestation and the image signature in the registry.
fn attest_oci(pod: &Pod, reg: &Registry) -> Attest {
    Attest::new(pod)
        .taskrun("build-run", UID)
        .flag("--insecure-registry", &reg.addr)
        .storage_oci()
}

fn image(reg: &Registry, hex: &str) -> String {
    format!("{}/{REPO}@sha256:{hex}", reg.addr)
}

/// `chainlet verify --key <pod's cosign.pub> --insecure-registry <reg> IMAGE extra…`.
fn verify(pod: &Pod, reg: &Registry, img: &str, extra: &[&str]) -> Output {
    let key = pod.s("secrets/cosign.pub");
    let mut args = vec![
        "verify",
        "--key",
        &key,
        "--insecure-registry",
        &reg.addr,
        img,
    ];
    args.extend_from_slice(extra);
    chainlet(&args)
}

/// Asserts exit 1 and that a `chainlet: verify: <img>: …` line on stderr contains `reason`.
fn rejected(out: &Output, img: &str, reason: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "expected exit 1:\n{err}");
    assert!(
        err.lines()
            .any(|l| l.starts_with(&format!("chainlet: verify: {img}: ")) && l.contains(reason)),
        "no reason containing {reason:?}:\n{err}"
    );
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

#[test]
fn what_chainlet_attest_stored_verifies() {
    let reg = Registry::plain();
    let (pod, hex) = pod_for(&reg);
    ok(&attest_oci(&pod, &reg).times().run());
    let img = image(&reg, &hex);
    let text = ok(&verify(
        &pod,
        &reg,
        &img,
        &[
            "--predicate-type",
            "slsaprovenance1",
            "--builder-id",
            "https://tekton.dev/chains/v2",
            "--build-type",
            "https://tekton.dev/chains/v2/slsa",
            "--require-signature",
        ],
    ));
    assert!(text.starts_with(&format!("{img}: verified")), "{text}");
    // SLSA v0.2 (format slsa/v1) too, with cosign's short name for it.
    let (pod2, hex2) = pod_for(&reg);
    ok(&attest_oci(&pod2, &reg)
        .times()
        .format("taskrun", "slsa/v1")
        .run());
    ok(&verify(
        &pod2,
        &reg,
        &image(&reg, &hex2),
        &["--predicate-type", "slsaprovenance"],
    ));
    // An attestation of another type does not count.
    rejected(
        &verify(
            &pod2,
            &reg,
            &image(&reg, &hex2),
            &["--predicate-type", "slsaprovenance1"],
        ),
        &image(&reg, &hex2),
        "no attestation of predicate type https://slsa.dev/provenance/v1 (found https://slsa.dev/provenance/v0.2)",
    );
}

#[test]
fn json_report_names_each_attestation_and_each_failure() {
    let reg = Registry::plain();
    let (pod, hex) = pod_for(&reg);
    ok(&attest_oci(&pod, &reg).times().run());
    let img = image(&reg, &hex);
    let missing = image(&reg, &push_image(&reg.addr, REPO));
    let out = verify(
        &pod,
        &reg,
        &img,
        &["--output", "json", "--require-signature", &missing],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v = json_of(&out);
    assert_eq!(v["verified"], false);
    let good = &v["images"][0];
    assert_eq!(good["image"], img);
    assert_eq!(good["digest"], format!("sha256:{hex}"));
    assert_eq!(good["verified"], true);
    assert_eq!(
        good["attestations"][0]["predicateType"],
        "https://slsa.dev/provenance/v1"
    );
    assert_eq!(good["attestations"][0]["signer"], "key");
    assert!(good["attestations"][0]["logIndex"].is_null());
    assert!(
        good["attestations"][0]["place"]
            .as_str()
            .unwrap()
            .ends_with(&format!("sha256-{hex}.att layer 1"))
    );
    assert_eq!(good["signatures"].as_array().unwrap().len(), 1);
    assert_eq!(good["failures"], serde_json::json!([]));
    let bad = &v["images"][1];
    assert_eq!(bad["verified"], false);
    assert!(bad["attestations"].as_array().unwrap().is_empty());
    let failures: Vec<&str> = bad["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(
        failures[0].starts_with("no attestation found"),
        "{failures:?}"
    );
    assert!(
        failures[1].starts_with("no image signature found"),
        "{failures:?}"
    );
}

#[test]
fn what_cosign_attest_stored_verifies() {
    let reg = Registry::plain();
    let (pod, hex) = pod_for(&reg);
    let img = image(&reg, &hex);
    // A SLSA v0.2 predicate as a user would hand it to cosign.
    let predicate = pod.path("predicate.json");
    std::fs::write(
        &predicate,
        r#"{"builder":{"id":"https://example.com/builder"},"buildType":"https://example.com/type",
            "invocation":{"parameters":{"flavour":"release"}},
            "materials":[{"uri":"git+https://github.com/example/app","digest":{"sha1":"0123456789abcdef0123456789abcdef01234567"}}]}"#,
    )
    .unwrap();
    let (done, text) = cosign_run(
        &[
            "attest".as_ref(),
            "--key".as_ref(),
            pod.path("secrets/cosign.key").as_os_str(),
            "--type".as_ref(),
            "slsaprovenance".as_ref(),
            "--predicate".as_ref(),
            predicate.as_os_str(),
            "--tlog-upload=false".as_ref(),
            "--allow-http-registry".as_ref(),
            "--yes".as_ref(),
            img.as_ref(),
        ],
        &[("COSIGN_PASSWORD", "pw")],
    );
    assert!(done, "cosign attest:\n{text}");
    ok(&verify(
        &pod,
        &reg,
        &img,
        &[
            "--predicate-type",
            "slsaprovenance02",
            "--builder-id",
            "https://example.com/builder",
            "--param",
            "flavour=release",
            "--allow-material",
            "git+https://github.com/example/",
            "--require-material",
            "git+https://github.com/example/app",
        ],
    ));
    rejected(
        &verify(&pod, &reg, &img, &["--param", "flavour=debug"]),
        &img,
        "param flavour is \"release\", not \"debug\"",
    );
    rejected(
        &verify(&pod, &reg, &img, &["--allow-material", "oci://"]),
        &img,
        "material \"git+https://github.com/example/app\" is not allowed",
    );
}

#[test]
fn a_wrong_key_is_rejected() {
    let reg = Registry::plain();
    let (pod, hex) = pod_for(&reg);
    ok(&attest_oci(&pod, &reg).times().run());
    let other = Pod::new();
    other.chainlet_key("other");
    let img = image(&reg, &hex);
    rejected(
        &verify(&other, &reg, &img, &[]),
        &img,
        "the signature does not verify with the ECDSA P-256 key",
    );
}

#[test]
fn a_statement_about_another_image_is_rejected_though_signed() {
    let reg = Registry::plain();
    let (pod, hex_a) = pod_for(&reg);
    ok(&attest_oci(&pod, &reg).times().run());
    let hex_b = push_image(&reg.addr, REPO);
    // A's attestation copied onto B's .att tag: a valid signature over a statement about A.
    let client = plain_client(&reg.addr);
    let att = client
        .get_manifest(&repo(&reg), &format!("sha256-{hex_a}.att"))
        .unwrap()
        .unwrap();
    client
        .put_manifest(
            &repo(&reg),
            &format!("sha256-{hex_b}.att"),
            &att.bytes,
            &att.media_type,
        )
        .unwrap();
    let img_b = image(&reg, &hex_b);
    rejected(
        &verify(&pod, &reg, &img_b, &[]),
        &img_b,
        &format!(
            "the statement is about sha256:{}, not sha256:{}",
            &hex_a[..12],
            &hex_b[..12]
        ),
    );
    ok(&verify(&pod, &reg, &image(&reg, &hex_a), &[]));
}

#[test]
fn a_builder_id_not_allowed_is_rejected() {
    let reg = Registry::plain();
    let (pod, hex) = pod_for(&reg);
    ok(&attest_oci(&pod, &reg).times().run());
    let img = image(&reg, &hex);
    rejected(
        &verify(
            &pod,
            &reg,
            &img,
            &["--builder-id", "https://example.com/trusted-builder"],
        ),
        &img,
        "builder id \"https://tekton.dev/chains/v2\" is not allowed (--builder-id allows \"https://example.com/trusted-builder\")",
    );
}

#[test]
fn an_attestation_older_than_max_age_is_rejected() {
    let reg = Registry::plain();
    let (pod, hex) = pod_for(&reg);
    // Finished well in the past, and no log entry to give a signing time.
    ok(&attest_oci(&pod, &reg)
        .flag("--started-on", "2025-06-01T10:00:00Z")
        .flag("--finished-on", "2025-06-01T10:30:00Z")
        .run());
    let img = image(&reg, &hex);
    rejected(
        &verify(&pod, &reg, &img, &["--max-age", "7d"]),
        &img,
        "finished 2025-06-01T10:30:00Z, older than --max-age 1w",
    );
    // A fresh one (finished now) passes.
    let (fresh, hex2) = pod_for(&reg);
    ok(&attest_oci(&fresh, &reg).run());
    ok(&verify(
        &fresh,
        &reg,
        &image(&reg, &hex2),
        &["--max-age", "30m"],
    ));
}

/// The `.att` manifest of `hex` and its one layer's envelope.
fn att_of(reg: &Registry, hex: &str) -> (Value, Vec<u8>) {
    let client = plain_client(&reg.addr);
    let m = client
        .get_manifest(&repo(reg), &format!("sha256-{hex}.att"))
        .unwrap()
        .unwrap();
    let manifest: Value = serde_json::from_slice(&m.bytes).unwrap();
    let digest = manifest["layers"][0]["digest"].as_str().unwrap().to_owned();
    let blob = client.get_blob(&repo(reg), &digest).unwrap().unwrap();
    (manifest, blob)
}

#[test]
fn an_edited_statement_is_rejected() {
    let reg = Registry::plain();
    let (pod, hex) = pod_for(&reg);
    ok(&attest_oci(&pod, &reg).times().run());
    // Someone edits the statement (a builder id they like) and pushes it as a new layer with
    // consistent digests: the signature no longer matches.
    let (mut manifest, blob) = att_of(&reg, &hex);
    let mut env: Value = serde_json::from_slice(&blob).unwrap();
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let payload = b64.decode(env["payload"].as_str().unwrap()).unwrap();
    let edited = String::from_utf8(payload)
        .unwrap()
        .replace("https://tekton.dev/chains/v2", "https://example.com/other");
    env["payload"] = Value::from(b64.encode(edited));
    let new_blob = serde_json::to_vec(&env).unwrap();
    let client = plain_client(&reg.addr);
    let digest = client.push_blob(&repo(&reg), &new_blob).unwrap();
    manifest["layers"][0]["digest"] = Value::from(digest);
    manifest["layers"][0]["size"] = Value::from(new_blob.len());
    client
        .put_manifest(
            &repo(&reg),
            &format!("sha256-{hex}.att"),
            &serde_json::to_vec(&manifest).unwrap(),
            "application/vnd.oci.image.manifest.v1+json",
        )
        .unwrap();
    let img = image(&reg, &hex);
    rejected(
        &verify(&pod, &reg, &img, &[]),
        &img,
        "the signature does not verify with the ECDSA P-256 key",
    );
}

#[test]
fn a_layer_whose_blob_was_swapped_in_storage_is_rejected() {
    let reg = Registry::plain();
    let (pod, hex) = pod_for(&reg);
    ok(&attest_oci(&pod, &reg).times().run());
    let (manifest, blob) = att_of(&reg, &hex);
    let digest = manifest["layers"][0]["digest"].as_str().unwrap();
    let hexd = digest.trim_start_matches("sha256:");
    // Behind the registry's back: the blob's file in its storage, same size, other bytes.
    let file = reg.storage_dir().join(format!(
        "docker/registry/v2/blobs/sha256/{}/{hexd}/data",
        &hexd[..2]
    ));
    let mut swapped = blob.clone();
    let last = swapped.len() - 3;
    swapped[last] ^= 0x01;
    std::fs::write(&file, &swapped).unwrap();
    let img = image(&reg, &hex);
    rejected(
        &verify(&pod, &reg, &img, &[]),
        &img,
        &format!("not the layer's digest {digest} (tampered or corrupt)"),
    );
}

#[test]
fn an_image_without_attestation_is_rejected() {
    let reg = Registry::plain();
    let (pod, hex) = pod_for(&reg);
    let img = image(&reg, &hex);
    rejected(
        &verify(&pod, &reg, &img, &[]),
        &img,
        &format!(
            "no attestation found (looked in {}/{REPO}:sha256-{hex}.att, {}/{REPO}:sha256-{hex})",
            reg.addr, reg.addr
        ),
    );
}

#[test]
fn policy_files_in_yaml_and_json_apply_with_the_flags() {
    let reg = Registry::plain();
    let (pod, hex) = pod_for(&reg);
    ok(&attest_oci(&pod, &reg)
        .times()
        .flag("--param", "url=https://github.com/example/app")
        .run());
    let img = image(&reg, &hex);
    let yaml = pod.path("policy.yaml");
    std::fs::write(
        &yaml,
        "# what the deploy task accepts\npredicateType: slsaprovenance1\nbuilderIds:\n  - https://tekton.dev/chains/v2\nbuildTypes: [https://tekton.dev/chains/v2/slsa]\nparams:\n  url: https://github.com/example/app\nrequireSignature: true\n",
    )
    .unwrap();
    ok(&verify(
        &pod,
        &reg,
        &img,
        &["--policy", &pod.s("policy.yaml")],
    ));
    let json = pod.path("policy.json");
    std::fs::write(
        &json,
        r#"{"builderIds": ["https://example.com/other"], "maxAge": "1000w"}"#,
    )
    .unwrap();
    rejected(
        &verify(&pod, &reg, &img, &["--policy", &pod.s("policy.json")]),
        &img,
        &format!(
            "builder id \"https://tekton.dev/chains/v2\" is not allowed (builderIds in {} allows",
            json.display()
        ),
    );
    // A flag narrows the file's policy; it never widens it.
    rejected(
        &verify(
            &pod,
            &reg,
            &img,
            &[
                "--policy",
                &pod.s("policy.yaml"),
                "--param",
                "url=https://evil.example",
            ],
        ),
        &img,
        "param url is \"https://github.com/example/app\", not \"https://evil.example\" (--param)",
    );
    // A policy file with a typo is bad usage, not a failed verification.
    std::fs::write(&yaml, "builderId: x\n").unwrap();
    let out = verify(&pod, &reg, &img, &["--policy", &pod.s("policy.yaml")]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("unknown key \"builderId\""),
        "{}",
        stderr(&out)
    );
}

#[test]
fn usage_errors_exit_2_with_one_line() {
    let pod = Pod::new();
    pod.chainlet_key("pw");
    let img = format!("127.0.0.1:1/{REPO}@sha256:{DIGEST_A}");
    let key = pod.s("secrets/cosign.pub");
    for (args, says) in [
        (
            vec!["verify", img.as_str()],
            "no --key and no --certificate-identity",
        ),
        (
            vec!["verify", "--key", &key, "--max-age", "7 days", &img],
            "--max-age",
        ),
        (
            vec![
                "verify",
                "--certificate-identity",
                "me@example.com",
                "--certificate-oidc-issuer",
                "https://issuer.example",
                &img,
            ],
            "needs --trusted-root",
        ),
        (
            vec!["verify", "--key", &key, "127.0.0.1:1/team/app:v1"],
            "the digest is required",
        ),
        (
            vec![
                "verify",
                "--key",
                &key,
                "--predicate-type",
                "spdx-ish",
                &img,
            ],
            "--predicate-type",
        ),
        (vec!["verify", "--key", &key], "nothing to verify"),
    ] {
        let out = chainlet(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

#[test]
fn the_images_and_flags_come_from_the_environment_too() {
    let reg = Registry::plain();
    let (pod, hex) = pod_for(&reg);
    ok(&attest_oci(&pod, &reg).times().run());
    let out = chainlet_env(
        &["verify"],
        &[
            (
                "CHAINLET_VERIFY_IMAGES",
                &format!("{}\n", image(&reg, &hex)),
            ),
            ("CHAINLET_VERIFY_KEY", &pod.s("secrets/cosign.pub")),
            ("CHAINLET_INSECURE_REGISTRIES", &reg.addr),
            (
                "CHAINLET_VERIFY_BUILDER_IDS",
                "https://example.com/a\nhttps://example.com/b",
            ),
            ("CHAINLET_VERIFY_OUTPUT", "json"),
            // Empty means not given, as Tekton passes an empty param.
            ("CHAINLET_VERIFY_MAX_AGE", ""),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v = json_of(&out);
    let failures = v["images"][0]["failures"].to_string();
    assert!(
        failures.contains(r#"allows \"https://example.com/a\", \"https://example.com/b\""#),
        "{failures}"
    );
}

/// `chainlet attest` offline into the pod's `out/` for an image named in the results.
fn attest_offline(pod: &Pod) {
    pod.result("IMAGE_URL", "registry.example.com/team/app:v1\n")
        .result("IMAGE_DIGEST", &format!("sha256:{DIGEST_A}\n"));
    ok(&pod.attest(&[]));
}

#[test]
fn an_output_dir_verifies_locally() {
    let pod = Pod::new();
    pod.chainlet_key("pw");
    attest_offline(&pod);
    let key = pod.s("secrets/cosign.pub");
    let out_dir = pod.s("out");
    let img = format!("registry.example.com/team/app@sha256:{DIGEST_A}");
    ok(&chainlet(&[
        "verify",
        "--key",
        &key,
        "--dir",
        &out_dir,
        "--require-signature",
        "--builder-id",
        "https://tekton.dev/chains/v2",
        &img,
    ]));
    // Every attestation of the dir on its own.
    ok(&chainlet(&["verify", "--key", &key, "--dir", &out_dir]));
    let other = format!("registry.example.com/team/app@sha256:{DIGEST_C}");
    rejected(
        &chainlet(&["verify", "--key", &key, "--dir", &out_dir, &other]),
        &other,
        "the statement is about sha256:",
    );
}

#[test]
fn a_bundle_chainlet_wrote_verifies_with_its_artifact() {
    let pod = Pod::new();
    pod.chainlet_key("pw");
    attest_offline(&pod);
    let key = pod.s("secrets/cosign.pub");
    let bundle = pod.s(&format!("out/taskrun-{UID}/bundle.sigstore.json"));
    let img = format!("registry.example.com/team/app@sha256:{DIGEST_A}");
    ok(&chainlet(&[
        "verify",
        "--key",
        &key,
        "--bundle",
        &bundle,
        &img,
        "--predicate-type",
        "slsaprovenance1",
    ]));
    // The same bundle is no proof for another artifact: a file whose sha256 is not a subject.
    let file = pod.path("app.tar");
    std::fs::write(&file, b"not the image").unwrap();
    let file_s = file.display().to_string();
    rejected(
        &chainlet(&["verify", "--key", &key, "--bundle", &bundle, &file_s]),
        &file_s,
        "the statement is about sha256:",
    );
    // The image signature's bundle is a message signature over the payload file beside it.
    let dir = pod.path(&format!(
        "out/images/registry.example.com/team/app@sha256-{DIGEST_A}"
    ));
    let payload = dir.join("payload.json").display().to_string();
    let sig_bundle = dir.join("bundle.sigstore.json").display().to_string();
    ok(&chainlet(&[
        "verify",
        "--key",
        &key,
        "--bundle",
        &sig_bundle,
        &payload,
    ]));
    rejected(
        &chainlet(&["verify", "--key", &key, "--bundle", &sig_bundle, &file_s]),
        &file_s,
        "the bundle signs a digest that is not",
    );
}
