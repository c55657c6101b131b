//! Storage `oci` against a real registry (Debian's docker-registry), checked with the real
//! cosign: `cosign verify` and `cosign verify-attestation` find and accept what chainlet wrote.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::fault::FaultProxy;
use crate::common::registry::{self, Registry, layers, push_image};
use crate::common::tls::make_tls;
use crate::common::token::TokenServer;
use crate::common::*;

const REPO: &str = "team/app";

/// A pod whose IMAGE_URL/IMAGE_DIGEST name an image pushed to `reg`, with a cosign key.
fn pod_for(reg: &Registry) -> (Pod, String) {
    let hex = push_image(&reg.addr, REPO);
    pod_for_existing(reg, &hex)
}

/// `chainlet attest` storing both artifact types in the registry only.
fn attest_oci(pod: &Pod, reg: &Registry, uid: &str) -> Attest {
    Attest::new(pod)
        .taskrun("build-run", uid)
        .flag("--insecure-registry", &reg.addr)
        .storage_oci()
        .times()
}

fn cosign_cmd(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    cosign_run(&args, env)
}

fn verify(pubkey: &Path, image: &str, env: &[(&str, &str)]) {
    let key = pubkey.to_str().unwrap();
    let (ok_sig, text) = cosign_cmd(
        &[
            "verify",
            "--key",
            key,
            "--insecure-ignore-tlog",
            "--allow-http-registry",
            image,
        ],
        env,
    );
    assert!(ok_sig, "cosign verify {image}:\n{text}");
    let (ok_att, text) = cosign_cmd(
        &[
            "verify-attestation",
            "--key",
            key,
            "--insecure-ignore-tlog",
            "--allow-http-registry",
            "--type",
            "slsaprovenance1",
            image,
        ],
        env,
    );
    assert!(ok_att, "cosign verify-attestation {image}:\n{text}");
}

#[test]
fn signature_and_attestation_verify_with_cosign() {
    let reg = Registry::plain();
    let (pod, hex) = pod_for(&reg);
    ok(&attest_oci(&pod, &reg, UID).run());
    verify(
        &pod.path("secrets/cosign.pub"),
        &format!("{}/{REPO}@sha256:{hex}", reg.addr),
        &[],
    );
    let att = layers(&reg.addr, REPO, &format!("sha256-{hex}.att"));
    assert_eq!(att.len(), 1);
    assert_eq!(att[0]["mediaType"], "application/vnd.dsse.envelope.v1+json");
    assert_eq!(
        att[0]["annotations"]["predicateType"],
        "https://slsa.dev/provenance/v1"
    );
}

#[test]
fn x509_ecdsa_key_verifies_too() {
    let reg = Registry::plain();
    let (pod, hex) = pod_for(&reg);
    let key = pod.path("secrets/x509.pem");
    let st = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
        ])
        .arg(&key)
        .status()
        .unwrap();
    assert!(st.success());
    let public = pod.path("x509.pub");
    let st = Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&key)
        .arg("-out")
        .arg(&public)
        .status()
        .unwrap();
    assert!(st.success());
    ok(&attest_oci(&pod, &reg, UID).run());
    verify(&public, &format!("{}/{REPO}@sha256:{hex}", reg.addr), &[]);
}

#[test]
fn storage_oci_repository_redirects_both_tags() {
    let reg = Registry::plain();
    let (pod, hex) = pod_for(&reg);
    let elsewhere = format!("{}/signatures/store", reg.addr);
    ok(&attest_oci(&pod, &reg, UID)
        .set(&format!("storage.oci.repository={elsewhere}"))
        .run());
    assert!(layers(&reg.addr, REPO, &format!("sha256-{hex}.sig")).is_empty());
    assert_eq!(
        layers(&reg.addr, "signatures/store", &format!("sha256-{hex}.sig")).len(),
        1
    );
    verify(
        &pod.path("secrets/cosign.pub"),
        &format!("{}/{REPO}@sha256:{hex}", reg.addr),
        &[("COSIGN_REPOSITORY", &elsewhere)],
    );
}

#[test]
fn cosign_attestation_is_kept_and_rerunning_adds_nothing() {
    let reg = Registry::plain();
    let (pod, hex) = pod_for(&reg);
    let image = format!("{}/{REPO}@sha256:{hex}", reg.addr);
    // cosign attests first, with its own key.
    let other = tempfile::tempdir().unwrap();
    let out = Command::new(cosign())
        .current_dir(other.path())
        .env("COSIGN_PASSWORD", "o")
        .arg("generate-key-pair")
        .output()
        .unwrap();
    assert!(out.status.success());
    std::fs::write(other.path().join("predicate.json"), r#"{"buildDefinition":{"buildType":"https://example.com/manual","externalParameters":{}},"runDetails":{"builder":{"id":"https://example.com/cosign-user"}}}"#).unwrap();
    let (attested, text) = cosign_cmd(
        &[
            "attest",
            "--yes",
            "--tlog-upload=false",
            "--allow-http-registry",
            "--key",
            other.path().join("cosign.key").to_str().unwrap(),
            "--predicate",
            other.path().join("predicate.json").to_str().unwrap(),
            "--type",
            "slsaprovenance1",
            &image,
        ],
        &[("COSIGN_PASSWORD", "o")],
    );
    assert!(attested, "{text}");
    ok(&attest_oci(&pod, &reg, UID).run());
    let tag = format!("sha256-{hex}.att");
    assert_eq!(layers(&reg.addr, REPO, &tag).len(), 2);
    verify(&pod.path("secrets/cosign.pub"), &image, &[]);
    let (theirs, text) = cosign_cmd(
        &[
            "verify-attestation",
            "--key",
            other.path().join("cosign.pub").to_str().unwrap(),
            "--insecure-ignore-tlog",
            "--allow-http-registry",
            "--type",
            "slsaprovenance1",
            &image,
        ],
        &[],
    );
    assert!(theirs, "cosign's own attestation must survive: {text}");
    // The same TaskRun again (same inputs and times): nothing added.
    ok(&attest_oci(&pod, &reg, UID).run());
    assert_eq!(layers(&reg.addr, REPO, &tag).len(), 2);
    assert_eq!(
        layers(&reg.addr, REPO, &format!("sha256-{hex}.sig")).len(),
        1
    );
}

#[test]
fn eight_concurrent_taskruns_keep_all_eight_attestations() {
    let reg = Registry::plain();
    let (pod, hex) = pod_for(&reg);
    let uids: Vec<String> = (0..8)
        .map(|i| format!("00000000-0000-0000-0000-00000000000{i}"))
        .collect();
    let outs: Vec<Output> = std::thread::scope(|s| {
        let handles: Vec<_> = uids
            .iter()
            .map(|uid| s.spawn(|| attest_oci(&pod, &reg, uid).run()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for o in &outs {
        ok(o);
    }
    let att = layers(&reg.addr, REPO, &format!("sha256-{hex}.att"));
    let digests: std::collections::BTreeSet<String> = att
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        digests.len(),
        8,
        "8 distinct attestations expected, got {}",
        att.len()
    );
    verify(
        &pod.path("secrets/cosign.pub"),
        &format!("{}/{REPO}@sha256:{hex}", reg.addr),
        &[],
    );
}

/// A pod whose image is addressed through `proxy_addr` (the registry behind it holds it).
fn pod_through(reg: &Registry, proxy_addr: &str) -> (Pod, String) {
    let (pod, hex) = pod_for(reg);
    pod.result("IMAGE_URL", &format!("{proxy_addr}/{REPO}:v1\n"));
    (pod, hex)
}

#[test]
fn a_503_burst_is_retried_and_the_run_succeeds() {
    let reg = Registry::plain();
    let proxy = FaultProxy::start(&reg.addr, 3);
    let (pod, hex) = pod_through(&reg, &proxy.addr);
    let out = attest_oci(&pod, &reg, UID)
        .flag("--insecure-registry", &proxy.addr)
        .run();
    ok(&out);
    assert_eq!(proxy.refused.load(std::sync::atomic::Ordering::SeqCst), 3);
    verify(
        &pod.path("secrets/cosign.pub"),
        &format!("{}/{REPO}@sha256:{hex}", reg.addr),
        &[],
    );
}

#[test]
fn a_registry_that_keeps_failing_fails_the_run_and_changes_nothing() {
    let reg = Registry::plain();
    let proxy = FaultProxy::start(&reg.addr, usize::MAX);
    let (pod, hex) = pod_through(&reg, &proxy.addr);
    let out = attest_oci(&pod, &reg, UID)
        .flag("--insecure-registry", &proxy.addr)
        .flag("--registry-timeout", "2")
        .run();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    let last = err.lines().last().unwrap_or("");
    assert!(
        last.starts_with("chainlet: error: storage oci:") && last.contains("503"),
        "{err}"
    );
    assert!(layers(&reg.addr, REPO, &format!("sha256-{hex}.sig")).is_empty());
    assert!(layers(&reg.addr, REPO, &format!("sha256-{hex}.att")).is_empty());
}

#[test]
fn a_client_error_fails_at_once() {
    let reg = Registry::plain();
    let proxy = FaultProxy::start_with(&reg.addr, usize::MAX, "403 Forbidden", "DENIED");
    let (pod, _hex) = pod_through(&reg, &proxy.addr);
    let out = attest_oci(&pod, &reg, UID)
        .flag("--insecure-registry", &proxy.addr)
        .run();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("answered 403"), "{err}");
    // One request per tag (.sig and .att are read concurrently), none repeated.
    assert!(
        proxy.refused.load(std::sync::atomic::Ordering::SeqCst) <= 2,
        "403 is not retried"
    );
}

#[test]
fn htpasswd_over_tls_with_credentials_from_docker_config() {
    let work = tempfile::tempdir().unwrap();
    let (ca, cert, key) = make_tls(work.path());
    let htpasswd = work.path().join("htpasswd");
    let out = Command::new("htpasswd")
        .args(["-Bbn", "ci-user", "s3cret-pass"])
        .output()
        .expect("htpasswd runs");
    assert!(out.status.success());
    std::fs::write(&htpasswd, &out.stdout).unwrap();
    let reg = Registry::start(&format!(
        "  tls:\n    certificate: {}\n    key: {}\nauth:\n  htpasswd:\n    realm: chainlet-test\n    path: {}\n",
        cert.display(),
        key.display(),
        htpasswd.display()
    ));
    let (docker, hex) = push_as(&reg, work.path(), ("ci-user", "s3cret-pass"), Some(&ca));

    let (pod, _) = pod_for_existing(&reg, &hex);
    let tls_run = Attest::new(&pod).taskrun("tls-run", UID).storage_oci();
    // Without credentials: a clear authentication error.
    let empty = work.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(empty.join("config.json"), "{}").unwrap();
    let out = tls_run
        .clone()
        .flag("--registry-ca", &ca)
        .flag("--docker-config", &empty)
        .run();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("authentication required"),
        "{}",
        stderr(&out)
    );
    // Without the CA: TLS verification fails.
    let out = tls_run.clone().flag("--docker-config", &docker).run();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).to_lowercase().contains("issuer"),
        "{}",
        stderr(&out)
    );
    // With both: stored, and cosign verifies with the same CA and credentials.
    let out = tls_run
        .flag("--registry-ca", &ca)
        .flag("--docker-config", &docker)
        .run();
    ok(&out);
    assert!(!stderr(&out).contains("s3cret-pass"));
    let image = format!("{}/{REPO}@sha256:{hex}", reg.addr);
    let env = [("DOCKER_CONFIG", docker.to_str().unwrap())];
    let pubkey = pod.path("secrets/cosign.pub");
    for args in [
        vec!["verify"],
        vec!["verify-attestation", "--type", "slsaprovenance1"],
    ] {
        let mut a = args.clone();
        a.extend([
            "--key",
            pubkey.to_str().unwrap(),
            "--insecure-ignore-tlog",
            "--registry-cacert",
            ca.to_str().unwrap(),
            &image,
        ]);
        let (verified, text) = cosign_cmd(&a, &env);
        assert!(verified, "cosign {args:?}: {text}");
    }
}

#[test]
fn token_auth_registry_with_credentials_from_docker_config() {
    let work = tempfile::tempdir().unwrap();
    let tokens = TokenServer::start(work.path(), "robot", "t0ken-pass");
    let reg = Registry::start(&tokens.registry_config());
    let (docker, hex) = push_as(&reg, work.path(), ("robot", "t0ken-pass"), None);
    let (pod, _) = pod_for_existing(&reg, &hex);
    let out = attest_oci(&pod, &reg, UID)
        .flag("--docker-config", &docker)
        .run();
    ok(&out);
    let image = format!("{}/{REPO}@sha256:{hex}", reg.addr);
    verify(
        &pod.path("secrets/cosign.pub"),
        &image,
        &[("DOCKER_CONFIG", docker.to_str().unwrap())],
    );
    // chainlet verify reads with a pull-only token from the same token server.
    let key = pod.s("secrets/cosign.pub");
    let gate = chainlet(&[
        "verify",
        "--key",
        &key,
        "--docker-config",
        docker.to_str().unwrap(),
        "--insecure-registry",
        &reg.addr,
        &image,
    ]);
    assert!(gate.status.success(), "chainlet verify:\n{}", stderr(&gate));
    // Wrong credentials: the token server refuses, and the error says so.
    let bad = registry::docker_config_for(&work.path().join("bad"), &reg.addr, "robot", "wrong");
    let out = attest_oci(&pod, &reg, "11111111-0000-0000-0000-000000000000")
        .flag("--docker-config", &bad)
        .run();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("token request") && stderr(&out).contains("401"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("wrong"));
}

/// Pushes an image to `reg` as `user` (with the password, in a Docker config under `work`), over
/// plain HTTP or, given `ca`, over TLS trusting it; returns the Docker config and the digest's
/// hex.
fn push_as(
    reg: &Registry,
    work: &Path,
    (user, password): (&str, &str),
    ca: Option<&Path>,
) -> (PathBuf, String) {
    let docker = registry::docker_config_for(work, &reg.addr, user, password);
    let plain_http = ca.is_none().then_some(reg.addr.as_str());
    let client = registry::client(plain_http, ca, &docker);
    (docker, registry::push_image_with(&client, &reg.addr, REPO))
}

/// A pod for an image that is already in `reg`, with a cosign key (password "pw").
fn pod_for_existing(reg: &Registry, hex: &str) -> (Pod, String) {
    let pod = Pod::new();
    pod.result(
        "IMAGE_URL",
        &format!(
            "{}/{REPO}:v1
",
            reg.addr
        ),
    )
    .result(
        "IMAGE_DIGEST",
        &format!(
            "sha256:{hex}
"
        ),
    )
    .chainlet_key("pw");
    (pod, hex.to_owned())
}

/// A stub registry that wants Basic auth and sends uploads to another host; the other host
/// records any Authorization header it sees.
#[test]
fn credentials_never_go_to_another_host() {
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    let other = TcpListener::bind("127.0.0.1:0").unwrap();
    let other_addr = other.local_addr().unwrap().to_string();
    let seen_at_other: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = seen_at_other.clone();
    std::thread::spawn(move || {
        for conn in other.incoming().flatten() {
            let mut lines = BufReader::new(conn.try_clone().unwrap()).lines();
            while let Some(Ok(l)) = lines.next() {
                if l.is_empty() {
                    break;
                }
                seen.lock().unwrap().push(l);
            }
            let mut conn = conn;
            let _ = conn.write_all(
                b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    let stub = TcpListener::bind("127.0.0.1:0").unwrap();
    let stub_addr = stub.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for conn in stub.incoming().flatten() {
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut first = String::new();
            let _ = reader.read_line(&mut first);
            let mut authorised = false;
            let mut len = 0usize;
            loop {
                let mut l = String::new();
                if reader.read_line(&mut l).is_err() || l.trim().is_empty() {
                    break;
                }
                let lower = l.to_ascii_lowercase();
                authorised |= lower.starts_with("authorization:");
                if let Some(v) = lower.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; len];
            let _ = std::io::Read::read_exact(&mut reader, &mut body);
            let answer = if !authorised {
                "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"stub\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned()
            } else if first.starts_with("POST") {
                format!(
                    "HTTP/1.1 202 Accepted\r\nLocation: http://{other_addr}/upload/x?_state=s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )
            } else if first.starts_with("GET") || first.starts_with("HEAD") {
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_owned()
            } else {
                "HTTP/1.1 201 Created\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned()
            };
            let mut conn = conn;
            let _ = conn.write_all(answer.as_bytes());
        }
    });
    let work = tempfile::tempdir().unwrap();
    let docker = registry::docker_config_for(work.path(), &stub_addr, "ci-user", "pa55");
    let pod = Pod::new();
    pod.result("IMAGE_URL", &format!("{stub_addr}/{REPO}\n"))
        .result("IMAGE_DIGEST", &format!("sha256:{DIGEST_A}\n"))
        .chainlet_key("pw");
    let out = Attest::new(&pod)
        .taskrun("tr", UID)
        .flag("--insecure-registry", &stub_addr)
        .flag("--docker-config", &docker)
        .storage_oci()
        .run();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("another host"), "{}", stderr(&out));
    let seen = seen_at_other.lock().unwrap();
    assert!(
        !seen
            .iter()
            .any(|l| l.to_ascii_lowercase().starts_with("authorization")),
        "credentials reached another host: {seen:?}"
    );
}

#[test]
fn an_index_at_the_tag_fails_the_run_before_any_tag_is_written() {
    let reg = Registry::plain();
    let (pod, hex) = pod_for(&reg);
    // Something that is not a cosign image manifest sits at the .sig tag.
    let client = registry::plain_client(&reg.addr);
    let repo = chainlet::registry::Repo {
        registry: reg.addr.clone(),
        repository: REPO.into(),
    };
    let index = format!(
        "{{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[{{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"size\":1,\"digest\":\"sha256:{hex}\"}}]}}"
    );
    client
        .put_manifest(
            &repo,
            &format!("sha256-{hex}.sig"),
            index.as_bytes(),
            "application/vnd.oci.image.index.v1+json",
        )
        .unwrap();
    let out = attest_oci(&pod, &reg, UID).run();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("refusing to overwrite"),
        "{}",
        stderr(&out)
    );
    assert!(
        layers(&reg.addr, REPO, &format!("sha256-{hex}.att")).is_empty(),
        ".att must not be written"
    );
}

#[test]
fn a_token_endpoint_503_burst_is_retried() {
    let work = tempfile::tempdir().unwrap();
    let tokens = TokenServer::start(work.path(), "robot", "t0ken-pass");
    let proxy = FaultProxy::start(tokens.addr(), 2);
    let reg = Registry::start(
        &tokens.registry_config_with_realm(&format!("http://{}/token", proxy.addr)),
    );
    let (docker, hex) = push_as(&reg, work.path(), ("robot", "t0ken-pass"), None);
    assert_eq!(
        proxy.refused.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "the burst was spent on the push"
    );
    // A second burst for chainlet's own run.
    proxy.refused.store(0, std::sync::atomic::Ordering::SeqCst);
    let (pod, _) = pod_for_existing(&reg, &hex);
    ok(&attest_oci(&pod, &reg, UID)
        .flag("--docker-config", &docker)
        .run());
    assert_eq!(proxy.refused.load(std::sync::atomic::Ordering::SeqCst), 2);
    verify(
        &pod.path("secrets/cosign.pub"),
        &format!("{}/{REPO}@sha256:{hex}", reg.addr),
        &[("DOCKER_CONFIG", docker.to_str().unwrap())],
    );
}
