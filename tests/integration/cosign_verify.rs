//! What a user checks first: everything chainlet signs verifies with the real cosign, for every
//! kind of key the signing-secrets Secret can hold and every format.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

/// The formats and the `--type` cosign needs for each.
const FORMATS: &[(&str, &str)] = &[
    ("slsa/v1", "slsaprovenance"),
    ("in-toto", "slsaprovenance"),
    ("slsa/v2alpha3", "slsaprovenance1"),
    ("slsa/v2alpha4", "slsaprovenance1"),
];

/// Attests with every format and checks the attestation and every image signature with cosign.
fn assert_everything_verifies(pod: &Pod, pubkey: &Path) {
    for (format, typ) in FORMATS {
        let _ = std::fs::remove_dir_all(pod.path("out"));
        ok(&pod.attest(&["--set", &format!("artifacts.taskrun.format={format}")]));
        let (verified, text) = cosign_verify_attestation(pubkey, &pod.envelope_path(), typ);
        assert!(
            verified,
            "{format}: cosign did not verify the attestation:\n{text}"
        );
    }
    let images = pod.path("out/images");
    let mut dirs = Vec::new();
    collect_signature_dirs(&images, &mut dirs);
    assert_eq!(dirs.len(), 3, "one signature per image: {dirs:?}");
    for dir in dirs {
        let (verified, text) =
            cosign_verify_blob(pubkey, &dir.join("signature"), &dir.join("payload.json"));
        assert!(
            verified,
            "{}: cosign did not verify:\n{text}",
            dir.display()
        );
    }
}

fn collect_signature_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.join("signature").is_file() {
            out.push(p);
        } else if p.is_dir() {
            collect_signature_dirs(&p, out);
        }
    }
}

fn openssl(args: &[&str]) {
    crate::common::openssl(Path::new("/"), args);
}

/// A pod with typical results and Chains' own test x509.pem; returns it with the public key.
fn pod_with_chains_x509(fx: &Path) -> (Pod, PathBuf) {
    let pod = Pod::new();
    pod.typical_results();
    pod.secret_from(
        "x509.pem",
        &fx.join("chains/pkg/chains/signing/x509/testdata/x509.pem"),
    );
    let public = public_key_of(&pod.path("secrets/x509.pem"));
    (pod, public)
}

/// Writes the public key of a PEM private key next to it, with openssl (an independent tool).
fn public_key_of(private: &Path) -> PathBuf {
    let out = private.with_extension("pub.pem");
    openssl(&[
        "pkey",
        "-in",
        private.to_str().unwrap(),
        "-pubout",
        "-out",
        out.to_str().unwrap(),
    ]);
    out
}

#[test]
fn key_from_cosign_generate_key_pair_verifies() {
    let pod = Pod::new();
    pod.typical_results();
    let st = Command::new(cosign())
        .current_dir(pod.path("secrets"))
        .env("COSIGN_PASSWORD", "correct horse")
        .args(["generate-key-pair"])
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    pod.secret("cosign.password", b"correct horse");
    assert_everything_verifies(&pod, &pod.path("secrets/cosign.pub"));
}

#[test]
fn key_from_chainlet_generate_key_pair_verifies() {
    let pod = Pod::new();
    pod.typical_results().chainlet_key("s3cret");
    assert_everything_verifies(&pod, &pod.path("secrets/cosign.pub"));
}

#[test]
fn legacy_cosign_label_key_verifies() {
    let Some(fx) = fixtures() else { return };
    let pod = Pod::new();
    pod.typical_results();
    // Chains' own e2e key: ENCRYPTED COSIGN PRIVATE KEY, scrypt N=32768, password "p".
    let dir = fx.join("chains/test/testdata");
    pod.chains_key(&fx);
    assert!(
        std::fs::read_to_string(dir.join("cosign.key"))
            .unwrap()
            .contains("ENCRYPTED COSIGN PRIVATE KEY")
    );
    assert_everything_verifies(&pod, &dir.join("cosign.pub"));
}

#[test]
fn x509_ecdsa_p256_from_chains_verifies() {
    let Some(fx) = fixtures() else { return };
    let (pod, public) = pod_with_chains_x509(&fx);
    assert_everything_verifies(&pod, &public);
}

#[test]
fn x509_wins_over_cosign_key_as_in_chains() {
    let Some(fx) = fixtures() else { return };
    let pod = Pod::new();
    pod.typical_results();
    pod.secret_from(
        "x509.pem",
        &fx.join("chains/pkg/chains/signing/x509/testdata/x509.pem"),
    );
    let dir = fx.join("chains/test/testdata");
    pod.chains_key(&fx);
    let x509_pub = public_key_of(&pod.path("secrets/x509.pem"));
    ok(&pod.attest(&[]));
    assert!(cosign_verify_attestation(&x509_pub, &pod.envelope_path(), "slsaprovenance1").0);
    assert!(
        !cosign_verify_attestation(
            &dir.join("cosign.pub"),
            &pod.envelope_path(),
            "slsaprovenance1"
        )
        .0
    );
}

#[test]
fn x509_ecdsa_p384_verifies() {
    let pod = Pod::new();
    pod.typical_results();
    let key = pod.path("secrets/x509.pem");
    openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-384",
        "-out",
        key.to_str().unwrap(),
    ]);
    let public = public_key_of(&key);
    assert_everything_verifies(&pod, &public);
}

#[test]
fn x509_ed25519_verifies() {
    let Some(fx) = fixtures() else { return };
    let pod = Pod::new();
    pod.typical_results();
    pod.secret_from("x509.pem", &fx.join("keys/sigstore-ed25519-pkcs8.key"));
    assert_everything_verifies(&pod, &fx.join("keys/sigstore-ed25519.pub"));
}

#[test]
fn x509_ed25519_pkcs8_v2_with_embedded_public_key_verifies() {
    let Some(fx) = fixtures() else { return };
    let pod = Pod::new();
    pod.typical_results();
    pod.secret_from("x509.pem", &fx.join("keys/ed25519_private.key"));
    // The public key MANIFEST.md lists for this key.
    let public = write_spki(
        &pod,
        "MCowBQYDK2VwAyEAXtg9yVbH8JADtC6sn4NBh1CSDWeCv0ABIj4TtoJj9ak=",
    );
    assert_everything_verifies(&pod, &public);
}

/// Writes a PEM public key from the base64 DER listed in the fixtures' MANIFEST notes.
fn write_spki(pod: &Pod, der_b64: &str) -> PathBuf {
    let path = pod.path("expected.pub");
    std::fs::write(
        &path,
        format!("-----BEGIN PUBLIC KEY-----\n{der_b64}\n-----END PUBLIC KEY-----\n"),
    )
    .unwrap();
    path
}

#[test]
fn tampered_envelope_does_not_verify() {
    let Some(fx) = fixtures() else { return };
    let (pod, public) = pod_with_chains_x509(&fx);
    ok(&pod.attest(&[]));
    let text = std::fs::read_to_string(pod.envelope_path()).unwrap();
    let mut env: serde_json::Value = serde_json::from_str(&text).unwrap();
    let payload = env["payload"].as_str().unwrap().to_owned();
    // Flip one base64 character of the payload.
    let flipped: String = payload
        .char_indices()
        .map(|(i, c)| {
            if i == 40 {
                if c == 'A' { 'B' } else { 'A' }
            } else {
                c
            }
        })
        .collect();
    env["payload"] = flipped.into();
    std::fs::write(pod.envelope_path(), env.to_string()).unwrap();
    assert!(!cosign_verify_attestation(&public, &pod.envelope_path(), "slsaprovenance1").0);
}

#[test]
fn chainlet_key_signs_and_verifies_with_cosign_sign_blob() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("k");
    ok(&chainlet_env(
        &[
            "generate-key-pair",
            "--output-key-prefix",
            prefix.to_str().unwrap(),
        ],
        &[("COSIGN_PASSWORD", "pw")],
    ));
    let key = std::fs::read_to_string(dir.path().join("k.key")).unwrap();
    assert!(key.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
    let blob = dir.path().join("blob.txt");
    std::fs::write(&blob, "some artifact\n").unwrap();
    let sig = dir.path().join("blob.sig");
    let out = Command::new(cosign())
        .env("COSIGN_PASSWORD", "pw")
        .args(["sign-blob", "--yes", "--tlog-upload=false", "--key"])
        .arg(dir.path().join("k.key"))
        .arg("--output-signature")
        .arg(&sig)
        .arg(&blob)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (verified, text) = cosign_verify_blob(&dir.path().join("k.pub"), &sig, &blob);
    assert!(verified, "{text}");
}

#[test]
fn keyid_is_the_ssh_fingerprint_of_the_key() {
    let Some(fx) = fixtures() else { return };
    let pod = Pod::new();
    pod.typical_results();
    let dir = fx.join("chains/test/testdata");
    pod.chains_key(&fx);
    ok(&pod.attest(&[]));
    let env: serde_json::Value =
        serde_json::from_slice(&std::fs::read(pod.envelope_path()).unwrap()).unwrap();
    let keyid = env["signatures"][0]["keyid"].as_str().unwrap().to_owned();
    // ssh-keygen converts the PKIX key and prints its SHA256 fingerprint, as Chains computes it.
    let ssh = Command::new("ssh-keygen")
        .args(["-i", "-m", "PKCS8", "-f"])
        .arg(dir.join("cosign.pub"))
        .output()
        .expect("ssh-keygen runs");
    assert!(ssh.status.success());
    let sshpub = pod.path("key.ssh.pub");
    std::fs::write(&sshpub, &ssh.stdout).unwrap();
    let fp = Command::new("ssh-keygen")
        .args(["-l", "-E", "sha256", "-f"])
        .arg(&sshpub)
        .output()
        .unwrap();
    let fp = String::from_utf8(fp.stdout).unwrap();
    assert!(
        fp.contains(&keyid),
        "keyid {keyid} not in ssh-keygen's {fp}"
    );
    assert_eq!(env["payloadType"], "application/vnd.in-toto+json");
}
