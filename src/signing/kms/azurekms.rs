//! `azurekms://VAULT.vault.azure.net/KEY[/VERSION]`: a key in Azure Key Vault, through its REST
//! API (`api-version=7.4`).
//!
//! The reference takes the forms sigstore's Azure client takes: the vault's host and the key's
//! name, and optionally a version (without one, Key Vault's current version). The key is read
//! once (`GET /keys/KEY[/VERSION]`), its JSON Web Key turned into the DER public key, and the
//! version it names (`kid`) is the one every signature uses, so that the public key and the
//! signatures cannot come from two versions when the key rotates during a run. The key's type
//! picks the algorithm as sigstore does: P-256 `ES256` (SHA-256), P-384 `ES384` (SHA-384), RSA
//! 2048 `RS256`, RSA 3072 `RS384`. Each signature is one `POST …/sign` of the digest; an ECDSA
//! answer is the raw `r || s`, which becomes the ASN.1 DER signature cosign reads.
//!
//! The vault is always reached over HTTPS at the reference's host (trusted against the system's
//! roots and `--registry-ca`), with a token from [`crate::cloud::azure`] for the vault's scope:
//! `https://vault.azure.net/.default` for `*.vault.azure.net`, the sovereign clouds' own for
//! theirs (`*.vault.azure.cn`, `*.vault.usgovcloudapi.net`, `*.managedhsm.*`), and
//! `AZURE_ENVIRONMENT`'s Key Vault for any other host.

use std::sync::Arc;

use base64::Engine as _;
use zeroize::Zeroizing;

use super::{KmsContext, Provider};
use crate::cloud::azure::{self, AzureAuth};
use crate::net::{self, Credential, HostPort, Origin, Policy, Request, Scheme, Transport};
use crate::signing::remote::{DigestSign, Hash, KeyKind, PublicKey, RemoteSigner};
use crate::signing::{Signer, SigningError};

pub const PROVIDER: Provider = Provider {
    scheme: "azurekms",
    shape: "azurekms://VAULT.vault.azure.net/KEY[/VERSION]",
    check: |key| parse_key(key).map(|_| ()),
    open,
};

const API_VERSION: &str = "7.4";
/// Answers are a few kilobytes (a JWK, a signature).
const MAX_ANSWER: u64 = 256 * 1024;

/// A key reference, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRef {
    /// `host[:port]` of the vault.
    pub vault: String,
    pub name: String,
    /// `None`: the key's current version.
    pub version: Option<String>,
}

/// Parses what follows `azurekms://`: `HOST/KEY`, `HOST/KEY/` or `HOST/KEY/VERSION`.
pub fn parse_key(key: &str) -> Result<KeyRef, String> {
    let shape = || format!("expected {}", PROVIDER.shape);
    let parts: Vec<&str> = key.split('/').collect();
    let (vault, name, version) = match parts.as_slice() {
        [vault, name] => (*vault, *name, None),
        [vault, name, ""] => (*vault, *name, None),
        [vault, name, version] => (*vault, *name, Some(*version)),
        _ => return Err(shape()),
    };
    let hp =
        HostPort::parse(vault).map_err(|e| format!("the vault {vault:?}: {e}; {}", shape()))?;
    if hp.host.is_empty() {
        return Err(shape());
    }
    if name.is_empty()
        || name.len() > 127
        || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(format!(
            "{:?} is not a Key Vault key name (letters, digits, '-'); {}",
            name.chars().take(64).collect::<String>(),
            shape()
        ));
    }
    if let Some(v) = version
        && !v
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        return Err(format!(
            "{:?} is not a Key Vault key version (lowercase letters and digits); {}",
            v.chars().take(64).collect::<String>(),
            shape()
        ));
    }
    Ok(KeyRef {
        vault: vault.to_ascii_lowercase(),
        name: name.to_owned(),
        version: version.map(str::to_owned),
    })
}

/// The token scope of a vault host: the host without its vault's own name, for hosts in
/// Azure's Key Vault and Managed HSM domains; `fallback` (a cloud's Key Vault resource) else.
pub fn scope_for(vault: &str, fallback: &str) -> String {
    let host = HostPort::parse(vault).map_or_else(|_| vault.to_owned(), |hp| hp.host);
    match host.split_once('.') {
        Some((_, domain)) if domain.starts_with("vault.") || domain.starts_with("managedhsm.") => {
            format!("https://{domain}/.default")
        }
        _ => format!("{fallback}/.default"),
    }
}

/// A Key Vault signature algorithm and the digest it signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    Es256,
    Es384,
    Rs256,
    Rs384,
}

impl Alg {
    pub fn name(self) -> &'static str {
        match self {
            Alg::Es256 => "ES256",
            Alg::Es384 => "ES384",
            Alg::Rs256 => "RS256",
            Alg::Rs384 => "RS384",
        }
    }

    pub fn hash(self) -> Hash {
        match self {
            Alg::Es256 | Alg::Rs256 => Hash::Sha256,
            Alg::Es384 | Alg::Rs384 => Hash::Sha384,
        }
    }

    /// What sigstore's client signs with for this key.
    pub fn for_key(kind: KeyKind) -> Result<Self, String> {
        match kind {
            KeyKind::EcdsaP256 => Ok(Alg::Es256),
            KeyKind::EcdsaP384 => Ok(Alg::Es384),
            KeyKind::Rsa { bits: 2048 } => Ok(Alg::Rs256),
            KeyKind::Rsa { bits: 3072 } => Ok(Alg::Rs384),
            KeyKind::Rsa { bits: 4096 } => Err(
                "an RSA 4096 key, which sigstore signs with RS512 (SHA-512); chainlet signs with \
                 EC P-256, P-384, RSA 2048 or RSA 3072 keys"
                    .into(),
            ),
            other => Err(format!(
                "a {} key; chainlet signs with EC P-256, P-384, RSA 2048 or RSA 3072 keys",
                other.name()
            )),
        }
    }
}

/// What a key read gives: the public key and the version to sign with.
#[derive(Debug, Clone)]
pub struct VaultKey {
    pub public: PublicKey,
    pub version: String,
}

fn open(ctx: &KmsContext<'_>) -> Result<Arc<dyn Signer>, SigningError> {
    let key = parse_key(ctx.key).map_err(|e| ctx.error(e))?;
    let auth = AzureAuth::from_lookup(
        |k| ctx.var(k),
        azure::Options {
            deadline: ctx.deadline,
            extra_ca: ctx
                .registry_ca
                .iter()
                .map(|path| net::tls::ExtraCa::File {
                    flag: "--registry-ca".into(),
                    path: path.clone(),
                })
                .collect(),
        },
    )
    .map_err(|e| ctx.error(e.to_string()))?;
    let scope = scope_for(&key.vault, auth.cloud().key_vault());
    let client = Client {
        base: format!("https://{}", key.vault),
        origin: Origin::of_host(Scheme::Https, &key.vault).map_err(|e| ctx.error(e))?,
        net: ctx.transport(Vec::new()),
        auth,
        scope,
    };
    let path = match &key.version {
        Some(v) => format!("keys/{}/{v}", key.name),
        None => format!("keys/{}", key.name),
    };
    let body = client
        .call("GET", &path, None, "read the key")
        .map_err(|e| ctx.error(e))?;
    let found = parse_key_bundle(&body, &key).map_err(|e| ctx.error(e))?;
    let alg = Alg::for_key(found.public.kind).map_err(|e| ctx.error(e))?;
    tracing::debug!(reference = ctx.reference, version = %found.version, alg = alg.name(), "Key Vault key");
    let sign = Sign {
        path: format!("keys/{}/{}/sign", key.name, found.version),
        client,
        alg,
        kind: found.public.kind,
    };
    Ok(Arc::new(RemoteSigner::new(
        ctx.reference,
        found.public,
        alg.hash(),
        Box::new(sign),
    )?))
}

struct Client {
    /// `https://host[:port]`
    base: String,
    origin: Origin,
    net: Transport,
    auth: AzureAuth,
    scope: String,
}

impl Client {
    fn call(
        &self,
        method: &'static str,
        path: &str,
        body: Option<&[u8]>,
        what: &str,
    ) -> Result<Vec<u8>, String> {
        let token = self.auth.token(&self.scope).map_err(|e| e.to_string())?;
        let credential = Credential::new(
            self.origin.clone(),
            Zeroizing::new(format!("Bearer {}", token.as_str())),
        );
        drop(token);
        let url = format!("{}/{path}?api-version={API_VERSION}", self.base);
        let mut req = Request::new(method, url, format!("Key Vault: {what}"))
            .header("Accept", "application/json")
            .credential(Some(&credential))
            // Signing the same digest again is harmless: every call may be retried.
            .policy(Policy::idempotent())
            .max_body(MAX_ANSWER);
        if let Some(b) = body {
            req = req.header("Content-Type", "application/json").body(b);
        }
        let answer = self.net.send(&req).map_err(|e| e.to_string())?;
        if answer.status != 200 {
            return Err(format!(
                "{what}: {}",
                service_error(answer.status, &answer.body)
            ));
        }
        Ok(answer.body)
    }
}

struct Sign {
    client: Client,
    path: String,
    alg: Alg,
    kind: KeyKind,
}

impl DigestSign for Sign {
    fn sign_digest(&self, digest: &[u8], _hash: Hash) -> Result<Vec<u8>, String> {
        let body = serde_json::json!({
            "alg": self.alg.name(),
            "value": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest),
        })
        .to_string();
        let answer = self
            .client
            .call("POST", &self.path, Some(body.as_bytes()), "sign")?;
        parse_sign_result(&answer, self.kind)
    }
}

/// base64url, with or without padding (JWK and Key Vault write it without).
fn b64url(s: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|_| "not base64url".to_owned())
}

/// The public key and version from a key bundle (`GET /keys/…`) for `key`.
pub fn parse_key_bundle(body: &[u8], key: &KeyRef) -> Result<VaultKey, String> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        format!(
            "the key answer is not JSON (line {}, column {})",
            e.line(),
            e.column()
        )
    })?;
    if v["attributes"]["enabled"] == serde_json::Value::Bool(false) {
        return Err("the key is disabled".into());
    }
    let jwk = v.get("key").ok_or("the key answer has no key")?;
    if let Some(ops) = jwk.get("key_ops").and_then(|o| o.as_array())
        && !ops.iter().any(|o| o == "sign")
    {
        return Err("the key's key_ops do not allow sign".into());
    }
    let kid = jwk
        .get("kid")
        .and_then(|k| k.as_str())
        .ok_or("the key answer has no kid")?;
    let version = kid_version(kid, key)?;
    let der = jwk_to_spki(jwk)?;
    let public = PublicKey::from_spki_der(&der)?;
    Ok(VaultKey { public, version })
}

/// The version a `kid` (`https://host/keys/NAME/VERSION`) names; it must be `key`'s, and the
/// version asked for when one was.
fn kid_version(kid: &str, key: &KeyRef) -> Result<String, String> {
    let bad = || {
        format!(
            "the key answer's kid {} is not a version of key {}",
            kid.chars()
                .filter(|c| !c.is_control())
                .take(200)
                .collect::<String>(),
            key.name
        )
    };
    let path = kid
        .split_once("://")
        .map_or(kid, |(_, rest)| rest.split_once('/').map_or("", |(_, p)| p));
    let mut parts = path.split('/');
    let (Some("keys"), Some(name), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    if !name.eq_ignore_ascii_case(&key.name)
        || version.is_empty()
        || !version.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(bad());
    }
    if let Some(want) = &key.version
        && !want.eq_ignore_ascii_case(version)
    {
        return Err(bad());
    }
    Ok(version.to_owned())
}

/// A JSON Web Key (EC P-256/P-384 or RSA, Key Vault's `-HSM` types included) as DER
/// SubjectPublicKeyInfo.
pub fn jwk_to_spki(jwk: &serde_json::Value) -> Result<Vec<u8>, String> {
    use p256::pkcs8::EncodePublicKey as _;
    let field = |name: &str| -> Result<Vec<u8>, String> {
        let s = jwk
            .get(name)
            .and_then(|v| v.as_str())
            .ok_or_else(|| format!("the key has no {name}"))?;
        b64url(s).map_err(|e| format!("the key's {name} is {e}"))
    };
    let kty = jwk.get("kty").and_then(|v| v.as_str()).unwrap_or("");
    match kty {
        "EC" | "EC-HSM" => {
            let crv = jwk.get("crv").and_then(|v| v.as_str()).unwrap_or("");
            let size = match crv {
                "P-256" => 32,
                "P-384" => 48,
                other => {
                    return Err(format!(
                        "an EC key on curve {:?}; chainlet signs with P-256 or P-384",
                        other.chars().take(16).collect::<String>()
                    ));
                }
            };
            let (x, y) = (field("x")?, field("y")?);
            if x.len() > size || y.len() > size {
                return Err(format!("the key's coordinates are longer than {crv}'s"));
            }
            // A coordinate is fixed-length; a short one lost its leading zeros.
            let mut point = vec![4u8];
            for c in [&x, &y] {
                point.resize(point.len() + size - c.len(), 0);
                point.extend_from_slice(c);
            }
            let der = if size == 32 {
                p256::PublicKey::from_sec1_bytes(&point)
                    .map_err(|_| "the key's point is not on P-256".to_owned())?
                    .to_public_key_der()
            } else {
                p384::PublicKey::from_sec1_bytes(&point)
                    .map_err(|_| "the key's point is not on P-384".to_owned())?
                    .to_public_key_der()
            };
            der.map(|d| d.as_bytes().to_vec())
                .map_err(|e| format!("the key does not encode: {e}"))
        }
        "RSA" | "RSA-HSM" => {
            use rsa::pkcs8::EncodePublicKey as _;
            let (n, e) = (field("n")?, field("e")?);
            if n.len() > 1024 || e.len() > 8 {
                return Err("the RSA key is larger than chainlet reads".into());
            }
            let key = rsa::PublicKey::new(
                rsa::BoxedUint::from_be_slice_vartime(&n),
                rsa::BoxedUint::from_be_slice_vartime(&e),
            )
            .map_err(|e| format!("the RSA key is not valid: {e}"))?;
            key.to_public_key_der()
                .map(|d| d.as_bytes().to_vec())
                .map_err(|e| format!("the key does not encode: {e}"))
        }
        other => Err(format!(
            "a key of type {:?}; chainlet signs with EC and RSA keys",
            other.chars().take(16).collect::<String>()
        )),
    }
}

/// The signature from a sign answer for a key of `kind`: DER for ECDSA (Key Vault answers
/// `r || s`), the PKCS#1 v1.5 bytes for RSA.
pub fn parse_sign_result(body: &[u8], kind: KeyKind) -> Result<Vec<u8>, String> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        format!(
            "the sign answer is not JSON (line {}, column {})",
            e.line(),
            e.column()
        )
    })?;
    let value = v
        .get("value")
        .and_then(|s| s.as_str())
        .ok_or("the sign answer has no value")?;
    let raw = b64url(value).map_err(|e| format!("the signature is {e}"))?;
    match kind {
        KeyKind::EcdsaP256 => ecdsa_raw_to_der(&raw, 32),
        KeyKind::EcdsaP384 => ecdsa_raw_to_der(&raw, 48),
        KeyKind::Rsa { bits } if raw.len() == bits.div_ceil(8) => Ok(raw),
        KeyKind::Rsa { bits } => Err(format!(
            "the signature is {} bytes, not the {} of an RSA {bits} key",
            raw.len(),
            bits.div_ceil(8)
        )),
        KeyKind::Ed25519 => Err("an Ed25519 key does not sign digests".into()),
    }
}

/// An ECDSA signature as fixed-size `r || s` (each `half` bytes, JWS and Key Vault's form) in
/// ASN.1 DER, `SEQUENCE { INTEGER r, INTEGER s }` (what cosign and Chains write).
pub fn ecdsa_raw_to_der(raw: &[u8], half: usize) -> Result<Vec<u8>, String> {
    if raw.len() != 2 * half {
        return Err(format!(
            "the ECDSA signature is {} bytes, not {}",
            raw.len(),
            2 * half
        ));
    }
    let (r, s) = raw.split_at(half);
    let mut body = Vec::with_capacity(raw.len() + 8);
    for n in [r, s] {
        let start = n
            .iter()
            .position(|&b| b != 0)
            .ok_or("the ECDSA signature has a zero r or s")?;
        let n = &n[start..];
        let pad = usize::from(n[0] & 0x80 != 0);
        body.push(0x02);
        der_length(&mut body, n.len() + pad);
        if pad == 1 {
            body.push(0);
        }
        body.extend_from_slice(n);
    }
    let mut out = vec![0x30];
    der_length(&mut out, body.len());
    out.extend_from_slice(&body);
    Ok(out)
}

fn der_length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(bytes.len() - 1);
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// `HTTP 404 KeyNotFound: message` from a Key Vault error answer, short and printable.
pub fn service_error(status: u16, body: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let clean = |s: &str, max: usize| -> String {
        s.chars().filter(|c| !c.is_control()).take(max).collect()
    };
    let code = v["error"]["code"].as_str().map(|s| clean(s, 60));
    let message = v["error"]["message"].as_str().map(|s| clean(s, 300));
    match (code, message) {
        (Some(c), Some(m)) => format!("HTTP {status} {c}: {m}"),
        (Some(c), None) => format!("HTTP {status} {c}"),
        (None, Some(m)) => format!("HTTP {status}: {m}"),
        (None, None) => format!("HTTP {status}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::elliptic_curve::sec1::ToSec1Point as _;

    fn key(version: Option<&str>) -> KeyRef {
        KeyRef {
            vault: "v.vault.azure.net".into(),
            name: "release".into(),
            version: version.map(str::to_owned),
        }
    }

    #[test]
    fn references_take_sigstores_forms() {
        assert_eq!(parse_key("V.vault.azure.net/release").unwrap(), key(None));
        assert_eq!(parse_key("v.vault.azure.net/release/").unwrap(), key(None));
        assert_eq!(
            parse_key("v.vault.azure.net/release/0a1b2c").unwrap(),
            key(Some("0a1b2c"))
        );
        assert_eq!(
            parse_key("127.0.0.1:8443/k").unwrap().vault,
            "127.0.0.1:8443"
        );
        for bad in [
            "",
            "v.vault.azure.net",
            "v.vault.azure.net/",
            "v.vault.azure.net/re_lease",
            "v.vault.azure.net/k/ABC",
            "v.vault.azure.net/k/1/2",
            "/k",
            "v.vault.azure.net:99999/k",
        ] {
            assert!(parse_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_scope_is_the_vaults_domain() {
        let public = "https://vault.azure.net";
        assert_eq!(
            scope_for("v.vault.azure.net", public),
            "https://vault.azure.net/.default"
        );
        assert_eq!(
            scope_for("v.vault.usgovcloudapi.net", public),
            "https://vault.usgovcloudapi.net/.default"
        );
        assert_eq!(
            scope_for("h.managedhsm.azure.net:443", public),
            "https://managedhsm.azure.net/.default"
        );
        assert_eq!(
            scope_for("127.0.0.1:8443", "https://vault.azure.cn"),
            "https://vault.azure.cn/.default"
        );
    }

    #[test]
    fn raw_ecdsa_signatures_become_der() {
        // Leading zeros are dropped, a high bit gets a zero byte, per X.690.
        let mut raw = vec![0u8; 64];
        raw[1] = 0x7F;
        raw[31] = 1;
        raw[32] = 0x80;
        raw[63] = 2;
        let der = ecdsa_raw_to_der(&raw, 32).unwrap();
        let mut want = vec![0x30, 31 + 2 + 33 + 2, 0x02, 31];
        want.extend_from_slice(&raw[1..32]);
        want.extend_from_slice(&[0x02, 33, 0x00]);
        want.extend_from_slice(&raw[32..]);
        assert_eq!(der, want);
        assert!(ecdsa_raw_to_der(&raw, 48).is_err());
        assert!(ecdsa_raw_to_der(&[0u8; 64], 32).is_err());
        // P-384 with both high bits set: 2 + 2 * (2 + 49) = 104 bytes, a one-byte length.
        let der = ecdsa_raw_to_der(&[0xFF; 96], 48).unwrap();
        assert_eq!(&der[..4], &[0x30, 102, 0x02, 49]);
    }

    #[test]
    fn raw_ecdsa_signatures_match_the_p256_crates_der() {
        use p256::ecdsa::signature::Signer as _;
        let sk = p256::ecdsa::SigningKey::from_bytes(&[7u8; 32].into()).unwrap();
        for msg in [&b"a"[..], b"b", b"chainlet", b"another message"] {
            let sig: p256::ecdsa::Signature = sk.sign(msg);
            assert_eq!(
                ecdsa_raw_to_der(&sig.to_bytes(), 32).unwrap(),
                sig.to_der().as_bytes()
            );
        }
    }

    fn b64(b: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
    }

    #[test]
    fn ec_and_rsa_jwks_become_the_same_spki_as_the_keys_themselves() {
        use p256::pkcs8::EncodePublicKey as _;
        let sk = p256::SecretKey::from_bytes(&[9u8; 32].into()).unwrap();
        let point = sk.public_key().to_sec1_point(false);
        let jwk = serde_json::json!({"kty": "EC-HSM", "crv": "P-256",
            "x": b64(&point.as_bytes()[1..33]), "y": b64(&point.as_bytes()[33..])});
        let der = jwk_to_spki(&jwk).unwrap();
        assert_eq!(der, sk.public_key().to_public_key_der().unwrap().as_bytes());

        let sk = p384::SecretKey::from_bytes(&[5u8; 48].into()).unwrap();
        let point = sk.public_key().to_sec1_point(false);
        let jwk = serde_json::json!({"kty": "EC", "crv": "P-384",
            "x": b64(&point.as_bytes()[1..49]), "y": b64(&point.as_bytes()[49..])});
        let public = PublicKey::from_spki_der(&jwk_to_spki(&jwk).unwrap()).unwrap();
        assert_eq!(public.kind, KeyKind::EcdsaP384);

        let mut n = vec![0xC5u8; 256];
        n[255] |= 1;
        let jwk = serde_json::json!({"kty": "RSA", "n": b64(&n), "e": "AQAB"});
        let public = PublicKey::from_spki_der(&jwk_to_spki(&jwk).unwrap()).unwrap();
        assert_eq!(public.kind, KeyKind::Rsa { bits: 2048 });

        // A point off the curve, a wrong curve, a wrong type.
        let bad = serde_json::json!({"kty": "EC", "crv": "P-256", "x": b64(&[1; 32]), "y": b64(&[1; 32])});
        assert!(jwk_to_spki(&bad).is_err());
        let bad = serde_json::json!({"kty": "EC", "crv": "P-521", "x": "AA", "y": "AA"});
        assert!(jwk_to_spki(&bad).unwrap_err().contains("P-521"));
        assert!(jwk_to_spki(&serde_json::json!({"kty": "oct", "k": "AA"})).is_err());
    }

    #[test]
    fn a_key_bundle_names_the_version_to_sign_with() {
        let sk = p256::SecretKey::from_bytes(&[9u8; 32].into()).unwrap();
        let point = sk.public_key().to_sec1_point(false);
        let bundle = |kid: &str, enabled: bool| {
            serde_json::json!({"key": {"kid": kid, "kty": "EC", "crv": "P-256",
                "key_ops": ["sign", "verify"],
                "x": b64(&point.as_bytes()[1..33]), "y": b64(&point.as_bytes()[33..])},
                "attributes": {"enabled": enabled}})
            .to_string()
            .into_bytes()
        };
        let found = parse_key_bundle(
            &bundle("https://v.vault.azure.net/keys/release/abc123", true),
            &key(None),
        )
        .unwrap();
        assert_eq!(found.version, "abc123");
        assert_eq!(Alg::for_key(found.public.kind).unwrap(), Alg::Es256);
        assert!(
            parse_key_bundle(
                &bundle("https://v.vault.azure.net/keys/other/abc123", true),
                &key(None)
            )
            .is_err()
        );
        assert!(
            parse_key_bundle(
                &bundle("https://v.vault.azure.net/keys/release/abc123", true),
                &key(Some("def"))
            )
            .is_err()
        );
        let e = parse_key_bundle(
            &bundle("https://v.vault.azure.net/keys/release/abc123", false),
            &key(None),
        )
        .unwrap_err();
        assert!(e.contains("disabled"), "{e}");
    }

    #[test]
    fn algorithms_follow_sigstore() {
        assert_eq!(
            Alg::for_key(KeyKind::EcdsaP384).unwrap().hash(),
            Hash::Sha384
        );
        assert_eq!(
            Alg::for_key(KeyKind::Rsa { bits: 3072 }).unwrap(),
            Alg::Rs384
        );
        assert!(Alg::for_key(KeyKind::Rsa { bits: 4096 }).is_err());
        assert!(Alg::for_key(KeyKind::Ed25519).is_err());
    }

    #[test]
    fn sign_answers_are_checked_for_their_size() {
        let answer = |raw: &[u8]| {
            serde_json::json!({"kid": "x", "value": b64(raw)})
                .to_string()
                .into_bytes()
        };
        let der = parse_sign_result(&answer(&[1u8; 64]), KeyKind::EcdsaP256).unwrap();
        assert_eq!(der[0], 0x30);
        assert!(parse_sign_result(&answer(&[1u8; 64]), KeyKind::EcdsaP384).is_err());
        assert!(parse_sign_result(&answer(&[1u8; 255]), KeyKind::Rsa { bits: 2048 }).is_err());
        assert_eq!(
            parse_sign_result(&answer(&[1u8; 256]), KeyKind::Rsa { bits: 2048 }).unwrap(),
            vec![1u8; 256]
        );
    }

    #[test]
    fn service_errors_are_one_short_line() {
        let body = br#"{"error":{"code":"KeyNotFound","message":"A key with (name/id) nope was not found in this key vault."}}"#;
        assert_eq!(
            service_error(404, body),
            "HTTP 404 KeyNotFound: A key with (name/id) nope was not found in this key vault."
        );
    }
}
