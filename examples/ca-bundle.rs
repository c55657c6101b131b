//! Prints the CA bundle chainlet's image ships at /etc/ssl/certs/ca-certificates.crt: Mozilla's
//! root program as the `webpki-root-certs` crate carries it (the version pinned in Cargo.lock),
//! as PEM. Taking it from a crate, not from the build machine's ca-certificates package, makes
//! the image's bytes depend on the source alone.
//!
//!     cargo run --example ca-bundle > ca-certificates.crt

use std::io::Write as _;

use base64::Engine as _;

fn main() -> std::io::Result<()> {
    let mut out = String::new();
    for cert in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        let b64 = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        for line in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
    }
    std::io::stdout().lock().write_all(out.as_bytes())
}
