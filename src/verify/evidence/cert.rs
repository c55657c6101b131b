//! The keyless signer: a Fulcio leaf certificate, its chain to the trusted root's certificate
//! authorities at a given time, its embedded SCT, and the identity it names.

use der::{Decode as _, Encode as _};
use x509_cert::Certificate;

use super::{Identity, Matcher};
use crate::pki::{self, CertKey};
use crate::signing::fulcio;
use crate::transparency::trust::TrustedRoot;

/// A signing certificate as it was stored.
pub(super) struct Leaf {
    pub der: Vec<u8>,
    pub cert: Certificate,
    /// Its DER SubjectPublicKeyInfo.
    pub spki: Vec<u8>,
}

impl Leaf {
    pub fn parse(der: &[u8]) -> Result<Self, String> {
        let cert = Certificate::from_der(der)
            .map_err(|e| format!("the signing certificate is not X.509 DER: {e}"))?;
        let spki = cert
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .map_err(|e| format!("the signing certificate's public key: {e}"))?;
        Ok(Self {
            der: der.to_vec(),
            cert,
            spki,
        })
    }

    pub fn key(&self) -> Result<CertKey, String> {
        CertKey::of(&self.cert, "the signing certificate's").map_err(|e| e.to_string())
    }

    /// Seconds since the epoch the leaf is valid from and to.
    pub fn validity(&self) -> (i64, i64) {
        let v = self.cert.tbs_certificate().validity();
        let secs = |t: x509_cert::time::Time| t.to_unix_duration().as_secs() as i64;
        (secs(v.not_before), secs(v.not_after))
    }

    /// Checks the leaf under each certificate authority of `root` (its intermediates and root,
    /// as the trusted root lists them) at `at`: codeSigning usage, every certificate valid at
    /// `at`, each signed by the next. Gives the issuing CA's DER. Chains stored beside the
    /// signature are not trusted, as in sigstore-go.
    pub fn chain_to(&self, root: &TrustedRoot, at: i64) -> Result<Vec<u8>, String> {
        if root.certificate_authorities.is_empty() {
            return Err(format!(
                "{} has no certificate authorities to check the signing certificate against",
                root.file
            ));
        }
        let mut failures = Vec::new();
        for ca in &root.certificate_authorities {
            let parsed: Result<Vec<Certificate>, _> =
                ca.chain.iter().map(|d| Certificate::from_der(d)).collect();
            let name = if ca.uri.is_empty() { "a CA" } else { &ca.uri };
            if !ca.valid.covers(super::epoch(at)) {
                failures.push(format!("{name}: not a trusted CA at that time (validFor)"));
                continue;
            }
            let Ok(parsed) = parsed else {
                failures.push(format!("{name}: a certificate does not parse"));
                continue;
            };
            let mut full: Vec<(Certificate, &[u8])> = vec![(self.cert.clone(), &self.der)];
            full.extend(parsed.into_iter().zip(ca.chain.iter().map(|d| &d[..])));
            match pki::check_chain(&full, at, fulcio::CODE_SIGNING, "codeSigning") {
                Ok(()) => return Ok(ca.chain[0].clone()),
                Err(e) => failures.push(format!("{name}: {e}")),
            }
        }
        Err(format!(
            "the signing certificate does not chain to a certificate authority of {} at {} ({})",
            root.file,
            super::when(at),
            failures.join("; ")
        ))
    }

    /// The embedded SCT verifies with a CT log of `root` (issued by `issuer_der`).
    pub fn check_sct(&self, issuer_der: &[u8], root: &TrustedRoot) -> Result<(), String> {
        fulcio::verify_sct(&self.der, &self.cert, issuer_der, root)
            .map_err(|e| format!("the signing certificate: {e}"))
    }

    /// The email and URI subject alternative names, and Fulcio's OIDC issuer extension
    /// (1.3.6.1.4.1.57264.1.8, else the legacy 1.3.6.1.4.1.57264.1.1).
    pub fn identity(&self) -> Result<(Vec<String>, Option<String>), String> {
        let mut names = Vec::new();
        let mut issuer_v2 = None;
        let mut issuer_v1 = None;
        for ext in self
            .cert
            .tbs_certificate()
            .extensions()
            .into_iter()
            .flatten()
        {
            match ext.extn_id {
                fulcio::SAN => {
                    use x509_cert::ext::pkix::name::GeneralName;
                    let san =
                        x509_cert::ext::pkix::SubjectAltName::from_der(ext.extn_value.as_bytes())
                            .map_err(|e| {
                            format!("the signing certificate's subject alternative name: {e}")
                        })?;
                    for name in san.0 {
                        match name {
                            GeneralName::Rfc822Name(s) => names.push(s.to_string()),
                            GeneralName::UniformResourceIdentifier(s) => names.push(s.to_string()),
                            _ => {}
                        }
                    }
                }
                fulcio::ISSUER_V2 => {
                    let s = der::asn1::Utf8StringRef::from_der(ext.extn_value.as_bytes())
                        .map_err(|e| format!("the signing certificate's OIDC issuer: {e}"))?;
                    issuer_v2 = Some(s.as_str().to_owned());
                }
                fulcio::ISSUER_V1 => {
                    let raw = ext.extn_value.as_bytes();
                    issuer_v1 = Some(
                        std::str::from_utf8(raw)
                            .map_err(|_| "the signing certificate's OIDC issuer is not UTF-8")?
                            .to_owned(),
                    );
                }
                _ => {}
            }
        }
        Ok((names, issuer_v2.or(issuer_v1)))
    }
}

/// Whether `value` matches: equal, or (a regular expression) matched anywhere in it, as Go's
/// `regexp.MatchString` does for cosign's `--certificate-identity-regexp`.
pub(super) fn matches(m: &Matcher, value: &str) -> Result<bool, String> {
    match m {
        Matcher::Exact(want) => Ok(want == value),
        Matcher::Regexp(pattern) => regex_lite::Regex::new(pattern)
            .map(|re| re.is_match(value))
            .map_err(|e| {
                format!(
                    "regular expression {pattern:?}: {}",
                    e.to_string()
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ")
                )
            }),
    }
}

/// Checks the leaf's names against `want`: one email/URI SAN matches the subject, the issuer
/// extension matches the issuer. Gives (the matched name, the issuer).
pub(super) fn check_identity(leaf: &Leaf, want: &Identity) -> Result<(String, String), String> {
    let (names, issuer) = leaf.identity()?;
    if names.is_empty() {
        return Err("the signing certificate has no email or URI subject alternative name".into());
    }
    let mut subject = None;
    for n in &names {
        if matches(&want.subject, n)? {
            subject = Some(n.clone());
            break;
        }
    }
    let Some(subject) = subject else {
        return Err(format!(
            "the certificate's identity {} does not match {}",
            quoted_list(&names),
            describe(&want.subject)
        ));
    };
    let issuer = issuer.ok_or("the signing certificate has no OIDC issuer extension")?;
    if !matches(&want.issuer, &issuer)? {
        return Err(format!(
            "the certificate's OIDC issuer {issuer:?} does not match {}",
            describe(&want.issuer)
        ));
    }
    Ok((subject, issuer))
}

fn quoted_list(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe(m: &Matcher) -> String {
    match m {
        Matcher::Exact(s) => format!("{s:?}"),
        Matcher::Regexp(s) => format!("the regular expression {s:?}"),
    }
}
