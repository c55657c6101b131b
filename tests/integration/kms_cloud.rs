//! Signer `kms` with `gcpkms://` and `azurekms://` keys, against chainlet's own stand-in for
//! Cloud KMS and Key Vault (`tests/support/cloud-kms/server.py`, Python `cryptography` keys):
//! no emulator for either service runs here. What is signed is verified with the real cosign
//! against the public key the stand-in hands out; the stand-in also plays Google's metadata
//! server and Entra ID's token endpoint, and checks what chainlet sends them.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::sigstore::cosign3;
use crate::common::{Attest, Pod, cosign_verify_attestation, cosign_verify_blob, skipped, stderr};

const GCP_KEY: &str = "projects/chainlet/locations/global/keyRings/ci/cryptoKeys";
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const CLIENT_ID: &str = "0d1e2f3a-aaaa-bbbb-cccc-0123456789ab";
const VAULT_SCOPE: &str = "https://vault.azure.net/.default";
const GOOD_TOKEN: &str = "ya29.kms-test-token-0123456789";

/// The test venv's Python (`CHAINLET_PY`), when it has `cryptography`.
fn python() -> Option<PathBuf> {
    let venv = std::env::var("CHAINLET_PY").unwrap_or_else(|_| "/opt/chainlet-py".into());
    let py = Path::new(&venv).join("bin/python");
    let ok = Command::new(&py)
        .args(["-c", "import cryptography"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        Some(py)
    } else {
        skipped(&format!(
            "{} with the cryptography package is missing (run .ci/run)",
            py.display()
        ));
        None
    }
}

/// The stand-in server on a free loopback port, stopped on drop.
struct KmsServer {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl KmsServer {
    /// Starts the server with `config` (its `out_dir` is filled in).
    fn start(mut config: Value) -> Option<Self> {
        let py = python()?;
        let dir = tempfile::tempdir().unwrap();
        config["out_dir"] = dir.path().display().to_string().into();
        let file = dir.path().join("config.json");
        std::fs::write(&file, config.to_string()).unwrap();
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/cloud-kms/server.py");
        let mut child = Command::new(py)
            .arg(script)
            .arg(&file)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the KMS stand-in starts");
        use std::io::BufRead as _;
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().expect("the stand-in prints its port");
        Some(Self { child, port, dir })
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The public key the server made for key `label`, version `version`.
    fn public_key(&self, label: &str, version: &str) -> PathBuf {
        self.dir.path().join(format!("{label}-{version}.pub.pem"))
    }

    /// Every request the server saw (not its own log requests).
    fn log(&self, tls: Option<&Path>) -> Vec<Value> {
        let url = match tls {
            None => format!("http://{}/_test/log", self.host()),
            Some(_) => format!("https://{}/_test/log", self.host()),
        };
        let mut cmd = Command::new("curl");
        cmd.args(["-sf", &url]);
        if let Some(ca) = tls {
            cmd.arg("--cacert").arg(ca);
        }
        let out = cmd.output().expect("curl runs");
        assert!(out.status.success(), "GET {url}");
        serde_json::from_slice::<Vec<Value>>(&out.stdout).unwrap()
    }
}

impl Drop for KmsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn gcp_key(label: &str, algorithm: &str) -> Value {
    json!({"label": label, "name": format!("{GCP_KEY}/{label}"), "purpose": "ASYMMETRIC_SIGN",
        "versions": [{"id": "1", "algorithm": algorithm, "state": "ENABLED"}]})
}

fn gcp_server(keys: Vec<Value>, issued: &str) -> Option<KmsServer> {
    KmsServer::start(json!({
        "mode": "gcp", "token": issued, "accept": [GOOD_TOKEN], "keys": keys,
    }))
}

/// `chainlet attest` offline, signing the TaskRun and the images with `kmsref`.
fn attest_kms(pod: &Pod, kmsref: &str) -> Attest {
    Attest::offline(pod)
        .set("artifacts.taskrun.signer=kms")
        .set("artifacts.oci.signer=kms")
        .set(&format!("signers.kms.kmsref={kmsref}"))
}

fn with_gcp(attest: Attest, server: &KmsServer) -> Attest {
    attest
        .env("GOOGLE_APPLICATION_CREDENTIALS", "")
        .env("GCE_METADATA_HOST", &server.host())
        .env(
            "CHAINLET_GCPKMS_ENDPOINT",
            &format!("http://{}", server.host()),
        )
}

/// What cosign 2.5 and 3.1 said about the attestation and every image signature.
struct Verdicts {
    cosign2: Vec<(String, bool, String)>,
    cosign3: Vec<(String, bool, String)>,
}

impl Verdicts {
    fn all_verified(&self) -> bool {
        self.cosign2
            .iter()
            .chain(&self.cosign3)
            .all(|(_, ok, _)| *ok)
    }
}

impl std::fmt::Debug for Verdicts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (who, list) in [("cosign 2", &self.cosign2), ("cosign 3", &self.cosign3)] {
            for (what, ok, text) in list {
                writeln!(f, "{who} {what}: {ok}: {}", text.trim())?;
            }
        }
        Ok(())
    }
}

/// Verifies what `attest` wrote into the pod's `out/` with cosign 2.5 and (when installed)
/// cosign 3.1, against the PEM public key `pubkey`.
fn verify_outputs(pod: &Pod, pubkey: &Path) -> Verdicts {
    let statement = pod.statement();
    let typ = match statement["predicateType"].as_str().unwrap() {
        "https://slsa.dev/provenance/v1" => "slsaprovenance1",
        _ => "slsaprovenance",
    };
    let envelope = pod.envelope_path();
    let mut v = Verdicts {
        cosign2: Vec::new(),
        cosign3: Vec::new(),
    };
    let (ok, text) = cosign_verify_attestation(pubkey, &envelope, typ);
    v.cosign2.push(("attestation".into(), ok, text));
    let key = pubkey.to_str().unwrap();
    let env_path = envelope.to_str().unwrap();
    if let Some(o) = cosign3(
        &[
            "verify-blob-attestation",
            "--insecure-ignore-tlog",
            "--key",
            key,
            "--signature",
            env_path,
            "--type",
            typ,
            "--check-claims=false",
            "/dev/null",
        ],
        &[],
    ) {
        v.cosign3
            .push(("attestation".into(), o.status.success(), text_of(&o)));
    }
    let images = pod.path("out/images");
    let mut dirs = Vec::new();
    walk_dirs(&images, &mut dirs);
    let mut count = 0;
    for dir in dirs.iter().filter(|d| d.join("signature").is_file()) {
        count += 1;
        let name = dir.strip_prefix(&images).unwrap().display().to_string();
        let (sig, payload) = (dir.join("signature"), dir.join("payload.json"));
        let (ok, text) = cosign_verify_blob(pubkey, &sig, &payload);
        v.cosign2.push((name.clone(), ok, text));
        if let Some(o) = cosign3(
            &[
                "verify-blob",
                "--insecure-ignore-tlog",
                "--key",
                key,
                "--signature",
                sig.to_str().unwrap(),
                payload.to_str().unwrap(),
            ],
            &[],
        ) {
            v.cosign3.push((name, o.status.success(), text_of(&o)));
        }
    }
    assert_eq!(count, 3, "three image signatures in {}", images.display());
    v
}

fn walk_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.path().is_dir() {
            out.push(e.path());
            walk_dirs(&e.path(), out);
        }
    }
}

fn text_of(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The last line of stderr: chainlet's one-line error.
fn last_line(out: &Output) -> String {
    stderr(out).lines().last().unwrap_or("").to_owned()
}

/// Exit 1, one error line naming `reference` and containing `reason`, nothing written.
fn assert_failed(out: &Output, pod: &Pod, reference: &str, reason: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let last = last_line(out);
    assert!(
        last.contains(reference) && last.contains(reason),
        "{reference} / {reason} in {last:?}\n{err}"
    );
    assert_eq!(pod.written(), Vec::<String>::new(), "nothing stored");
}

// ---------------------------------------------------------------- gcpkms

#[test]
fn gcpkms_signatures_verify_with_cosign_against_the_kms_public_key() {
    let Some(server) = gcp_server(
        vec![
            gcp_key("p256", "EC_SIGN_P256_SHA256"),
            gcp_key("rsa", "RSA_SIGN_PKCS1_2048_SHA256"),
        ],
        GOOD_TOKEN,
    ) else {
        return;
    };
    for label in ["p256", "rsa"] {
        let pod = Pod::new();
        pod.typical_results();
        let reference = format!("gcpkms://{GCP_KEY}/{label}/cryptoKeyVersions/1");
        let out = with_gcp(attest_kms(&pod, &reference), &server).run();
        crate::common::ok(&out);
        let verdicts = verify_outputs(&pod, &server.public_key(label, "1"));
        assert!(verdicts.all_verified(), "{label}:\n{verdicts:?}");
    }
    // Every sign call carried the metadata server's token, and every KMS call was authorized.
    let log = server.log(None);
    let signs = log
        .iter()
        .filter(|r| r["path"].as_str().unwrap().ends_with(":asymmetricSign"))
        .count();
    assert_eq!(signs, 2 * 4, "one attestation and three images per key");
    assert!(
        log.iter()
            .filter(|r| r["path"].as_str().unwrap().starts_with("/v1/"))
            .all(|r| r["authorized"] == true),
        "{log:?}"
    );
}

#[test]
fn gcpkms_p384_signs_sha384_digests_and_a_reference_without_version_takes_the_newest_enabled() {
    let key = json!({"label": "p384", "name": format!("{GCP_KEY}/p384"), "purpose": "ASYMMETRIC_SIGN",
    "versions": [
        {"id": "1", "algorithm": "EC_SIGN_P384_SHA384", "state": "ENABLED"},
        {"id": "2", "algorithm": "EC_SIGN_P384_SHA384", "state": "ENABLED"},
        {"id": "3", "algorithm": "EC_SIGN_P384_SHA384", "state": "DISABLED"},
    ]});
    let Some(server) = gcp_server(vec![key], GOOD_TOKEN) else {
        return;
    };
    let pod = Pod::new();
    pod.typical_results();
    let out = with_gcp(
        attest_kms(&pod, &format!("gcpkms://{GCP_KEY}/p384")),
        &server,
    )
    .run();
    crate::common::ok(&out);
    let pubkey = server.public_key("p384", "2");
    let verdicts = verify_outputs(&pod, &pubkey);
    check_sha384("gcpkms", &pod, &pubkey, &verdicts);
    let log = server.log(None);
    assert!(
        log.iter()
            .any(|r| r["path"] == format!("/v1/{GCP_KEY}/p384/cryptoKeyVersions/2:asymmetricSign")),
        "version 2 signed: {log:?}"
    );
}

/// P-384 signatures are over SHA-384: the services fix the digest to the key (Cloud KMS
/// `EC_SIGN_P384_SHA384`, Key Vault `ES384`), and sigstore's Azure client signs RSA 3072 keys
/// with `RS384`. openssl checks them; cosign 2.5 and 3.1, given the PEM public key, hash with
/// SHA-256 and reject them (README says so: verify with the KMS reference instead).
fn check_sha384(provider: &str, pod: &Pod, pubkey: &Path, v: &Verdicts) {
    eprintln!("{provider} SHA-384:\n{v:?}");
    assert!(
        v.cosign2.iter().chain(&v.cosign3).all(|(_, ok, _)| !*ok),
        "cosign now verifies SHA-384 signatures with a PEM key: update README\n{v:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    // The attestation: a signature over the envelope's PAE.
    let envelope: Value =
        serde_json::from_slice(&std::fs::read(pod.envelope_path()).unwrap()).unwrap();
    let payload = b64.decode(envelope["payload"].as_str().unwrap()).unwrap();
    let typ = envelope["payloadType"].as_str().unwrap();
    let mut pae = format!("DSSEv1 {} {typ} {} ", typ.len(), payload.len()).into_bytes();
    pae.extend_from_slice(&payload);
    let sig = b64
        .decode(envelope["signatures"][0]["sig"].as_str().unwrap())
        .unwrap();
    let mut checks = vec![(pae, sig)];
    let mut dirs = Vec::new();
    walk_dirs(&pod.path("out/images"), &mut dirs);
    for d in dirs.iter().filter(|d| d.join("signature").is_file()) {
        let sig = std::fs::read_to_string(d.join("signature")).unwrap();
        checks.push((
            std::fs::read(d.join("payload.json")).unwrap(),
            b64.decode(sig.trim()).unwrap(),
        ));
    }
    assert_eq!(checks.len(), 4);
    for (i, (data, sig)) in checks.iter().enumerate() {
        std::fs::write(dir.path().join(format!("data{i}")), data).unwrap();
        std::fs::write(dir.path().join(format!("sig{i}")), sig).unwrap();
        let out = Command::new("openssl")
            .args(["dgst", "-sha384", "-verify"])
            .arg(pubkey)
            .arg("-signature")
            .arg(dir.path().join(format!("sig{i}")))
            .arg(dir.path().join(format!("data{i}")))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{provider}: openssl -sha384 verifies signature {i}: {}",
            text_of(&out)
        );
    }
}

#[test]
fn gcpkms_a_damaged_signature_checksum_is_retried_then_accepted() {
    let Some(server) = KmsServer::start(json!({
        "mode": "gcp", "token": GOOD_TOKEN, "accept": [GOOD_TOKEN],
        "keys": [gcp_key("p256", "EC_SIGN_P256_SHA256")], "corrupt_signature_crc": 2,
    })) else {
        return;
    };
    let pod = Pod::new();
    pod.typical_results();
    let reference = format!("gcpkms://{GCP_KEY}/p256/cryptoKeyVersions/1");
    let out = with_gcp(attest_kms(&pod, &reference), &server).run();
    crate::common::ok(&out);
    let verdicts = verify_outputs(&pod, &server.public_key("p256", "1"));
    assert!(verdicts.all_verified(), "{verdicts:?}");
    assert!(stderr(&out).contains("signatureCrc32c"), "{}", stderr(&out));
}

#[test]
fn gcpkms_an_unknown_key_fails_naming_the_reference_and_stores_nothing() {
    let Some(server) = gcp_server(vec![gcp_key("p256", "EC_SIGN_P256_SHA256")], GOOD_TOKEN) else {
        return;
    };
    let pod = Pod::new();
    pod.typical_results();
    let reference = format!("gcpkms://{GCP_KEY}/nope/cryptoKeyVersions/1");
    let out = with_gcp(attest_kms(&pod, &reference), &server).run();
    assert_failed(&out, &pod, &reference, "HTTP 404 NOT_FOUND");
}

#[test]
fn gcpkms_a_rejected_token_fails_without_the_token_in_trace_logs() {
    let stale = "ya29.stale-token-that-must-not-be-logged";
    let Some(server) = gcp_server(vec![gcp_key("p256", "EC_SIGN_P256_SHA256")], stale) else {
        return;
    };
    let pod = Pod::new();
    pod.typical_results();
    let reference = format!("gcpkms://{GCP_KEY}/p256/cryptoKeyVersions/1");
    let out = with_gcp(attest_kms(&pod, &reference), &server)
        .env("CHAINLET_LOG_LEVEL", "trace")
        .run();
    assert_failed(&out, &pod, &reference, "HTTP 401 UNAUTHENTICATED");
    let err = stderr(&out);
    assert!(err.contains("TRACE"), "trace logs on: {err}");
    assert!(!err.contains("stale-token"), "{err}");
}

#[test]
fn gcpkms_an_unreachable_endpoint_fails_within_the_registry_timeout() {
    // Accepts connections and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let Some(server) = gcp_server(vec![gcp_key("p256", "EC_SIGN_P256_SHA256")], GOOD_TOKEN) else {
        return;
    };
    let pod = Pod::new();
    pod.typical_results();
    let reference = format!("gcpkms://{GCP_KEY}/p256/cryptoKeyVersions/1");
    let start = Instant::now();
    let out = with_gcp(attest_kms(&pod, &reference), &server)
        .env("CHAINLET_GCPKMS_ENDPOINT", &format!("http://{addr}"))
        .flag("--registry-timeout", "3")
        .run();
    let took = start.elapsed();
    assert_failed(&out, &pod, &reference, "deadline");
    assert!(took < Duration::from_secs(8), "{took:?}");
    drop(silent);
}

#[test]
fn gcpkms_plain_http_goes_to_loopback_only() {
    let pod = Pod::new();
    pod.typical_results();
    let reference = format!("gcpkms://{GCP_KEY}/p256/cryptoKeyVersions/1");
    let out = attest_kms(&pod, &reference)
        .env("GOOGLE_APPLICATION_CREDENTIALS", "")
        .env("GCE_METADATA_HOST", "127.0.0.1:9")
        .env("CHAINLET_GCPKMS_ENDPOINT", "http://kms.example.com")
        .run();
    assert_failed(&out, &pod, &reference, "plain HTTP only to loopback");
}

// ---------------------------------------------------------------- azurekms

/// A Key Vault stand-in over HTTPS (a test CA, given to chainlet as `--registry-ca`).
struct Vault {
    server: KmsServer,
    ca: PathBuf,
    _tls: tempfile::TempDir,
    federated: PathBuf,
}

fn azure_key(label: &str, kty: &str, size: Value, versions: &[&str]) -> Value {
    let mut k = json!({"label": label, "name": label, "kty": kty, "versions": versions});
    if kty == "EC" {
        k["crv"] = size;
    } else {
        k["size"] = size;
    }
    k
}

/// A projected service-account token: a JWT whose `exp` is `exp_from_now` seconds away.
fn service_account_jwt(exp_from_now: i64) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let claims = json!({"aud": ["api://AzureADTokenExchange"], "iss": "https://oidc.example/issuer",
        "sub": "system:serviceaccount:ci:pipeline", "iat": now - 10, "exp": now + exp_from_now});
    format!(
        "{}.{}.{}",
        b64.encode(br#"{"alg":"RS256","kid":"k"}"#),
        b64.encode(claims.to_string()),
        b64.encode(b"signature-bytes-of-the-projected-token")
    )
}

impl Vault {
    fn start(keys: Vec<Value>, issued: &str, federated_exp: i64) -> Option<Self> {
        let tls = tempfile::tempdir().unwrap();
        let (ca, cert, key) = crate::common::tls::make_tls(tls.path());
        let assertion = service_account_jwt(3600);
        let server = KmsServer::start(json!({
            "mode": "azure",
            "tls": {"cert": cert, "key": key},
            "token": issued,
            "accept": [GOOD_TOKEN],
            "keys": keys,
            "tenant": TENANT,
            "client_id": CLIENT_ID,
            "client_secret": "the-right-client-secret",
            "federated_token": assertion,
            "scope": VAULT_SCOPE,
        }))?;
        let federated = server.dir.path().join("azure-identity-token");
        let token = if federated_exp > 0 {
            assertion
        } else {
            service_account_jwt(federated_exp)
        };
        std::fs::write(&federated, token).unwrap();
        Some(Self {
            server,
            ca,
            _tls: tls,
            federated,
        })
    }

    fn reference(&self, key: &str) -> String {
        format!("azurekms://{}/{key}", self.server.host())
    }

    /// Workload identity, as the AKS webhook sets it up, and the test CA.
    fn env(&self, attest: Attest) -> Attest {
        attest
            .flag("--registry-ca", &self.ca)
            .env("AZURE_CLIENT_SECRET", "")
            .env("AZURE_CLIENT_CERTIFICATE_PATH", "")
            .env("AZURE_ENVIRONMENT", "")
            .env("AZURE_TENANT_ID", TENANT)
            .env("AZURE_CLIENT_ID", CLIENT_ID)
            .env(
                "AZURE_FEDERATED_TOKEN_FILE",
                self.federated.to_str().unwrap(),
            )
            .env(
                "AZURE_AUTHORITY_HOST",
                &format!("https://{}/", self.server.host()),
            )
    }
}

#[test]
fn azurekms_signatures_verify_with_cosign_against_the_vaults_public_key() {
    let Some(vault) = Vault::start(
        vec![
            azure_key("p256", "EC", json!("P-256"), &["0a1b2c3d", "4e5f6a7b"]),
            azure_key("rsa", "RSA", json!(2048), &["9c8d7e6f"]),
        ],
        GOOD_TOKEN,
        3600,
    ) else {
        return;
    };
    // Without a version: Key Vault's current one (the last); with one: that one.
    for (key, label, version) in [
        ("p256", "p256", "4e5f6a7b"),
        ("p256/0a1b2c3d", "p256", "0a1b2c3d"),
        ("rsa", "rsa", "9c8d7e6f"),
    ] {
        let pod = Pod::new();
        pod.typical_results();
        let out = vault.env(attest_kms(&pod, &vault.reference(key))).run();
        crate::common::ok(&out);
        let verdicts = verify_outputs(&pod, &vault.server.public_key(label, version));
        assert!(verdicts.all_verified(), "{key}:\n{verdicts:?}");
    }
    let log = vault.server.log(Some(&vault.ca));
    let signs: Vec<&str> = log
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .filter(|p| p.contains("/sign?"))
        .collect();
    // Signing goes to the version whose public key was read, even when none was named.
    assert!(
        signs
            .iter()
            .filter(|p| p.starts_with("/keys/p256/4e5f6a7b/sign?api-version=7.4"))
            .count()
            == 4,
        "{signs:?}"
    );
    // One token exchange per run: the token is cached for every signature.
    let exchanges = log
        .iter()
        .filter(|r| r["path"].as_str().unwrap().ends_with("/oauth2/v2.0/token"))
        .count();
    assert_eq!(exchanges, 3, "{log:?}");
}

#[test]
fn azurekms_p384_and_rsa_3072_sign_sha384_and_a_client_secret_works_too() {
    let Some(vault) = Vault::start(
        vec![
            azure_key("p384", "EC", json!("P-384"), &["abc123"]),
            azure_key("rsa3072", "RSA", json!(3072), &["def456"]),
        ],
        GOOD_TOKEN,
        3600,
    ) else {
        return;
    };
    for (key, version) in [("p384", "abc123"), ("rsa3072", "def456")] {
        let pod = Pod::new();
        pod.typical_results();
        let out = vault
            .env(attest_kms(&pod, &vault.reference(key)))
            .env("AZURE_CLIENT_SECRET", "the-right-client-secret")
            .run();
        crate::common::ok(&out);
        let pubkey = vault.server.public_key(key, version);
        let verdicts = verify_outputs(&pod, &pubkey);
        check_sha384(&format!("azurekms {key}"), &pod, &pubkey, &verdicts);
    }
}

#[test]
fn azurekms_an_unknown_key_fails_naming_the_reference_and_stores_nothing() {
    let Some(vault) = Vault::start(
        vec![azure_key("p256", "EC", json!("P-256"), &["v1"])],
        GOOD_TOKEN,
        3600,
    ) else {
        return;
    };
    let pod = Pod::new();
    pod.typical_results();
    let reference = vault.reference("missing");
    let out = vault.env(attest_kms(&pod, &reference)).run();
    assert_failed(&out, &pod, &reference, "HTTP 404 KeyNotFound");
}

#[test]
fn azurekms_an_expired_federated_token_fails_without_it_in_trace_logs() {
    let Some(vault) = Vault::start(
        vec![azure_key("p256", "EC", json!("P-256"), &["v1"])],
        GOOD_TOKEN,
        -60,
    ) else {
        return;
    };
    let assertion = std::fs::read_to_string(&vault.federated).unwrap();
    let pod = Pod::new();
    pod.typical_results();
    let reference = vault.reference("p256");
    let out = vault
        .env(attest_kms(&pod, &reference))
        .flag("--log-level", "trace")
        .run();
    assert_failed(&out, &pod, &reference, "AADSTS700024");
    let err = stderr(&out);
    assert!(err.contains("TRACE"), "trace logs on: {err}");
    for part in assertion.split('.') {
        assert!(!err.contains(part), "a piece of the assertion in {err}");
    }

    // A wrong client secret: Entra's answer, not the secret.
    let out = vault
        .env(attest_kms(&pod, &reference))
        .env("AZURE_CLIENT_SECRET", "a-wrong-secret-value")
        .flag("--log-level", "trace")
        .run();
    assert_failed(&out, &pod, &reference, "AADSTS7000215");
    assert!(
        !stderr(&out).contains("a-wrong-secret-value"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn azurekms_a_token_the_vault_rejects_fails_without_it_in_trace_logs() {
    let stale = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.stale-vault-token";
    let Some(vault) = Vault::start(
        vec![azure_key("p256", "EC", json!("P-256"), &["v1"])],
        stale,
        3600,
    ) else {
        return;
    };
    let pod = Pod::new();
    pod.typical_results();
    let reference = vault.reference("p256");
    let out = vault
        .env(attest_kms(&pod, &reference))
        .env("RUST_LOG", "trace")
        .flag("--log-level", "trace")
        .run();
    assert_failed(&out, &pod, &reference, "HTTP 401 Unauthorized");
    assert!(
        !stderr(&out).contains("stale-vault-token"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn azurekms_an_unreachable_vault_fails_within_the_registry_timeout() {
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let Some(vault) = Vault::start(
        vec![azure_key("p256", "EC", json!("P-256"), &["v1"])],
        GOOD_TOKEN,
        3600,
    ) else {
        return;
    };
    let pod = Pod::new();
    pod.typical_results();
    let reference = format!("azurekms://{addr}/p256");
    let start = Instant::now();
    let out = vault
        .env(attest_kms(&pod, &reference))
        .flag("--registry-timeout", "3")
        .run();
    let took = start.elapsed();
    assert_failed(&out, &pod, &reference, "deadline");
    assert!(took < Duration::from_secs(8), "{took:?}");
    drop(silent);
}
