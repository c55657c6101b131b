//! Keyless signing (`signers.x509.fulcio.enabled: true`) against `@sigstore/mock`'s Fulcio (real
//! certificates with real embedded SCTs; it checks neither the token nor the proof of
//! possession, see REAL-SERVERS.md), with a test OIDC issuer whose ES256 tokens the test makes,
//! a real registry, and the real cosign 2.5 and 3.1 as verifiers with `--certificate-identity`
//! and `--certificate-oidc-issuer`.

use std::path::PathBuf;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::common::registry::{Registry, layers, push_image};
use crate::common::sigstore::{RekorV1Mock, cosign3, trusted_root_keyless, write_json};
use crate::common::*;

const REPO: &str = "team/keyless";
const ISSUER: &str = "https://oidc.chainlet.test/clusters/ci";
const IDENTITY: &str = "https://kubernetes.io/namespaces/ci/serviceaccounts/build-bot";
const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// An ES256 JWT from the test issuer with these claims (signed with a key made here: the mock
/// Fulcio does not check it, a real one would against the issuer's JWKS).
fn token(claims: Value) -> String {
    use p256::ecdsa::signature::Signer as _;
    let key = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
    let header = B64URL.encode(br#"{"alg":"ES256","typ":"JWT","kid":"test"}"#);
    let payload = B64URL.encode(claims.to_string());
    let signing_input = format!("{header}.{payload}");
    let sig: p256::ecdsa::Signature = key.sign(signing_input.as_bytes());
    format!("{signing_input}.{}", B64URL.encode(sig.to_bytes()))
}

/// A projected service-account token for the build-bot account, audience `sigstore`.
fn pod_token() -> String {
    token(json!({
        "iss": ISSUER,
        "sub": IDENTITY,
        "aud": ["sigstore"],
        "iat": now(),
        "exp": now() + 600,
        "kubernetes.io": { "namespace": "ci", "serviceaccount": { "name": "build-bot" } },
    }))
}

struct Setup {
    reg: Registry,
    mock: RekorV1Mock,
    pod: Pod,
    image: String,
    root: PathBuf,
    token: PathBuf,
}

/// A pod whose results name an image in a real registry, with no key in its signing-secrets,
/// a token file and the keyless trusted root (the mock's Fulcio CA, CT log and Rekor v1 log).
fn setup() -> Option<Setup> {
    let mock = RekorV1Mock::start()?;
    let reg = Registry::plain();
    let hex = push_image(&reg.addr, REPO);
    let pod = Pod::new();
    pod.result("IMAGE_URL", &format!("{}/{REPO}:v1\n", reg.addr))
        .result("IMAGE_DIGEST", &format!("sha256:{hex}\n"));
    std::fs::create_dir_all(pod.path("secrets")).unwrap();
    let token = pod.path("token");
    std::fs::write(&token, pod_token()).unwrap();
    let root = write_json(
        &pod.path(""),
        "trusted_root.json",
        &trusted_root_keyless(&mock, &[&mock], &[]),
    );
    Some(Setup {
        image: format!("{}/{REPO}@sha256:{hex}", reg.addr),
        reg,
        mock,
        pod,
        root,
        token,
    })
}

fn keyless(s: &Setup) -> Attest {
    Attest::new(&s.pod)
        .taskrun("build-run", UID)
        .flag("--insecure-registry", &s.reg.addr)
        .flag("--trusted-root", &s.root)
        .storage_oci()
        .times()
        .set("transparency.enabled=true")
        .set(&format!("transparency.url={}", s.mock.url()))
        .set("signers.x509.fulcio.enabled=true")
        .set(&format!("signers.x509.fulcio.address={}", s.mock.url()))
        .set(&format!(
            "signers.x509.identity.token.file={}",
            s.token.display()
        ))
}

fn pem_file(dir: &std::path::Path, name: &str, label: &str, der: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(
        &path,
        pem_rfc7468::encode_string(label, pem_rfc7468::LineEnding::LF, der).unwrap(),
    )
    .unwrap();
    path.to_str().unwrap().to_owned()
}

/// cosign 2.5 (the mock's Fulcio root, CT log key and Rekor key through cosign 2's environment
/// variables, as it reads custom roots) and 3.1 (the trusted root) `verify` and
/// `verify-attestation` with an identity and issuer: (what, ok, output) each.
fn cosign_keyless(s: &Setup, identity: &str, issuer: &str) -> Vec<(String, bool, String)> {
    let dir = s.pod.path("");
    let fulcio_root = pem_file(&dir, "fulcio.pem", "CERTIFICATE", &s.mock.fulcio_root_der());
    let ct_key = pem_file(&dir, "ctlog.pub", "PUBLIC KEY", &s.mock.ctlog_key_der());
    let rekor_key = pem_file(&dir, "rekor.pub", "PUBLIC KEY", &s.mock.public_key_der());
    let cosign2_env = [
        ("SIGSTORE_ROOT_FILE", fulcio_root.as_str()),
        ("SIGSTORE_CT_LOG_PUBLIC_KEY_FILE", ct_key.as_str()),
        ("SIGSTORE_REKOR_PUBLIC_KEY", rekor_key.as_str()),
    ];
    let root = s.root.to_str().unwrap();
    let url = s.mock.url();
    let mut out = Vec::new();
    for (what, extra) in [
        ("verify", &["verify"][..]),
        (
            "verify-attestation",
            &["verify-attestation", "--type", "slsaprovenance1"][..],
        ),
    ] {
        let mut args: Vec<&str> = extra.to_vec();
        args.extend([
            "--certificate-identity",
            identity,
            "--certificate-oidc-issuer",
            issuer,
            "--allow-http-registry",
        ]);
        let mut v2 = args.clone();
        v2.extend(["--rekor-url", &url, &s.image]);
        let os: Vec<&std::ffi::OsStr> = v2.iter().map(std::ffi::OsStr::new).collect();
        let (ok, text) = cosign_run(&os, &cosign2_env);
        out.push((format!("cosign 2 {what}"), ok, text));
        let mut v3 = args.clone();
        v3.extend(["--trusted-root", root, &s.image]);
        if let Some(o) = cosign3(&v3, &[]) {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            out.push((format!("cosign 3 {what}"), o.status.success(), text));
        }
    }
    out
}

fn pem_chain_der(pem: &str) -> Vec<Vec<u8>> {
    pem.split("-----END CERTIFICATE-----")
        .filter(|p| p.contains("-----BEGIN CERTIFICATE-----"))
        .map(|p| {
            let b64: String = p
                .lines()
                .filter(|l| !l.starts_with("-----") && !l.trim().is_empty())
                .collect();
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap()
        })
        .collect()
}

fn pem_blocks(pem: &str) -> usize {
    pem.matches("-----BEGIN CERTIFICATE-----").count()
}

#[test]
fn keyless_image_and_attestation_verify_with_cosign_for_the_token_identity_only() {
    let Some(s) = setup() else { return };
    let out = keyless(&s).flag("--log-level", "trace").run();
    ok(&out);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains(IDENTITY), "the log names the identity:\n{log}");
    let tok = std::fs::read_to_string(&s.token).unwrap();
    assert!(!log.contains(&tok), "the token is never logged");

    // Fulcio was asked once, with the token and a proof of possession over the subject.
    let asked: Vec<Value> = s
        .mock
        .requests()
        .into_iter()
        .filter(|r| r["path"] == "/api/v2/signingCert")
        .collect();
    assert_eq!(asked.len(), 1, "one certificate per run: {asked:?}");
    let req = &asked[0]["body"];
    assert_eq!(req["credentials"]["oidcIdentityToken"], tok.trim());
    assert_eq!(req["publicKeyRequest"]["publicKey"]["algorithm"], "ECDSA");
    assert!(req["publicKeyRequest"]["proofOfPossession"].is_string());

    // cosign's certificate annotations on the layers.
    for tag in [".sig", ".att"] {
        let digest = s.image.rsplit_once("sha256:").unwrap().1;
        let l = layers(&s.reg.addr, REPO, &format!("sha256-{digest}{tag}"));
        let ann = &l[0]["annotations"];
        let cert = ann["dev.sigstore.cosign/certificate"]
            .as_str()
            .unwrap_or("");
        assert_eq!(pem_blocks(cert), 1, "{tag} certificate: {ann}");
        let chain = ann["dev.sigstore.cosign/chain"].as_str().unwrap_or("");
        assert!(pem_blocks(chain) >= 1, "{tag} chain: {ann}");
    }

    for (what, ok, text) in cosign_keyless(&s, IDENTITY, ISSUER) {
        assert!(ok, "{what} with the token's identity:\n{text}");
    }
    for (what, ok, text) in cosign_keyless(
        &s,
        "https://kubernetes.io/namespaces/ci/serviceaccounts/someone-else",
        ISSUER,
    ) {
        assert!(!ok, "{what} with another identity must fail:\n{text}");
    }
    for (what, ok, text) in cosign_keyless(&s, IDENTITY, "https://other.issuer") {
        assert!(!ok, "{what} with another issuer must fail:\n{text}");
    }

    // chainlet verify, from the next task: the same identity, the log entry and the image
    // signature required; another identity or issuer is refused with its reason.
    let ok = chainlet_verify(&s, IDENTITY, ISSUER);
    assert!(ok.status.success(), "chainlet verify:\n{}", stderr(&ok));
    let report: Value = serde_json::from_slice(&ok.stdout).unwrap();
    let att = &report["images"][0]["attestations"][0];
    assert_eq!(att["signer"], IDENTITY, "{report}");
    assert_eq!(att["issuer"], ISSUER, "{report}");
    assert!(
        att["logIndex"].is_u64(),
        "the log entry was checked: {report}"
    );
    for (identity, issuer) in [
        (
            "https://kubernetes.io/namespaces/ci/serviceaccounts/someone-else",
            ISSUER,
        ),
        (IDENTITY, "https://other.issuer"),
    ] {
        let out = chainlet_verify(&s, identity, issuer);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{identity} {issuer}:\n{}",
            stderr(&out)
        );
        assert!(
            stderr(&out).contains("chainlet: verify: "),
            "{}",
            stderr(&out)
        );
    }
}

/// `chainlet verify` of the image with an identity, the trusted root, the log required.
fn chainlet_verify(s: &Setup, identity: &str, issuer: &str) -> std::process::Output {
    chainlet(&[
        "verify",
        "--certificate-identity",
        identity,
        "--certificate-oidc-issuer",
        issuer,
        "--trusted-root",
        s.root.to_str().unwrap(),
        "--require-tlog",
        "--require-signature",
        "--insecure-registry",
        &s.reg.addr,
        "--output",
        "json",
        &s.image,
    ])
}

/// A pod with the keyless setup but `token` in the token file; the attest output.
fn attest_with_token(s: &Setup, token: &str) -> std::process::Output {
    std::fs::write(&s.token, token).unwrap();
    keyless(s).flag("--log-level", "trace").run()
}

fn assert_refused(s: &Setup, out: &std::process::Output, token: &str, words: &[&str]) {
    assert_eq!(out.status.code(), Some(1), "{}", stderr(out));
    let err = stderr(out);
    let last = err
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    for w in words {
        assert!(
            last.contains(w),
            "{w:?} not in the last line {last:?}\n{err}"
        );
    }
    if !token.is_empty() {
        assert!(!err.contains(token), "the token leaked:\n{err}");
        let payload = token.split('.').nth(1).unwrap_or("");
        assert!(!err.contains(payload), "the token's claims leaked:\n{err}");
    }
    let digest = s.image.rsplit_once("sha256:").unwrap().1;
    let tags = tags(&s.reg.addr, REPO);
    assert!(
        !tags
            .iter()
            .any(|t| t.starts_with(&format!("sha256-{digest}"))),
        "nothing stored: {tags:?}"
    );
}

#[test]
fn bad_tokens_fail_in_one_line_without_the_token() {
    let Some(s) = setup() else { return };
    let expired =
        token(json!({"iss": ISSUER, "sub": IDENTITY, "aud": "sigstore", "exp": now() - 3600}));
    let out = attest_with_token(&s, &expired);
    assert_refused(&s, &out, &expired, &["identity token", "expired at"]);

    let wrong_aud =
        token(json!({"iss": ISSUER, "sub": IDENTITY, "aud": ["kubernetes"], "exp": now() + 600}));
    let out = attest_with_token(&s, &wrong_aud);
    assert_refused(
        &s,
        &out,
        &wrong_aud,
        &["identity token", "audience", "sigstore"],
    );

    let out = attest_with_token(&s, "not a jwt");
    assert_refused(&s, &out, "", &["identity token", "not a JWT"]);

    std::fs::remove_file(&s.token).unwrap();
    let out = keyless(&s).run();
    assert_refused(&s, &out, "", &["identity token", "cannot be read"]);
    // Fulcio was never asked.
    assert!(
        !s.mock
            .requests()
            .iter()
            .any(|r| r["path"] == "/api/v2/signingCert"),
        "no request with a bad token"
    );
}

#[test]
fn an_unreachable_fulcio_or_an_untrusted_ca_fails_and_stores_nothing() {
    let Some(s) = setup() else { return };
    std::fs::write(&s.token, pod_token()).unwrap();
    let port = crate::common::registry::free_port();
    let out = keyless(&s)
        .set(&format!(
            "signers.x509.fulcio.address=http://127.0.0.1:{port}"
        ))
        .flag("--registry-timeout", "5")
        .run();
    assert_refused(&s, &out, "", &["Fulcio http://127.0.0.1"]);

    // A trusted root whose CA is another one: the certificate does not chain.
    let mut other: Value = serde_json::from_slice(&std::fs::read(&s.root).unwrap()).unwrap();
    let tsa_like = pem_chain_der(&s.mock.tsa_cert_chain_pem());
    other["certificateAuthorities"][0]["certChain"]["certificates"] = json!([{
        "rawBytes": base64::engine::general_purpose::STANDARD.encode(tsa_like.last().unwrap())
    }]);
    write_json(&s.pod.path(""), "trusted_root.json", &other);
    let out = keyless(&s).run();
    assert_refused(&s, &out, "", &["Fulcio", "does not chain"]);
}

/// The tags of `repo` (empty when the repository does not exist yet).
fn tags(addr: &str, repo: &str) -> Vec<String> {
    let (status, _, body) = crate::common::sigstore::http(
        "GET",
        &format!("http://{addr}/v2/{repo}/tags/list"),
        None,
        std::time::Duration::from_secs(10),
    )
    .unwrap();
    if status != 200 {
        return Vec::new();
    }
    let v: Value = serde_json::from_slice(&body).unwrap();
    v["tags"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Keyless with the real Rekor v2 and timestamp authority: cosign 3's bundle referrers verify
/// with cosign 3.1 by identity, and the `bundle.sigstore.json` files with sigstore-go.
#[test]
fn keyless_bundles_with_rekor_v2_and_a_timestamp_verify_with_cosign3_and_sigstore_go() {
    use crate::common::sigstore::{RekorV2, Tsa, sigstore_go_verify};
    let Some(rekor) = RekorV2::start() else {
        return;
    };
    let Some(tsa) = Tsa::start() else { return };
    let Some(s) = setup() else { return };
    let root = write_json(
        &s.pod.path(""),
        "trusted_root_v2.json",
        &trusted_root_keyless(&s.mock, &[&rekor], &[&tsa]),
    );
    let out = keyless(&s)
        .flag("--trusted-root", &root)
        .set(&format!("transparency.url={}", rekor.url()))
        .flag("--rekor-version", "2")
        .flag("--timestamp-url", format!("{}/api/v1/timestamp", tsa.url()))
        .set("storage.oci.encoding-format=sigstore-bundle")
        .out()
        .storage("taskrun", "oci,file")
        .storage("oci", "oci,file")
        .run();
    ok(&out);

    let root_s = root.to_str().unwrap();
    for (what, args) in [
        ("verify", vec!["verify"]),
        (
            "verify-attestation",
            vec!["verify-attestation", "--type", "slsaprovenance1"],
        ),
    ] {
        for (identity, want) in [
            (IDENTITY, true),
            (
                "https://kubernetes.io/namespaces/ci/serviceaccounts/other",
                false,
            ),
        ] {
            let mut args = args.clone();
            args.extend([
                "--certificate-identity",
                identity,
                "--certificate-oidc-issuer",
                ISSUER,
                "--trusted-root",
                root_s,
                "--use-signed-timestamps",
                "--allow-http-registry",
                &s.image,
            ]);
            let Some(o) = cosign3(&args, &[]) else { return };
            assert_eq!(
                o.status.success(),
                want,
                "cosign 3 {what} as {identity}:\n{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }

    // chainlet verify reads the same referrers: the Rekor v2 entry and the timestamp are
    // required, and the certificate is checked at the timestamp's time.
    let verify = |identity: &str| {
        chainlet(&[
            "verify",
            "--certificate-identity",
            identity,
            "--certificate-oidc-issuer",
            ISSUER,
            "--trusted-root",
            root_s,
            "--require-tlog",
            "--require-timestamp",
            "--require-signature",
            "--insecure-registry",
            &s.reg.addr,
            &s.image,
        ])
    };
    let good = verify(IDENTITY);
    assert!(good.status.success(), "chainlet verify:\n{}", stderr(&good));
    let bad = verify("https://kubernetes.io/namespaces/ci/serviceaccounts/other");
    assert_eq!(bad.status.code(), Some(1), "{}", stderr(&bad));

    // The bundle files: certificate, Rekor v2 entry and timestamp; sigstore-go verifies them by
    // the certificate's identity, and refuses another.
    let bundle_path = s
        .pod
        .path(&format!("out/taskrun-{UID}/bundle.sigstore.json"));
    let bundle: Value = serde_json::from_slice(&std::fs::read(&bundle_path).unwrap()).unwrap();
    let material = &bundle["verificationMaterial"];
    assert!(
        material["certificate"]["rawBytes"].is_string(),
        "{bundle:#}"
    );
    assert_eq!(
        material["tlogEntries"][0]["kindVersion"]["version"],
        "0.0.2"
    );
    let statement = s.pod.statement();
    let subject = statement["subject"][0]["digest"]["sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    for (san, want) in [(IDENTITY, true), ("https://example.com/other", false)] {
        let Some(o) = sigstore_go_verify(&[
            "-trustedrootJSONpath",
            root_s,
            "-expectedSAN",
            san,
            "-expectedIssuer",
            ISSUER,
            "-requireTimestamp",
            "-artifact-digest",
            &subject,
            bundle_path.to_str().unwrap(),
        ]) else {
            return;
        };
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(
            o.status.success() && text.contains("Verification successful"),
            want,
            "sigstore-go-verification as {san}:\n{text}"
        );
    }
}

/// Storage tekton: the certificate and chain annotations hold Fulcio's certificate (base64 of
/// the PEM, as Chains writes them), whose SAN is the token's identity.
#[test]
fn storage_tekton_annotations_hold_the_fulcio_certificate() {
    use crate::common::kubeapi::KubeApi;
    let Some(s) = setup() else { return };
    let Some(api) = KubeApi::start() else { return };
    std::fs::create_dir_all(s.pod.path("steps")).unwrap();
    let uid = api.create_taskrun(json!({
        "apiVersion": "tekton.dev/v1", "kind": "TaskRun",
        "metadata": {"name": "build-run"},
        "spec": {"taskRef": {"name": "build"}},
        "status": {
            "startTime": "2026-03-01T10:00:00Z", "completionTime": "2026-03-01T10:01:00Z",
            "steps": [{"name": "build", "container": "step-build",
                       "imageID": "docker-pullable://gcr.io/tools/builder@sha256:d4b63d3e24d6eef04a6dc0795cf8a73470688803d97c52cffa3c8d4efd3397b6"}]
        }
    }));
    let out = Attest::new(&s.pod)
        .taskrun("build-run", &uid)
        .api(&api)
        .flag("--trusted-root", &s.root)
        .storage("taskrun", "tekton")
        .storage("oci", "")
        .set("signers.x509.fulcio.enabled=true")
        .set(&format!("signers.x509.fulcio.address={}", s.mock.url()))
        .set(&format!(
            "signers.x509.identity.token.file={}",
            s.token.display()
        ))
        .run();
    ok(&out);
    let tr = api.taskrun("build-run");
    let a = &tr["metadata"]["annotations"];
    let b64 = base64::engine::general_purpose::STANDARD;
    let cert = String::from_utf8(
        b64.decode(
            a[format!("chains.tekton.dev/cert-taskrun-{uid}")]
                .as_str()
                .unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    let chain = String::from_utf8(
        b64.decode(
            a[format!("chains.tekton.dev/chain-taskrun-{uid}")]
                .as_str()
                .unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(pem_blocks(&cert), 1, "{cert}");
    assert!(pem_blocks(&chain) >= 1, "{chain}");
    let der = &pem_chain_der(&cert)[0];
    assert!(
        der.windows(IDENTITY.len())
            .any(|w| w == IDENTITY.as_bytes()),
        "the certificate names {IDENTITY}"
    );
    // The chain ends at the Fulcio root of the trusted root.
    assert_eq!(
        pem_chain_der(&chain).last().unwrap(),
        &s.mock.fulcio_root_der()
    );
    // The envelope verifies with the certificate's key (cosign verify-blob-attestation).
    let envelope = b64
        .decode(
            a[format!("chains.tekton.dev/signature-taskrun-{uid}")]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    let dir = s.pod.path("");
    std::fs::write(dir.join("envelope.json"), &envelope).unwrap();
    std::fs::write(dir.join("cert.pem"), &cert).unwrap();
    std::fs::write(dir.join("chain.pem"), &chain).unwrap();
    let args: Vec<std::ffi::OsString> = [
        "verify-blob-attestation",
        "--insecure-ignore-tlog",
        "--insecure-ignore-sct",
        "--certificate",
        dir.join("cert.pem").to_str().unwrap(),
        "--certificate-chain",
        dir.join("chain.pem").to_str().unwrap(),
        "--certificate-identity",
        IDENTITY,
        "--certificate-oidc-issuer",
        ISSUER,
        "--signature",
        dir.join("envelope.json").to_str().unwrap(),
        "--type",
        "slsaprovenance1",
        "--check-claims=false",
        "/dev/null",
    ]
    .iter()
    .map(std::ffi::OsString::from)
    .collect();
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    let (verified, text) = cosign_run(&args, &[]);
    assert!(
        verified,
        "cosign verify-blob-attestation from the annotations:\n{text}"
    );
}
