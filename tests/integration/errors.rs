//! Bad input: a one-line error naming the input, the documented exit code, no secret in the
//! output, and nothing written.

use crate::common::*;

/// Asserts the failure shape every bad input must have.
fn assert_fails_cleanly(pod: &Pod, out: &std::process::Output, code: i32, names: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "exit code; stderr: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line expected, got: {err}");
    assert!(lines[0].starts_with("chainlet: error: "), "{err}");
    for n in names {
        assert!(err.contains(n), "error should name {n:?}: {err}");
    }
    assert_eq!(
        pod.written(),
        Vec::<String>::new(),
        "nothing may be written"
    );
    assert!(
        !pod.path("out").exists(),
        "the output dir must not even be created"
    );
}

/// A pod with typical results and a key made by `chainlet generate-key-pair` with the password
/// "test"; `password` is what the Secret's cosign.password holds.
fn pod_with_cosign_key(password: &[u8]) -> Option<Pod> {
    let pod = Pod::new();
    pod.typical_results().chainlet_key("test");
    pod.secret("cosign.password", password);
    Some(pod)
}

#[test]
fn wrong_password_names_the_files_and_never_the_password() {
    let Some(pod) = pod_with_cosign_key(b"not-the-password") else {
        return;
    };
    let out = pod.attest(&[]);
    assert_fails_cleanly(
        &pod,
        &out,
        1,
        &["cosign.key", "cosign.password", "wrong password"],
    );
    assert!(!stderr(&out).contains("not-the-password"));
}

#[test]
fn right_password_with_trailing_newline_still_decrypts() {
    let Some(pod) = pod_with_cosign_key(b"test\n") else {
        return;
    };
    ok(&pod.attest(&[]));
}

#[test]
fn corrupt_key_is_named() {
    let Some(pod) = pod_with_cosign_key(b"test") else {
        return;
    };
    let key = std::fs::read_to_string(pod.path("secrets/cosign.key")).unwrap();
    // Damage the base64 body: a valid PEM frame around garbage.
    let lines: Vec<&str> = key.lines().collect();
    let corrupt = format!(
        "{}\nAAAA{}\n{}\n",
        lines[0],
        &lines[1][4..],
        lines[lines.len() - 1]
    );
    pod.secret("cosign.key", corrupt.as_bytes());
    let out = pod.attest(&[]);
    assert_fails_cleanly(&pod, &out, 1, &["cosign.key"]);
}

#[test]
fn tampered_ciphertext_is_rejected() {
    let Some(pod) = pod_with_cosign_key(b"test") else {
        return;
    };
    // Re-encode the key with one ciphertext byte changed: the secretbox MAC must catch it.
    let pem = std::fs::read_to_string(pod.path("secrets/cosign.key")).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut json: serde_json::Value = serde_json::from_slice(&b64.decode(body).unwrap()).unwrap();
    let mut ct = b64.decode(json["ciphertext"].as_str().unwrap()).unwrap();
    ct[20] ^= 1;
    json["ciphertext"] = b64.encode(ct).into();
    let new = format!(
        "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n{}\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n",
        b64.encode(json.to_string())
    );
    pod.secret("cosign.key", new.as_bytes());
    assert_fails_cleanly(&pod, &pod.attest(&[]), 1, &["cosign.key"]);
}

#[test]
fn missing_cosign_password_is_named() {
    let Some(pod) = pod_with_cosign_key(b"test") else {
        return;
    };
    std::fs::remove_file(pod.path("secrets/cosign.password")).unwrap();
    assert_fails_cleanly(&pod, &pod.attest(&[]), 1, &["cosign.password"]);
}

#[test]
fn empty_secrets_dir_says_what_was_expected() {
    let pod = Pod::new();
    pod.typical_results();
    assert_fails_cleanly(&pod, &pod.attest(&[]), 1, &["x509.pem", "cosign.key"]);
}

#[test]
fn rsa_x509_key_is_refused_by_name() {
    let pod = Pod::new();
    pod.typical_results();
    let key = pod.path("secrets/x509.pem");
    let st = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&key)
        .output()
        .unwrap();
    assert!(st.status.success());
    assert_fails_cleanly(&pod, &pod.attest(&[]), 1, &["x509.pem", "RSA"]);
}

#[test]
fn non_hex_digest_names_the_result() {
    let Some(pod) = pod_with_cosign_key(b"test") else {
        return;
    };
    pod.result("IMAGE_DIGEST", "sha256:not-hex-at-all");
    assert_fails_cleanly(
        &pod,
        &pod.attest(&[]),
        1,
        &["result \"IMAGE_DIGEST\"", "sha256:not-hex-at-all"],
    );
}

#[test]
fn bad_images_entry_names_the_result() {
    let Some(pod) = pod_with_cosign_key(b"test") else {
        return;
    };
    pod.result("IMAGES", "registry.example.com/a:latest");
    assert_fails_cleanly(
        &pod,
        &pod.attest(&[]),
        1,
        &["IMAGES", "registry.example.com/a:latest"],
    );
}

#[test]
fn malformed_artifact_outputs_names_the_result() {
    let Some(pod) = pod_with_cosign_key(b"test") else {
        return;
    };
    pod.result("bin-ARTIFACT_OUTPUTS", "{\"uri\": \"x\", ");
    assert_fails_cleanly(
        &pod,
        &pod.attest(&[]),
        1,
        &["bin-ARTIFACT_OUTPUTS", "JSON object"],
    );
}

#[test]
fn skip_invalid_hints_drops_them_like_chains() {
    let Some(pod) = pod_with_cosign_key(b"test") else {
        return;
    };
    pod.result("IMAGE_DIGEST", "sha256:not-hex-at-all");
    let out = pod.attest(&["--skip-invalid-hints"]);
    ok(&out);
    assert!(
        stderr(&out).contains("IMAGE_DIGEST"),
        "the drop is logged: {}",
        stderr(&out)
    );
    let names: Vec<String> = pod.statement()["subject"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(!names.iter().any(|n| n.contains("team/app")), "{names:?}");
}

#[test]
fn unknown_config_key_is_a_usage_error() {
    let Some(pod) = pod_with_cosign_key(b"test") else {
        return;
    };
    let out = pod.attest(&["--set", "artifacts.taskrun.fromat=slsa/v1"]);
    assert_fails_cleanly(&pod, &out, 2, &["artifacts.taskrun.fromat"]);
}

#[test]
fn invalid_config_value_lists_the_accepted_values() {
    let Some(pod) = pod_with_cosign_key(b"test") else {
        return;
    };
    let out = pod.attest(&["--set", "artifacts.taskrun.format=slsa/v9"]);
    assert_fails_cleanly(&pod, &out, 2, &["slsa/v9", "slsa/v2alpha4", "in-toto"]);
}

#[test]
fn unimplemented_chains_value_fails_at_start_up() {
    let Some(pod) = pod_with_cosign_key(b"test") else {
        return;
    };
    let out = pod.attest(&[
        "--set",
        "artifacts.taskrun.storage=kafka",
        "--set",
        "storage.pubsub.provider=inmemory",
    ]);
    assert_fails_cleanly(&pod, &out, 2, &["inmemory", "not supported yet"]);
    let out = pod.attest(&["--set", "artifacts.taskrun.signer=kms"]);
    assert_fails_cleanly(&pod, &out, 2, &["signers.kms.kmsref", "empty"]);
    let out = pod.attest(&[
        "--set",
        "artifacts.taskrun.signer=kms",
        "--set",
        "signers.kms.kmsref=vault://release",
    ]);
    assert_fails_cleanly(&pod, &out, 2, &["vault://release", "unknown KMS scheme"]);
    let out = pod.attest(&[
        "--set",
        "signers.x509.fulcio.enabled=true",
        "--set",
        "signers.x509.fulcio.provider=spiffe",
    ]);
    assert_fails_cleanly(&pod, &out, 2, &["provider spiffe", "not supported yet"]);
    let out = pod.attest(&["--set", "signers.x509.fulcio.enabled=true"]);
    assert_fails_cleanly(&pod, &out, 2, &["--trusted-root", "not supported yet"]);
}

#[test]
fn bad_config_dir_value_names_the_file() {
    let Some(pod) = pod_with_cosign_key(b"test") else {
        return;
    };
    let cfg = pod.path("config");
    std::fs::create_dir_all(&cfg).unwrap();
    std::fs::write(cfg.join("artifacts.oci.format"), "notary\n").unwrap();
    let out = pod.attest(&["--config-dir", cfg.to_str().unwrap()]);
    assert_fails_cleanly(
        &pod,
        &out,
        2,
        &["artifacts.oci.format", "notary", "simplesigning"],
    );
}

#[test]
fn missing_uid_is_a_usage_error() {
    let pod = Pod::new();
    let out = Attest::new(&pod).storage_file().run();
    assert_fails_cleanly(&pod, &out, 2, &["--taskrun-uid"]);
}

#[test]
fn symlink_out_of_the_results_dir_is_refused() {
    let Some(pod) = pod_with_cosign_key(b"test") else {
        return;
    };
    std::os::unix::fs::symlink(
        pod.path("secrets/cosign.password"),
        pod.path("results/LEAK"),
    )
    .unwrap();
    assert_fails_cleanly(
        &pod,
        &pod.attest(&[]),
        1,
        &["LEAK", "outside the results directory"],
    );
}

#[test]
fn a_value_that_is_not_implemented_says_how_to_choose() {
    let pod = Pod::new();
    let out = Attest::new(&pod)
        .flag("--taskrun-uid", UID)
        .set("artifacts.taskrun.storage=kafka")
        .set("storage.pubsub.provider=inmemory")
        .run();
    assert_fails_cleanly(
        &pod,
        &out,
        2,
        &[
            "storage.pubsub.provider",
            "inmemory",
            "(from --set)",
            "--set",
        ],
    );
}

#[test]
fn storage_tekton_without_api_access_says_what_is_missing() {
    let pod = Pod::new();
    pod.typical_results().chainlet_key("test");
    let out = pod.attest(&[
        "--serviceaccount-dir",
        &pod.s("no-such-dir"),
        "--set",
        "artifacts.taskrun.storage=tekton",
    ]);
    assert_fails_cleanly(
        &pod,
        &out,
        2,
        &["storage or format tekton", "Kubernetes API", "token"],
    );
    let out = pod.attest(&[
        "--taskrun-api",
        "off",
        "--set",
        "artifacts.taskrun.storage=tekton",
    ]);
    assert_fails_cleanly(&pod, &out, 2, &["--taskrun-api off"]);
}

#[test]
fn format_tekton_cannot_go_to_storage_oci() {
    let pod = Pod::new();
    pod.typical_results().chainlet_key("test");
    let out = pod.attest(&[
        "--set",
        "artifacts.taskrun.format=tekton",
        "--set",
        "artifacts.taskrun.storage=oci",
    ]);
    assert_fails_cleanly(&pod, &out, 2, &["format tekton", "storage oci"]);
}

#[test]
fn write_result_with_an_unknown_name_is_refused_before_any_work() {
    let pod = Pod::new();
    pod.typical_results().chainlet_key("test");
    let out = pod.attest(&["--write-result", "digest=/tmp/x"]);
    assert_fails_cleanly(
        &pod,
        &out,
        2,
        &["--write-result", "digest", "statement-digest"],
    );
}

#[test]
fn two_spellings_of_one_image_are_signed_once() {
    let Some(pod) = pod_with_cosign_key(b"test") else {
        return;
    };
    pod.result(
        "IMAGES",
        &format!("busybox@sha256:{DIGEST_A}\ndocker.io/library/busybox:1.36@sha256:{DIGEST_A}"),
    );
    ok(&pod.attest(&[]));
    let busybox: Vec<String> = pod
        .written()
        .into_iter()
        .filter(|f| f.contains("busybox") && f.ends_with("signature"))
        .collect();
    assert_eq!(busybox.len(), 1, "{busybox:?}");
}

#[test]
fn missing_taskrun_name_is_a_usage_error() {
    let Some(pod) = pod_with_cosign_key(b"test") else {
        return;
    };
    let out = Attest::new(&pod)
        .flag("--taskrun-uid", UID)
        .storage_file()
        .run();
    assert_fails_cleanly(&pod, &out, 2, &["--taskrun-name"]);
}

#[test]
fn start_after_finish_is_a_usage_error() {
    let Some(pod) = pod_with_cosign_key(b"test") else {
        return;
    };
    let out = pod.attest(&["--started-on", "2030-01-01T00:00:00Z"]);
    assert_fails_cleanly(&pod, &out, 2, &["--started-on", "--finished-on"]);
}

#[test]
fn step_results_linked_into_the_secrets_are_refused() {
    let Some(pod) = pod_with_cosign_key(b"test") else {
        return;
    };
    // A hostile earlier step points its results at the signing secrets.
    std::fs::create_dir_all(pod.path("run/3/status")).unwrap();
    std::os::unix::fs::symlink(pod.path("secrets"), pod.path("run/3/status/results")).unwrap();
    std::fs::create_dir_all(pod.path("steps")).unwrap();
    std::os::unix::fs::symlink("../run/3/status", pod.path("steps/step-evil")).unwrap();
    let out = pod.attest(&[]);
    assert_fails_cleanly(&pod, &out, 1, &["step-evil"]);
    assert!(
        !stderr(&out).contains("cosign.password"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn help_never_shows_the_values_of_set() {
    let out = chainlet_env(
        &["attest", "--help"],
        &[("CHAINLET_SET", "signers.kms.auth.token=s.SECRET")],
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("s.SECRET"));
}

#[test]
fn unknown_flag_is_exit_2() {
    let out = chainlet(&["attest", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn print_config_shows_each_value_and_its_source() {
    let pod = Pod::new();
    let cfg = pod.path("config");
    std::fs::create_dir_all(&cfg).unwrap();
    std::fs::write(cfg.join("builder.id"), "https://ci.example.com/builder\n").unwrap();
    let out = chainlet(&[
        "attest",
        "--print-config",
        "--config-dir",
        cfg.to_str().unwrap(),
        "--set",
        "artifacts.taskrun.format=slsa/v1",
    ]);
    let text = ok(&out);
    let line = |key: &str| {
        text.lines()
            .find(|l| l.starts_with(key))
            .unwrap()
            .to_owned()
    };
    assert!(
        line("builder.id").contains("\"https://ci.example.com/builder\"  # "),
        "{text}"
    );
    assert!(line("builder.id").contains("config/builder.id"), "{text}");
    assert!(
        line("artifacts.taskrun.format ").ends_with("\"slsa/v1\"  # --set"),
        "{text}"
    );
    assert!(
        line("artifacts.oci.format").ends_with("# default"),
        "{text}"
    );
}

#[test]
fn odd_times_are_one_line_usage_errors_never_an_abort() {
    let Some(pod) = pod_with_cosign_key(b"test") else {
        return;
    };
    for (time, why) in [
        // A multi-byte character where the zone offset's digits belong.
        ("2026-01-02T03:04:05+€:0", "not an RFC 3339 time"),
        ("2026-01-02T03:04:05+-1:00", "not an RFC 3339 time"),
        ("2026-01-02T03:04:05++1:00", "not an RFC 3339 time"),
        ("2026-01-02T03:04:05.Z", "not an RFC 3339 time"),
        // Valid RFC 3339, but past year 9999 in UTC: no payload could hold it.
        ("9999-12-31T23:59:59-23:59", "years 0000 to 9999"),
    ] {
        let out = pod.attest(&["--started-on", time]);
        assert_fails_cleanly(&pod, &out, 2, &["--started-on", why]);
    }
}

#[test]
fn a_registry_port_outside_1_to_65535_is_refused_before_any_connection() {
    for port in ["99999", "0", "65536"] {
        let Some(pod) = pod_with_cosign_key(b"test") else {
            return;
        };
        let image = format!("127.0.0.1:{port}/team/app:v1");
        pod.result("IMAGE_URL", &image);
        assert_fails_cleanly(
            &pod,
            &pod.attest(&["--set", "artifacts.oci.storage=oci"]),
            1,
            &[
                "IMAGE_URL",
                &format!("127.0.0.1:{port}"),
                "between 1 and 65535",
            ],
        );
    }
}

#[test]
fn a_start_before_the_epoch_is_written_in_utc() {
    let Some(pod) = pod_with_cosign_key(b"test") else {
        return;
    };
    ok(&pod.attest(&["--started-on", "1970-01-01T00:00:00+01:00"]));
    let statement = pod.statement();
    assert_eq!(
        statement["predicate"]["runDetails"]["metadata"]["startedOn"],
        "1969-12-31T23:00:00Z"
    );
    // Lower-case `t` and `z` are RFC 3339 too.
    ok(&pod.attest(&["--finished-on", "2026-01-02t03:05:06z"]));
}

#[test]
fn with_json_logs_the_final_error_is_json_too() {
    let out = chainlet(&["--log-format", "json", "attest", "--taskrun-name", "x"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    let last = err.lines().last().unwrap_or_default();
    let line: serde_json::Value = serde_json::from_str(last).expect("a JSON line");
    assert_eq!(line["level"], "ERROR", "{last}");
    assert!(
        line["fields"]["message"]
            .as_str()
            .unwrap()
            .contains("--taskrun-uid"),
        "{last}"
    );
}

#[test]
fn a_result_folder_that_does_not_exist_fails_before_anything_is_stored() {
    let Some(pod) = pod_with_cosign_key(b"test") else {
        return;
    };
    let result = pod.path("no-such-folder/statement-digest");
    let out = pod.attest(&[
        "--write-result",
        &format!("statement-digest={}", result.display()),
    ]);
    assert_fails_cleanly(&pod, &out, 1, &["--write-result", "no-such-folder"]);
}

#[test]
fn a_relative_output_dir_that_does_not_exist_yet_is_created() {
    let Some(pod) = pod_with_cosign_key(b"test") else {
        return;
    };
    let out = Attest::bare()
        .in_dir(&pod.path(""))
        .flag("--results-dir", "results")
        .flag("--signing-secrets", "secrets")
        .flag("--output-dir", "out/x")
        .taskrun("build-run", UID)
        .storage("taskrun", "file")
        .storage("oci", "file")
        .run();
    ok(&out);
    assert!(
        pod.path(&format!("out/x/taskrun-{UID}/envelope.json"))
            .is_file()
    );
}

#[test]
fn an_insecure_registry_with_a_bad_port_is_refused_before_any_connection() {
    for (value, why) in [
        ("127.0.0.1:99999", "between 1 and 65535"),
        ("127.0.0.1:0", "between 1 and 65535"),
        ("127.0.0.1:http", "not a number"),
    ] {
        let Some(pod) = pod_with_cosign_key(b"test") else {
            return;
        };
        let out = pod.attest(&[
            "--set",
            "artifacts.oci.storage=oci",
            "--insecure-registry",
            value,
        ]);
        assert_fails_cleanly(&pod, &out, 2, &["--insecure-registry", value, why]);
    }
}

#[test]
fn an_image_with_an_empty_path_component_is_named_as_such_by_storage_file() {
    let Some(pod) = pod_with_cosign_key(b"test") else {
        return;
    };
    pod.result("IMAGE_URL", "gcr.io/foo//bar:v1");
    let out = pod.attest(&[]);
    assert_fails_cleanly(&pod, &out, 1, &["gcr.io/foo//bar", "empty path component"]);
    assert!(!stderr(&out).contains("'..'"), "{}", stderr(&out));
}
