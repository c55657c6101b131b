//! Test certificates, made with openssl (P-256 keys, a CA, and certificates it signs, valid
//! for two days), and the TLS configuration the test servers serve them with.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A CA and a server certificate for 127.0.0.1 signed by it: (ca.crt, server.crt, server.key)
/// in `dir`.
pub fn make_tls(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let (ca, _) = self_signed(dir, "ca", "/CN=chainlet test CA");
    let (cert, key) = signed_by_ca(
        dir,
        "server",
        "/CN=127.0.0.1",
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    );
    (ca, cert, key)
}

/// A TLS server configuration serving the PEM certificate chain `cert` with the key `key`.
pub fn server_config(cert: &Path, key: &Path) -> Arc<rustls::ServerConfig> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
    )
}

/// A new key `<name>.key` in `dir` and a self-signed `<name>.crt` for `subject`.
pub fn self_signed(dir: &Path, name: &str, subject: &str) -> (PathBuf, PathBuf) {
    new_key(dir, name, &["-x509", "-days", "2"], "crt", subject);
    (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    )
}

/// A new key `<name>.key` in `dir` and `<name>.crt` for `subject`, signed by the `ca.crt` and
/// `ca.key` there, with the X.509 `extensions` (openssl's extfile lines).
pub fn signed_by_ca(dir: &Path, name: &str, subject: &str, extensions: &str) -> (PathBuf, PathBuf) {
    new_key(dir, name, &[], "csr", subject);
    let (csr, cnf, crt) = (
        format!("{name}.csr"),
        format!("{name}.cnf"),
        format!("{name}.crt"),
    );
    std::fs::write(dir.join(&cnf), extensions).unwrap();
    super::openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &crt,
            "-days",
            "2",
            "-extfile",
            &cnf,
        ],
    );
    (dir.join(crt), dir.join(format!("{name}.key")))
}

/// `openssl req` with a new P-256 key `<name>.key`, writing `<name>.<ending>`.
fn new_key(dir: &Path, name: &str, extra: &[&str], ending: &str, subject: &str) {
    let (key, out) = (format!("{name}.key"), format!("{name}.{ending}"));
    let mut args = vec![
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        &key,
        "-out",
        &out,
        "-subj",
        subject,
    ];
    args.extend(extra);
    super::openssl(dir, &args);
}
