//! Signer `kms` with `awskms://` keys against LocalStack's KMS and STS (`localstack-core`, run
//! without Docker from the venv `.ci/run` makes: `CHAINLET_LOCALSTACK`, default
//! `/opt/chainlet-localstack`), with keys made and public keys read by boto3 and every
//! signature checked by the real cosign against the PEM of the key KMS returns. LocalStack
//! signs `MessageType=DIGEST` as AWS does, but checks no request signature: the SigV4 of a KMS
//! call is proved against moto's server with its authentication on (`CHAINLET_PY`), which
//! refuses a wrong signature (moto's own `Sign` hashes a digest again, so no signature of it
//! is checked here). The container credentials endpoint (EKS Pod Identity) has no server to
//! be had here: a small test server stands in for it.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::registry::{Registry, free_port, push_image};
use crate::common::*;

const REPO: &str = "team/app";
/// The account LocalStack files a request under: a 12-digit access key id is read as one.
const ACCOUNT: &str = "000000000000";
const SECRET: &str = "chainlet-test-secret-key";
const SESSION_TOKEN: &str = "chainlet-test-session-token";

fn venv() -> PathBuf {
    PathBuf::from(std::env::var("CHAINLET_LOCALSTACK").unwrap_or("/opt/chainlet-localstack".into()))
}

/// A LocalStack (KMS, STS) on 127.0.0.1, stopped when dropped.
struct LocalStack {
    endpoint: String,
    child: Child,
    dir: tempfile::TempDir,
}

impl Drop for LocalStack {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl LocalStack {
    fn start() -> Option<Self> {
        let python = venv().join("bin/python");
        if !python.is_file() {
            skipped(&format!("{} is missing: run .ci/run", python.display()));
            return None;
        }
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let log = std::fs::File::create(dir.path().join("log")).unwrap();
        let child = Command::new(python)
            .args(["-m", "localstack.runtime.main"])
            .env("GATEWAY_LISTEN", format!("127.0.0.1:{port}"))
            .env("SERVICES", "kms,sts")
            // No DNS server of its own, no certificate download, no usage events: nothing
            // leaves the machine, and start-up takes seconds.
            .env("DNS_ADDRESS", "0")
            .env("SKIP_SSL_CERT_DOWNLOAD", "1")
            .env("DISABLE_EVENTS", "1")
            .env("LOCALSTACK_VOLUME_DIR", dir.path().join("volume"))
            .env("TMPDIR", dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("LocalStack starts");
        let mut me = Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            child,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        let health = format!("{}/_localstack/health", me.endpoint);
        loop {
            let up = ureq::get(&health)
                .call()
                .ok()
                .and_then(|mut r| r.body_mut().read_to_string().ok())
                .is_some_and(|b| b.contains("kms"));
            if up {
                break;
            }
            let exited = me.child.try_wait().ok().flatten();
            let log = std::fs::read_to_string(me.dir.path().join("log")).unwrap_or_default();
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "LocalStack did not start ({exited:?}):\n{log}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(me)
    }

    /// Runs a boto3 snippet with `kms`, a KMS client of `account`; its stdout as JSON.
    fn boto3(&self, account: &str, code: &str) -> Value {
        boto3(&self.endpoint, account, "x", code)
    }

    /// A signing key of `spec` with `alias/<alias>`: (key ARN, public key PEM from GetPublicKey).
    fn key(&self, account: &str, spec: &str, alias: &str) -> (String, String) {
        let v = self.boto3(
            account,
            &format!(
                r#"
k = kms.create_key(KeySpec='{spec}', KeyUsage='SIGN_VERIFY')['KeyMetadata']
kms.create_alias(AliasName='alias/{alias}', TargetKeyId=k['KeyId'])
der = kms.get_public_key(KeyId='alias/{alias}')['PublicKey']
b = base64.b64encode(der).decode()
pem = '-----BEGIN PUBLIC KEY-----\n' + '\n'.join(b[i:i+64] for i in range(0, len(b), 64)) + '\n-----END PUBLIC KEY-----\n'
print(json.dumps({{'arn': k['Arn'], 'pem': pem}}))
"#
            ),
        );
        (
            v["arn"].as_str().unwrap().to_owned(),
            v["pem"].as_str().unwrap().to_owned(),
        )
    }
}

fn boto3(endpoint: &str, access_key: &str, secret: &str, code: &str) -> Value {
    let prelude = format!(
        "import base64, json, boto3\nkms = boto3.client('kms', endpoint_url='{endpoint}', region_name='us-east-1', aws_access_key_id='{access_key}', aws_secret_access_key='{secret}')\n"
    );
    let out = Command::new(venv().join("bin/python"))
        .arg("-c")
        .arg(format!("{prelude}{code}"))
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "boto3: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `chainlet attest` signing both artifact types with `kmsref`, credentials and region from
/// `env` only (every AWS variable the test machine might have is blanked first).
fn attest(pod: &Pod, kmsref: &str, env: &[(&str, &str)]) -> Attest {
    let mut a = Attest::new(pod)
        .taskrun("build-run", UID)
        .times()
        .set("artifacts.taskrun.signer=kms")
        .set("artifacts.oci.signer=kms")
        .set(&format!("signers.kms.kmsref={kmsref}"));
    for var in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_KMS",
        "AWS_ENDPOINT_URL_STS",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
        "AWS_ROLE_SESSION_NAME",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    ] {
        a = a.env(var, "");
    }
    for (k, v) in env {
        a = a.env(k, v);
    }
    a
}

/// Static keys for account [`ACCOUNT`], region and endpoint.
fn static_env(ls: &LocalStack) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID", ACCOUNT.to_owned()),
        ("AWS_SECRET_ACCESS_KEY", SECRET.to_owned()),
        ("AWS_SESSION_TOKEN", SESSION_TOKEN.to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ENDPOINT_URL_KMS", ls.endpoint.clone()),
    ]
}

fn refs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

fn cosign_args(args: &[&str]) -> (bool, String) {
    let args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    cosign_run(&args, &[])
}

fn pod_with_image(reg: &Registry) -> (Pod, String) {
    let hex = push_image(&reg.addr, REPO);
    let pod = Pod::new();
    pod.result("IMAGE_URL", &format!("{}/{REPO}:v1\n", reg.addr))
        .result("IMAGE_DIGEST", &format!("sha256:{hex}\n"));
    (pod, hex)
}

#[test]
fn an_aws_kms_key_signs_image_signatures_and_attestations_that_cosign_verifies() {
    let Some(ls) = LocalStack::start() else {
        return;
    };
    let (arn, pem) = ls.key(ACCOUNT, "ECC_NIST_P256", "release");
    let reg = Registry::plain();
    let (pod, hex) = pod_with_image(&reg);
    let env = static_env(&ls);
    let out = attest(&pod, "awskms:///alias/release", &refs(&env))
        .flag("--insecure-registry", &reg.addr)
        .storage_oci()
        .env("CHAINLET_LOG_LEVEL", "trace")
        .run();
    ok(&out);
    // Trace-level logs show requests, never a credential or a request signature.
    let logs = stderr(&out);
    for secret in [SECRET, SESSION_TOKEN, "Signature="] {
        assert!(!logs.contains(secret), "{secret} in the logs:\n{logs}");
    }
    let key = pod.path("kms.pub");
    std::fs::write(&key, &pem).unwrap();
    let image = format!("{}/{REPO}@sha256:{hex}", reg.addr);
    let key = key.to_str().unwrap();
    let common = [
        "--key",
        key,
        "--insecure-ignore-tlog",
        "--allow-http-registry",
    ];
    let (verified, text) = cosign_args(&[&["verify"][..], &common, &[&image]].concat());
    assert!(verified, "cosign verify {image}:\n{text}");
    let (verified, text) = cosign_args(
        &[
            &["verify-attestation"][..],
            &common,
            &["--type", "slsaprovenance1", &image],
        ]
        .concat(),
    );
    assert!(verified, "cosign verify-attestation {image}:\n{text}");
    // The key ARN form names the same key, and its region needs no AWS_REGION.
    let pod = Pod::new();
    pod.typical_results();
    let env: Vec<_> = static_env(&ls)
        .into_iter()
        .filter(|(k, _)| *k != "AWS_REGION")
        .collect();
    ok(&attest(&pod, &format!("awskms:///{arn}"), &refs(&env))
        .storage_file()
        .run());
    let (verified, text) = cosign_verify_attestation(
        std::path::Path::new(key),
        &pod.envelope_path(),
        "slsaprovenance1",
    );
    assert!(verified, "{text}");
}

/// Signs the typical results with a key of `spec` into `out/`: the PEM and the pod.
fn sign_with(ls: &LocalStack, spec: &str) -> (Pod, PathBuf) {
    let alias = spec.to_ascii_lowercase().replace('_', "-");
    let (_, pem) = ls.key(ACCOUNT, spec, &alias);
    let pod = Pod::new();
    pod.typical_results();
    let env = static_env(ls);
    ok(
        &attest(&pod, &format!("awskms:///alias/{alias}"), &refs(&env))
            .storage_file()
            .run(),
    );
    let key = pod.path("kms.pub");
    std::fs::write(&key, pem).unwrap();
    (pod, key)
}

/// cosign 2.5 and 3.1 on the envelope and the image signature in `pod`, verified with `key`
/// (a PEM file, or an `awskms://` reference read through `env`): [2.5 attestation, 2.5 image
/// signature, 3.1 attestation, 3.1 image signature], `None` when cosign 3.1 is not installed.
fn cosign_verdicts(pod: &Pod, key: &str, env: &[(&str, &str)]) -> [Option<bool>; 4] {
    let image = pod.path(&format!(
        "out/images/registry.example.com/team/app@sha256-{DIGEST_A}"
    ));
    let signature = image.join("signature");
    let payload = image.join("payload.json");
    let envelope = pod.envelope_path();
    let att: Vec<&str> = vec![
        "verify-blob-attestation",
        "--insecure-ignore-tlog",
        "--key",
        key,
        "--signature",
        envelope.to_str().unwrap(),
        "--type",
        "slsaprovenance1",
        "--check-claims=false",
        "/dev/null",
    ];
    let sig: Vec<&str> = vec![
        "verify-blob",
        "--insecure-ignore-tlog",
        "--key",
        key,
        "--signature",
        signature.to_str().unwrap(),
        payload.to_str().unwrap(),
    ];
    let v2 = |args: &[&str]| {
        let args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
        let (ok, text) = cosign_run(&args, env);
        Some(ok && text.contains("Verified OK"))
    };
    let v3 =
        |args: &[&str]| crate::common::sigstore::cosign3(args, env).map(|o| o.status.success());
    [v2(&att), v2(&sig), v3(&att), v3(&sig)]
}

#[test]
fn p384_and_rsa_keys_sign_with_the_algorithm_of_their_key_spec() {
    let Some(ls) = LocalStack::start() else {
        return;
    };
    let env = static_env(&ls);
    for spec in ["RSA_2048", "RSA_4096", "ECC_NIST_P384"] {
        let (pod, key) = sign_with(&ls, spec);
        // The image signature checked independently of cosign: PKCS#1 v1.5 over SHA-256 for
        // RSA keys, ECDSA over SHA-384 for P-384, as AWS (and sigstore's client) sign.
        let image = pod.path(&format!(
            "out/images/registry.example.com/team/app@sha256-{DIGEST_A}"
        ));
        let sig = base64_decode(&std::fs::read_to_string(image.join("signature")).unwrap());
        std::fs::write(pod.path("sig.bin"), sig).unwrap();
        let digest = if spec == "ECC_NIST_P384" {
            "-sha384"
        } else {
            "-sha256"
        };
        openssl(
            &pod.path(""),
            &[
                "dgst",
                digest,
                "-verify",
                key.to_str().unwrap(),
                "-signature",
                "sig.bin",
                image.join("payload.json").to_str().unwrap(),
            ],
        );
        let pem = cosign_verdicts(&pod, key.to_str().unwrap(), &[]);
        let alias = format!(
            "awskms:///alias/{}",
            spec.to_ascii_lowercase().replace('_', "-")
        );
        let through_kms = cosign_verdicts(&pod, &alias, &refs(&env));
        eprintln!("{spec}: cosign 2.5 att/sig, 3.1 att/sig: PEM {pem:?}, {alias} {through_kms:?}");
        let all = |v: &[Option<bool>], want: bool| v.iter().all(|v| *v != Some(!want));
        // Both cosigns verify every key's signatures when they ask KMS for the key (and so
        // for its algorithm) ...
        assert!(all(&through_kms, true), "{spec}: {through_kms:?}");
        if spec.starts_with("RSA") {
            assert!(all(&pem, true), "{spec}: {pem:?}");
        } else {
            // ... but with a PEM public key they hash with SHA-256, and a P-384 KMS key
            // signs SHA-384 digests only: README says to verify those with awskms://.
            assert!(all(&pem, false), "{spec}: {pem:?}");
        }
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .unwrap()
}

#[test]
fn images_unsigned_with_signer_none_store_the_attestation_alone() {
    let Some(ls) = LocalStack::start() else {
        return;
    };
    ls.key(ACCOUNT, "ECC_NIST_P256", "att-only");
    let pod = Pod::new();
    pod.typical_results();
    let env = static_env(&ls);
    ok(&attest(&pod, "awskms:///alias/att-only", &refs(&env))
        .set("artifacts.oci.signer=none")
        .storage_file()
        .run());
    assert_eq!(
        pod.written(),
        [
            format!("taskrun-{UID}/bundle.sigstore.json"),
            format!("taskrun-{UID}/envelope.json"),
            format!("taskrun-{UID}/statement.json"),
        ]
    );
}

/// Asserts a failed run: exit 1, one line naming `reference` and saying `says`, no secret,
/// nothing stored.
fn failed(out: &Output, pod: &Pod, reference: &str, says: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let line = err.trim().lines().last().unwrap_or_default();
    assert!(
        line.contains(reference) && line.contains(says),
        "wanted {reference} and {says}: {err}"
    );
    for secret in [SECRET, SESSION_TOKEN, "Signature="] {
        assert!(!err.contains(secret), "{secret} in: {err}");
    }
    assert_eq!(pod.written(), Vec::<String>::new());
}

#[test]
fn unknown_keys_unreachable_endpoints_and_missing_credentials_fail_in_one_line() {
    let Some(ls) = LocalStack::start() else {
        return;
    };
    let pod = Pod::new();
    pod.typical_results();
    let env = static_env(&ls);
    let reference = "awskms:///alias/no-such-key";
    let out = attest(&pod, reference, &refs(&env))
        .storage_file()
        .env("CHAINLET_LOG_LEVEL", "trace")
        .run();
    failed(&out, &pod, reference, "GetPublicKey: NotFoundException");

    // Nothing listens: retried until --registry-timeout, then one line.
    let closed = format!("http://127.0.0.1:{}", free_port());
    let mut env = static_env(&ls);
    env.retain(|(k, _)| *k != "AWS_ENDPOINT_URL_KMS");
    env.push(("AWS_ENDPOINT_URL", closed));
    let start = Instant::now();
    let out = attest(&pod, "awskms:///alias/release", &refs(&env))
        .storage_file()
        .flag("--registry-timeout", "3")
        .run();
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    failed(&out, &pod, "awskms:///alias/release", "KMS GetPublicKey");

    // A key id but no secret, no region, a reference that is no KMS key form.
    let out = attest(
        &pod,
        "awskms:///alias/release",
        &[("AWS_ACCESS_KEY_ID", ACCOUNT), ("AWS_REGION", "us-east-1")],
    )
    .storage_file()
    .run();
    failed(
        &out,
        &pod,
        "awskms:///alias/release",
        "AWS_SECRET_ACCESS_KEY is not",
    );
    let out = attest(&pod, "awskms:///alias/release", &[])
        .storage_file()
        .run();
    failed(&out, &pod, "awskms:///alias/release", "no region");
    let out = attest(&pod, "awskms:///my-key", &refs(&static_env(&ls)))
        .storage_file()
        .run();
    // A malformed reference is bad usage, refused before the run (exit 2).
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let line = err.trim().lines().last().unwrap_or_default();
    assert!(
        line.contains("awskms:///my-key") && line.contains("not a key id, ARN or alias"),
        "{err}"
    );
    assert!(
        pod.written().is_empty(),
        "nothing stored: {:?}",
        pod.written()
    );
}

#[test]
fn irsa_web_identity_credentials_come_from_sts() {
    let Some(ls) = LocalStack::start() else {
        return;
    };
    // STS gives the role's account credentials: the key exists only in that account, so
    // finding it proves they were used.
    let account = "111111111111";
    let (_, pem) = ls.key(account, "ECC_NIST_P256", "irsa");
    let pod = Pod::new();
    pod.typical_results();
    let token =
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6Y2k6YnVpbGQifQ.c2lnbmF0dXJl";
    pod.secret("token", token.as_bytes());
    let token_file = pod.s("secrets/token");
    let role = format!("arn:aws:iam::{account}:role/chainlet-signer");
    let run = |pod: &Pod, reference: &str| {
        attest(
            pod,
            reference,
            &[
                ("AWS_WEB_IDENTITY_TOKEN_FILE", &token_file),
                ("AWS_ROLE_ARN", &role),
                ("AWS_REGION", "us-east-1"),
                ("AWS_ENDPOINT_URL", &ls.endpoint),
                ("CHAINLET_LOG_LEVEL", "trace"),
            ],
        )
        .storage_file()
        .run()
    };
    let out = run(&pod, "awskms:///alias/irsa");
    ok(&out);
    assert!(!stderr(&out).contains(token), "{}", stderr(&out));
    let key = pod.path("kms.pub");
    std::fs::write(&key, pem).unwrap();
    let (verified, text) = cosign_verify_attestation(&key, &pod.envelope_path(), "slsaprovenance1");
    assert!(verified, "{text}");
    // The default account has no such key: the static keys would not have found it.
    let pod = Pod::new();
    pod.typical_results();
    let out = attest(&pod, "awskms:///alias/irsa", &refs(&static_env(&ls)))
        .storage_file()
        .run();
    failed(&out, &pod, "awskms:///alias/irsa", "NotFoundException");
}

#[test]
fn container_credentials_are_fetched_with_the_authorization_token_file() {
    let Some(ls) = LocalStack::start() else {
        return;
    };
    let account = "222222222222";
    let (_, pem) = ls.key(account, "ECC_NIST_P256", "pod-identity");
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let agent = crate::common::http::Server::start(move |req| {
        let auth = req
            .headers
            .get("authorization")
            .cloned()
            .unwrap_or_default();
        log.lock().unwrap().push((req.target.clone(), auth.clone()));
        if auth != "pod-identity-token" {
            return (
                401,
                "application/json".into(),
                br#"{"code":"AccessDenied","message":"bad token"}"#.to_vec(),
            );
        }
        let body = format!(
            r#"{{"AccessKeyId":"{account}","SecretAccessKey":"{SECRET}","Token":"{SESSION_TOKEN}","AccountId":"{account}","Expiration":"2099-01-01T00:00:00Z"}}"#
        );
        (200, "application/json".into(), body.into_bytes())
    });
    let pod = Pod::new();
    pod.typical_results();
    pod.secret("eks-token", b"pod-identity-token\n");
    let uri = format!("http://{}/v1/credentials", agent.addr);
    let token_file = pod.s("secrets/eks-token");
    let base = |pod: &Pod, token_file: &str| {
        attest(
            pod,
            "awskms:///alias/pod-identity",
            &[
                ("AWS_CONTAINER_CREDENTIALS_FULL_URI", &uri),
                ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", token_file),
                ("AWS_REGION", "us-east-1"),
                ("AWS_ENDPOINT_URL_KMS", &ls.endpoint),
                ("CHAINLET_LOG_LEVEL", "trace"),
            ],
        )
        .storage_file()
        .run()
    };
    let out = base(&pod, &token_file);
    ok(&out);
    let logs = stderr(&out);
    for secret in [SECRET, SESSION_TOKEN, "pod-identity-token"] {
        assert!(!logs.contains(secret), "{secret} in the logs:\n{logs}");
    }
    assert_eq!(
        seen.lock().unwrap()[0],
        (
            "/v1/credentials".to_owned(),
            "pod-identity-token".to_owned()
        )
    );
    let key = pod.path("kms.pub");
    std::fs::write(&key, pem).unwrap();
    let (verified, text) = cosign_verify_attestation(&key, &pod.envelope_path(), "slsaprovenance1");
    assert!(verified, "{text}");
    // A wrong token: the endpoint's refusal, in one line.
    let pod = Pod::new();
    pod.typical_results();
    pod.secret("eks-token", b"stale");
    let out = base(&pod, &pod.s("secrets/eks-token"));
    failed(
        &out,
        &pod,
        "awskms:///alias/pod-identity",
        "AccessDenied (HTTP 401): bad token",
    );
}

/// moto's server with authentication on after `free` unauthenticated actions (to create the
/// IAM user whose keys sign).
struct Moto {
    endpoint: String,
    child: Child,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn moto_venv() -> PathBuf {
    PathBuf::from(std::env::var("CHAINLET_PY").unwrap_or("/opt/chainlet-py".into()))
}

#[test]
fn kms_calls_carry_a_sigv4_signature_that_a_checking_server_accepts() {
    let bin = moto_venv().join("bin/moto_server");
    if !bin.is_file() {
        skipped(&format!("{} is missing: run .ci/run", bin.display()));
        return;
    }
    let port = free_port();
    let child = Command::new(bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .env("INITIAL_NO_AUTH_ACTION_COUNT", "5")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server starts");
    let moto = Moto {
        endpoint: format!("http://127.0.0.1:{port}"),
        child,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto_server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Five free actions: the user, its policy, its access key, the key, the alias.
    let python = moto_venv().join("bin/python");
    let code = format!(
        r#"
import json, boto3
kw = dict(endpoint_url='{}', region_name='us-east-1', aws_access_key_id='x', aws_secret_access_key='x')
iam = boto3.client('iam', **kw)
iam.create_user(UserName='signer')
iam.put_user_policy(UserName='signer', PolicyName='sign', PolicyDocument=json.dumps({{'Version': '2012-10-17', 'Statement': [{{'Effect': 'Allow', 'Action': ['kms:GetPublicKey', 'kms:Sign'], 'Resource': '*'}}]}}))
k = iam.create_access_key(UserName='signer')['AccessKey']
kms = boto3.client('kms', **kw)
key = kms.create_key(KeySpec='ECC_NIST_P256', KeyUsage='SIGN_VERIFY')['KeyMetadata']
kms.create_alias(AliasName='alias/moto', TargetKeyId=key['KeyId'])
print(json.dumps({{'id': k['AccessKeyId'], 'secret': k['SecretAccessKey']}}))
"#,
        moto.endpoint
    );
    let out = Command::new(python).arg("-c").arg(code).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let user: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (id, secret) = (
        user["id"].as_str().unwrap(),
        user["secret"].as_str().unwrap(),
    );
    let run = |pod: &Pod, secret: &str| {
        attest(
            pod,
            "awskms:///alias/moto",
            &[
                ("AWS_ACCESS_KEY_ID", id),
                ("AWS_SECRET_ACCESS_KEY", secret),
                ("AWS_REGION", "us-east-1"),
                ("AWS_ENDPOINT_URL_KMS", &moto.endpoint),
            ],
        )
        .set("artifacts.oci.signer=none")
        .storage_file()
        .run()
    };
    // GetPublicKey and Sign signed with the user's secret: accepted.
    let pod = Pod::new();
    pod.typical_results();
    ok(&run(&pod, secret));
    // The same key id with a wrong secret: refused before anything is stored.
    let pod = Pod::new();
    pod.typical_results();
    let wrong = "chainlet-test-secret-key";
    let out = run(&pod, wrong);
    failed(&out, &pod, "awskms:///alias/moto", "SignatureDoesNotMatch");
}

#[test]
fn an_endpoint_in_the_reference_is_reached_over_https_with_registry_ca() {
    let Some(ls) = LocalStack::start() else {
        return;
    };
    let (_, pem) = ls.key(ACCOUNT, "ECC_NIST_P256", "by-endpoint");
    // LocalStack serves HTTPS on the same port with a self-signed certificate for localhost:
    // read it off the connection, as a user would be given their proxy's CA.
    let port = ls.endpoint.rsplit(':').next().unwrap();
    let out = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-servername",
            "localhost",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let begin = text
        .find("-----BEGIN CERTIFICATE-----")
        .expect("a certificate");
    let end = text.find("-----END CERTIFICATE-----").unwrap() + "-----END CERTIFICATE-----".len();
    let pod = Pod::new();
    pod.typical_results();
    let ca = pod.path("localstack.crt");
    std::fs::write(&ca, format!("{}\n", &text[begin..end])).unwrap();
    // No endpoint variable: the reference's host is the endpoint, over HTTPS.
    let env: Vec<_> = static_env(&ls)
        .into_iter()
        .filter(|(k, _)| *k != "AWS_ENDPOINT_URL_KMS")
        .collect();
    let reference = format!("awskms://localhost:{port}/alias/by-endpoint");
    let out = attest(&pod, &reference, &refs(&env))
        .storage_file()
        .flag("--registry-ca", &ca)
        .run();
    ok(&out);
    let key = pod.path("kms.pub");
    std::fs::write(&key, pem).unwrap();
    let (verified, text) = cosign_verify_attestation(&key, &pod.envelope_path(), "slsaprovenance1");
    assert!(verified, "{text}");
    // Without the CA the certificate is refused, in one line naming the reference.
    let pod = Pod::new();
    pod.typical_results();
    let out = attest(&pod, &reference, &refs(&env))
        .storage_file()
        .flag("--registry-timeout", "5")
        .run();
    failed(&out, &pod, &reference, "KMS GetPublicKey");
}
