//! Which certificate authorities a transport trusts: the system's (as the distribution ships
//! them, or `SSL_CERT_FILE` / `SSL_CERT_DIR`), extra PEM bundles (`--registry-ca`), or only a
//! given CA (the pod's service-account `ca.crt` for the API server).

use std::path::PathBuf;
use std::sync::Arc;

use ureq::tls::{Certificate, PemItem};

/// Certificates from one PEM bundle, parsed.
#[derive(Debug, Clone)]
pub struct CaCerts(Vec<Certificate<'static>>);

impl CaCerts {
    /// The certificates in a PEM bundle; `name` (a path, a flag) names it in the error when
    /// there is none.
    pub fn from_pem(name: &str, pem: &[u8]) -> Result<Self, String> {
        let certs: Vec<Certificate<'static>> = ureq::tls::parse_pem(pem)
            .filter_map(|item| match item {
                Ok(PemItem::Certificate(c)) => Some(c),
                _ => None,
            })
            .collect();
        if certs.is_empty() {
            return Err(format!("{name}: no PEM certificate in it"));
        }
        Ok(Self(certs))
    }
}

/// An extra CA: already read, or a file read when the first HTTPS request needs it (so that
/// a run that only talks plain HTTP never fails on it).
#[derive(Debug, Clone)]
pub enum ExtraCa {
    Certs(CaCerts),
    /// A PEM file and the flag it came from, for errors: `--registry-ca /x: …`.
    File {
        flag: String,
        path: PathBuf,
    },
}

/// What a transport's HTTPS connections are verified against.
#[derive(Debug, Clone)]
pub struct Trust {
    /// The system's roots.
    pub system: bool,
    pub extra: Vec<ExtraCa>,
    /// The flag that adds CAs (`--registry-ca`), named when there is no CA at all.
    pub extra_flag: Option<&'static str>,
}

impl Trust {
    /// The system's roots and these extra CAs, which `flag` adds.
    pub fn system_and(extra: Vec<ExtraCa>, flag: &'static str) -> Self {
        Self {
            system: true,
            extra,
            extra_flag: Some(flag),
        }
    }

    /// Only this CA: a private service whose CA the pod was given.
    pub fn only(ca: CaCerts) -> Self {
        Self {
            system: false,
            extra: vec![ExtraCa::Certs(ca)],
            extra_flag: None,
        }
    }

    /// Every root certificate; an error when a file does not read or when there is none.
    pub fn load(&self) -> Result<Arc<Vec<Certificate<'static>>>, String> {
        let mut out = Vec::new();
        if self.system {
            for cert in rustls_native_certs::load_native_certs().certs {
                out.push(Certificate::from_der(cert.as_ref()).to_owned());
            }
        }
        for ca in &self.extra {
            match ca {
                ExtraCa::Certs(c) => out.extend(c.0.iter().cloned()),
                ExtraCa::File { flag, path } => {
                    let name = format!("{flag} {}", path.display());
                    let pem = crate::fsread::read_limited(path, 4 * 1024 * 1024)
                        .map_err(|e| format!("{name}: {e}"))?;
                    out.extend(CaCerts::from_pem(&name, &pem)?.0);
                }
            }
        }
        if out.is_empty() {
            return Err(match self.extra_flag {
                Some(flag) => {
                    format!("no CA certificates found (system store empty and no {flag})")
                }
                None => "no CA certificates found (the system store is empty)".into(),
            });
        }
        Ok(Arc::new(out))
    }
}
