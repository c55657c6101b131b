//! `gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K[/cryptoKeyVersions/N]`: an
//! asymmetric signing key in Google Cloud KMS, through its REST API (`cloudkms.googleapis.com/v1`).
//!
//! The reference takes the forms sigstore's GCP client takes: with a version
//! (`…/cryptoKeyVersions/N`, or `…/versions/N`), or without one, when the key's enabled version
//! that sorts first by name descending is used, as sigstore picks it (asymmetric keys have no
//! primary version). The version's public key is read once (`GET …/publicKey`); its algorithm
//! fixes the digest: SHA-256 for `EC_SIGN_P256_SHA256` and `RSA_SIGN_PKCS1_*_SHA256`, SHA-384 for
//! `EC_SIGN_P384_SHA384`. Each signature is one `POST …:asymmetricSign` of the digest.
//!
//! Integrity as Google's data-integrity guidelines ask: the public key's PEM is checked against
//! `pemCrc32c`; every sign request carries `digestCrc32c` and its answer must say
//! `verifiedDigestCrc32c` and carry a `signatureCrc32c` that matches the signature; a mismatch
//! is retried twice, then fails. Answers must name the key version asked for.
//!
//! Credentials are [`crate::cloud::google`]'s (`GOOGLE_APPLICATION_CREDENTIALS`, else the
//! metadata server: GKE workload identity), with the scopes Google's KMS clients ask for.
//! `CHAINLET_GCPKMS_ENDPOINT` replaces `https://cloudkms.googleapis.com` (a private endpoint, a
//! proxy, a test server); Google's client libraries have no such variable, so chainlet names
//! its own. It may be plain HTTP only on loopback, because the token goes with every request.

use std::sync::Arc;

use base64::Engine as _;
use zeroize::Zeroizing;

use super::{KmsContext, Provider};
use crate::cloud::google::{self, GoogleAuth};
use crate::net::{self, Credential, HostPort, Origin, Policy, Request, Scheme, Transport};
use crate::signing::remote::{DigestSign, Hash, KeyKind, PublicKey, RemoteSigner};
use crate::signing::{Signer, SigningError};

pub const PROVIDER: Provider = Provider {
    scheme: "gcpkms",
    shape: "gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K[/cryptoKeyVersions/N]",
    check: |key| parse_key(key).map(|_| ()),
    open,
};

/// Replaces the public endpoint (a URL; plain HTTP only to loopback).
pub const ENDPOINT_ENV: &str = "CHAINLET_GCPKMS_ENDPOINT";
const PUBLIC_ENDPOINT: &str = "https://cloudkms.googleapis.com";
/// The scopes Google's KMS clients ask for.
const SCOPES: &[&str] = &[
    google::CLOUD_PLATFORM,
    "https://www.googleapis.com/auth/cloudkms",
];
/// Answers are a few kilobytes (a PEM key, a signature); anything far larger is not one.
const MAX_ANSWER: u64 = 256 * 1024;
/// Sign attempts when a checksum says the request or answer was damaged on the way.
const INTEGRITY_ATTEMPTS: usize = 3;

/// A key reference, split: the CryptoKey's resource name and the version, when given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyName {
    /// `projects/P/locations/L/keyRings/R/cryptoKeys/K`
    pub key: String,
    pub version: Option<String>,
}

impl KeyName {
    /// The CryptoKeyVersion's resource name, when the reference has a version.
    pub fn version_name(&self) -> Option<String> {
        self.version
            .as_ref()
            .map(|v| format!("{}/cryptoKeyVersions/{v}", self.key))
    }
}

/// Parses what follows `gcpkms://`. Names are resource IDs (letters, digits, `-`, `_`; a
/// project may be `domain:id`), so anything else is refused rather than escaped into a URL.
pub fn parse_key(key: &str) -> Result<KeyName, String> {
    let shape = || format!("expected {}", PROVIDER.shape);
    let parts: Vec<&str> = key.split('/').collect();
    let fixed = ["projects", "locations", "keyRings", "cryptoKeys"];
    let (ids, version) = match parts.as_slice() {
        [p, project, l, location, r, ring, c, name] => (
            [*p, *l, *r, *c],
            ([*project, *location, *ring, *name], None),
        ),
        [p, project, l, location, r, ring, c, name, v, version]
            if *v == "cryptoKeyVersions" || *v == "versions" =>
        {
            (
                [*p, *l, *r, *c],
                ([*project, *location, *ring, *name], Some(*version)),
            )
        }
        _ => return Err(shape()),
    };
    if ids != fixed {
        return Err(shape());
    }
    let (names, version) = version;
    for id in names.iter().chain(version.iter()) {
        let ok = !id.is_empty()
            && *id != "."
            && *id != ".."
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
        if !ok {
            return Err(format!(
                "{:?} is not a Cloud KMS resource ID (letters, digits, '-', '_'); {}",
                id.chars().take(64).collect::<String>(),
                shape()
            ));
        }
    }
    let [project, location, ring, name] = names;
    Ok(KeyName {
        key: format!("projects/{project}/locations/{location}/keyRings/{ring}/cryptoKeys/{name}"),
        version: version.map(str::to_owned),
    })
}

/// What a key version's algorithm means for signing with it: the digest it takes and the key
/// it must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Algorithm {
    pub hash: Hash,
    key: AlgorithmKey,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AlgorithmKey {
    P256,
    P384,
    Rsa,
}

impl Algorithm {
    /// Whether a public key is the kind this algorithm signs with.
    pub fn fits(self, kind: KeyKind) -> bool {
        match self.key {
            AlgorithmKey::P256 => kind == KeyKind::EcdsaP256,
            AlgorithmKey::P384 => kind == KeyKind::EcdsaP384,
            AlgorithmKey::Rsa => matches!(kind, KeyKind::Rsa { .. }),
        }
    }
}

/// The algorithm of a key version by its Cloud KMS name, or why chainlet does not sign with it.
pub fn algorithm(name: &str) -> Result<Algorithm, String> {
    let (hash, key) = match name {
        "EC_SIGN_P256_SHA256" => (Hash::Sha256, AlgorithmKey::P256),
        "EC_SIGN_P384_SHA384" => (Hash::Sha384, AlgorithmKey::P384),
        "RSA_SIGN_PKCS1_2048_SHA256"
        | "RSA_SIGN_PKCS1_3072_SHA256"
        | "RSA_SIGN_PKCS1_4096_SHA256" => (Hash::Sha256, AlgorithmKey::Rsa),
        other => {
            return Err(format!(
                "the key version's algorithm is {}; chainlet signs with EC_SIGN_P256_SHA256, \
                 EC_SIGN_P384_SHA384 and RSA_SIGN_PKCS1_{{2048,3072,4096}}_SHA256",
                printable(other, 64)
            ));
        }
    };
    Ok(Algorithm { hash, key })
}

fn open(ctx: &KmsContext<'_>) -> Result<Arc<dyn Signer>, SigningError> {
    let name = parse_key(ctx.key).map_err(|e| ctx.error(e))?;
    let (endpoint, plain_http) = endpoint(ctx).map_err(|e| ctx.error(e))?;
    let auth = GoogleAuth::from_lookup(
        |k| ctx.var(k),
        google::Options {
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
    let client = Client {
        origin: Origin::of_url(&endpoint).map_err(|e| ctx.error(e))?,
        endpoint,
        net: ctx.transport(plain_http),
        auth,
    };
    let version = match name.version_name() {
        Some(v) => v,
        None => client.newest_enabled(&name.key).map_err(|e| ctx.error(e))?,
    };
    let body = client
        .call(
            "GET",
            &format!("{version}/publicKey"),
            None,
            "read the public key",
        )
        .map_err(|e| ctx.error(e))?;
    let (public, hash) = parse_public_key(&body, &version).map_err(|e| ctx.error(e))?;
    tracing::debug!(reference = ctx.reference, %version, endpoint = %client.endpoint, "Cloud KMS key version");
    Ok(Arc::new(RemoteSigner::new(
        ctx.reference,
        public,
        hash,
        Box::new(Sign { client, version }),
    )?))
}

/// The endpoint and the plain-HTTP allow-list it needs.
fn endpoint(ctx: &KmsContext<'_>) -> Result<(String, Vec<HostPort>), String> {
    let Some(url) = ctx.var(ENDPOINT_ENV) else {
        return Ok((PUBLIC_ENDPOINT.to_owned(), Vec::new()));
    };
    let url = url.trim().trim_end_matches('/').to_owned();
    let origin = Origin::of_url(&url).map_err(|e| format!("{ENDPOINT_ENV}: {e}"))?;
    if url.len() > origin_len(&url) {
        return Err(format!(
            "{ENDPOINT_ENV}={url:?}: give scheme, host and port only"
        ));
    }
    match origin.scheme {
        Scheme::Https => Ok((url, Vec::new())),
        Scheme::Http if is_loopback(&origin.host) => Ok((
            url,
            vec![HostPort {
                host: origin.host,
                port: Some(origin.port),
            }],
        )),
        Scheme::Http => Err(format!(
            "{ENDPOINT_ENV}={url:?}: plain HTTP only to loopback (the access token goes with every request); use https"
        )),
    }
}

/// The length of `scheme://authority` at the start of a URL.
fn origin_len(url: &str) -> usize {
    let after = url.find("://").map_or(0, |i| i + 3);
    after
        + url[after..]
            .find(['/', '?', '#'])
            .unwrap_or(url.len() - after)
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The REST client: an endpoint, a transport, credentials.
struct Client {
    endpoint: String,
    origin: Origin,
    net: Transport,
    auth: GoogleAuth,
}

impl Client {
    /// One call to `{endpoint}/v1/{path}`; the answer's body when it is a 200, else an error
    /// with the status and Google's message.
    fn call(
        &self,
        method: &'static str,
        path: &str,
        body: Option<&[u8]>,
        what: &str,
    ) -> Result<Vec<u8>, String> {
        let token = self.auth.token(SCOPES).map_err(|e| e.to_string())?;
        let credential = Credential::new(
            self.origin.clone(),
            Zeroizing::new(format!("Bearer {}", token.as_str())),
        );
        drop(token);
        let op = format!("Cloud KMS: {what}");
        let mut req = Request::new(method, format!("{}/v1/{path}", self.endpoint), op)
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

    /// The resource name of the key's enabled version that sorts first by name descending, as
    /// sigstore's client picks it.
    fn newest_enabled(&self, key: &str) -> Result<String, String> {
        let body = self.call("GET", key, None, "read the key")?;
        let purpose = parse_crypto_key(&body)?;
        if purpose != "ASYMMETRIC_SIGN" {
            return Err(format!(
                "the key's purpose is {}, not ASYMMETRIC_SIGN",
                printable(&purpose, 40)
            ));
        }
        let body = self.call(
            "GET",
            &format!(
                "{key}/cryptoKeyVersions?filter=state%3DENABLED&orderBy=name%20desc&pageSize=1"
            ),
            None,
            "list the key's versions",
        )?;
        parse_versions(&body, key)?.ok_or_else(|| {
            "the key has no enabled version; name one with …/cryptoKeyVersions/N".to_owned()
        })
    }
}

/// Signs with one key version.
struct Sign {
    client: Client,
    version: String,
}

impl DigestSign for Sign {
    fn sign_digest(&self, digest: &[u8], hash: Hash) -> Result<Vec<u8>, String> {
        let field = match hash {
            Hash::Sha256 => "sha256",
            Hash::Sha384 => "sha384",
        };
        let b64 = base64::engine::general_purpose::STANDARD;
        let body = serde_json::json!({
            "digest": { field: b64.encode(digest) },
            "digestCrc32c": crc32c(digest).to_string(),
        })
        .to_string();
        let mut last = String::new();
        for attempt in 1..=INTEGRITY_ATTEMPTS {
            let answer = self.client.call(
                "POST",
                &format!("{}:asymmetricSign", self.version),
                Some(body.as_bytes()),
                "sign",
            )?;
            match parse_signature(&answer, &self.version) {
                Ok(sig) => return Ok(sig),
                Err(SignatureError::Damaged(why)) => {
                    tracing::warn!(version = %self.version, attempt, "Cloud KMS: {why}");
                    last = why;
                }
                Err(SignatureError::Invalid(why)) => return Err(why),
            }
        }
        Err(format!("{last} ({INTEGRITY_ATTEMPTS} attempts)"))
    }
}

/// Why a sign answer was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureError {
    /// A checksum says the request or the answer was damaged on the way: worth another try.
    Damaged(String),
    /// Not a sign answer for this key version.
    Invalid(String),
}

/// A JSON Int64Value: Google writes a string, a proxy may write a number.
fn int64(v: &serde_json::Value) -> Option<u64> {
    match v {
        serde_json::Value::String(s) => s.parse().ok(),
        serde_json::Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

fn json_error(what: &str, e: &serde_json::Error) -> String {
    format!(
        "the {what} is not JSON (line {}, column {})",
        e.line(),
        e.column()
    )
}

/// The `name` an answer gives must be the one asked for, when it gives one.
fn check_name(v: &serde_json::Value, want: &str) -> Result<(), String> {
    match v.get("name") {
        None | Some(serde_json::Value::Null) => Ok(()),
        Some(serde_json::Value::String(n)) if n == want => Ok(()),
        Some(n) => Err(format!(
            "the answer is for {}, not {want}",
            printable(&n.to_string(), 200)
        )),
    }
}

/// The public key and the digest it signs, from a `publicKey` answer for `version`.
pub fn parse_public_key(body: &[u8], version: &str) -> Result<(PublicKey, Hash), String> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| json_error("public key answer", &e))?;
    check_name(&v, version)?;
    let pem = v
        .get("pem")
        .and_then(|p| p.as_str())
        .ok_or("the public key answer has no pem")?;
    if let Some(crc) = v.get("pemCrc32c").filter(|c| !c.is_null()) {
        let want = int64(crc).ok_or("pemCrc32c is not a number")?;
        if u64::from(crc32c(pem.as_bytes())) != want {
            return Err("the public key's pemCrc32c does not match its PEM: it was damaged on the way; try again".into());
        }
    }
    let alg = v
        .get("algorithm")
        .and_then(|a| a.as_str())
        .ok_or("the public key answer has no algorithm")?;
    let algorithm = algorithm(alg)?;
    let public = PublicKey::from_pem(pem)?;
    if !algorithm.fits(public.kind) {
        return Err(format!(
            "the key version's algorithm is {alg} but its public key is {}",
            public.kind.name()
        ));
    }
    Ok((public, algorithm.hash))
}

/// The signature from an `asymmetricSign` answer for `version`, after the integrity checks.
pub fn parse_signature(body: &[u8], version: &str) -> Result<Vec<u8>, SignatureError> {
    let invalid = SignatureError::Invalid;
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| invalid(json_error("sign answer", &e)))?;
    check_name(&v, version).map_err(invalid)?;
    if v.get("verifiedDigestCrc32c").and_then(|b| b.as_bool()) != Some(true) {
        return Err(SignatureError::Damaged(
            "the sign answer does not say the digest's CRC32C was verified".into(),
        ));
    }
    let sig = v
        .get("signature")
        .and_then(|s| s.as_str())
        .ok_or_else(|| invalid("the sign answer has no signature".into()))?;
    let sig = base64::engine::general_purpose::STANDARD
        .decode(sig)
        .map_err(|_| invalid("the signature is not base64".into()))?;
    let crc = v
        .get("signatureCrc32c")
        .and_then(int64)
        .ok_or_else(|| invalid("the sign answer has no signatureCrc32c".into()))?;
    if u64::from(crc32c(&sig)) != crc {
        return Err(SignatureError::Damaged(
            "the signature does not match its signatureCrc32c".into(),
        ));
    }
    if sig.is_empty() {
        return Err(invalid("the signature is empty".into()));
    }
    Ok(sig)
}

/// A CryptoKey's purpose from a `GET` of the key.
pub fn parse_crypto_key(body: &[u8]) -> Result<String, String> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| json_error("key answer", &e))?;
    Ok(v.get("purpose")
        .and_then(|p| p.as_str())
        .unwrap_or("unspecified")
        .to_owned())
}

/// The first version's name from a `cryptoKeyVersions` listing of `key`, if any; it must be a
/// version of that key.
pub fn parse_versions(body: &[u8], key: &str) -> Result<Option<String>, String> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| json_error("version listing", &e))?;
    let Some(first) = v
        .get("cryptoKeyVersions")
        .and_then(|l| l.as_array())
        .and_then(|l| l.first())
    else {
        return Ok(None);
    };
    let name = first
        .get("name")
        .and_then(|n| n.as_str())
        .ok_or("the version listing has a version without a name")?;
    let prefix = format!("{key}/cryptoKeyVersions/");
    match name.strip_prefix(&prefix) {
        Some(id) if parse_key(&format!("{key}/cryptoKeyVersions/{id}")).is_ok() => {
            Ok(Some(name.to_owned()))
        }
        _ => Err(format!(
            "the version listing names {}, not a version of {key}",
            printable(name, 200)
        )),
    }
}

/// `HTTP 404 NOT_FOUND: message` from a Google error answer, short and printable.
pub fn service_error(status: u16, body: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let e = &v["error"];
    let code = e["status"].as_str().map(|s| printable(s, 40));
    let message = e["message"].as_str().map(|s| printable(s, 300));
    match (code, message) {
        (Some(c), Some(m)) => format!("HTTP {status} {c}: {m}"),
        (Some(c), None) => format!("HTTP {status} {c}"),
        (None, Some(m)) => format!("HTTP {status}: {m}"),
        (None, None) => format!("HTTP {status}"),
    }
}

/// At most `max` characters of `s`, without control characters.
fn printable(s: &str, max: usize) -> String {
    s.chars().filter(|c| !c.is_control()).take(max).collect()
}

/// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum Cloud KMS uses.
pub fn crc32c(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    (c >> 1) ^ 0x82F6_3B78
                } else {
                    c >> 1
                };
                k += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    };
    let mut crc = !0u32;
    for &b in bytes {
        crc = TABLE[((crc ^ u32::from(b)) & 0xFF) as usize] ^ (crc >> 8);
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_matches_the_published_vectors() {
        // RFC 3720 B.4 and the common check value.
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
        assert_eq!(crc32c(&[0xFFu8; 32]), 0x62A8_AB43);
        let ascending: Vec<u8> = (0u8..32).collect();
        assert_eq!(crc32c(&ascending), 0x46DD_794E);
        let descending: Vec<u8> = (0u8..32).rev().collect();
        assert_eq!(crc32c(&descending), 0x113F_DB5C);
        assert_eq!(crc32c(b""), 0);
    }

    #[test]
    fn references_take_sigstores_forms() {
        let k = parse_key("projects/p/locations/global/keyRings/r/cryptoKeys/k").unwrap();
        assert_eq!(k.key, "projects/p/locations/global/keyRings/r/cryptoKeys/k");
        assert_eq!(k.version, None);
        let k = parse_key("projects/example.com:p/locations/us-east1/keyRings/r_1/cryptoKeys/k-2/cryptoKeyVersions/3").unwrap();
        assert_eq!(
            k.version_name().unwrap(),
            "projects/example.com:p/locations/us-east1/keyRings/r_1/cryptoKeys/k-2/cryptoKeyVersions/3"
        );
        let k = parse_key("projects/p/locations/l/keyRings/r/cryptoKeys/k/versions/7").unwrap();
        assert_eq!(k.version.as_deref(), Some("7"));
        for bad in [
            "",
            "projects/p",
            "projects/p/locations/l/keyRings/r/cryptoKeys/k/",
            "projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/",
            "projects/p/locations/l/keyRings/r/keys/k",
            "projects/p/locations/l/keyRings/../cryptoKeys/k",
            "projects/p/locations/l/keyRings/r/cryptoKeys/k?x=1",
            "projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1/publicKey",
        ] {
            assert!(parse_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn algorithms_fix_the_digest_and_unsupported_ones_say_why() {
        assert_eq!(algorithm("EC_SIGN_P384_SHA384").unwrap().hash, Hash::Sha384);
        assert_eq!(algorithm("EC_SIGN_P256_SHA256").unwrap().hash, Hash::Sha256);
        assert_eq!(
            algorithm("RSA_SIGN_PKCS1_3072_SHA256").unwrap().hash,
            Hash::Sha256
        );
        let e = algorithm("RSA_SIGN_PSS_2048_SHA256").unwrap_err();
        assert!(e.contains("RSA_SIGN_PSS_2048_SHA256"), "{e}");
        assert!(algorithm("EC_SIGN_SECP256K1_SHA256").is_err());
    }

    fn public_key_answer(pem: &str, alg: &str, crc: u32) -> Vec<u8> {
        serde_json::json!({"pem": pem, "algorithm": alg, "pemCrc32c": crc.to_string(),
            "name": "projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1"})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn a_public_key_answer_is_checked_against_its_crc_its_name_and_its_algorithm() {
        let version = "projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1";
        let key = crate::signing::KeyPair::generate_p256().unwrap();
        let pem = key.public_key_pem();
        let crc = crc32c(pem.as_bytes());
        let (public, hash) = parse_public_key(
            &public_key_answer(&pem, "EC_SIGN_P256_SHA256", crc),
            version,
        )
        .unwrap();
        assert_eq!((public.kind, hash), (KeyKind::EcdsaP256, Hash::Sha256));
        let e = parse_public_key(
            &public_key_answer(&pem, "EC_SIGN_P256_SHA256", crc ^ 1),
            version,
        )
        .unwrap_err();
        assert!(e.contains("pemCrc32c"), "{e}");
        let e = parse_public_key(
            &public_key_answer(&pem, "EC_SIGN_P384_SHA384", crc),
            version,
        )
        .unwrap_err();
        assert!(e.contains("ecdsa-p256"), "{e}");
        let e = parse_public_key(
            &public_key_answer(&pem, "EC_SIGN_P256_SHA256", crc),
            &version.replace("/1", "/2"),
        )
        .unwrap_err();
        assert!(e.contains("not projects/"), "{e}");
    }

    #[test]
    fn a_sign_answer_must_verify_the_digest_and_match_its_crc() {
        let version = "projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1";
        let sig = b"\x30\x06\x02\x01\x01\x02\x01\x01";
        let answer = |verified: bool, crc: u32| {
            serde_json::json!({
                "signature": base64::engine::general_purpose::STANDARD.encode(sig),
                "signatureCrc32c": crc.to_string(),
                "verifiedDigestCrc32c": verified,
                "name": version,
            })
            .to_string()
            .into_bytes()
        };
        assert_eq!(
            parse_signature(&answer(true, crc32c(sig)), version).unwrap(),
            sig
        );
        assert!(matches!(
            parse_signature(&answer(false, crc32c(sig)), version),
            Err(SignatureError::Damaged(_))
        ));
        assert!(matches!(
            parse_signature(&answer(true, crc32c(sig) ^ 4), version),
            Err(SignatureError::Damaged(_))
        ));
        assert!(matches!(
            parse_signature(b"{", version),
            Err(SignatureError::Invalid(_))
        ));
    }

    #[test]
    fn version_listings_name_a_version_of_the_key() {
        let key = "projects/p/locations/l/keyRings/r/cryptoKeys/k";
        let body = br#"{"cryptoKeyVersions":[{"name":"projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/9","state":"ENABLED"}],"totalSize":2}"#;
        assert_eq!(
            parse_versions(body, key).unwrap().unwrap(),
            format!("{key}/cryptoKeyVersions/9")
        );
        assert_eq!(parse_versions(b"{}", key).unwrap(), None);
        let other = br#"{"cryptoKeyVersions":[{"name":"projects/q/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/9"}]}"#;
        assert!(parse_versions(other, key).is_err());
    }

    #[test]
    fn service_errors_are_one_short_line() {
        let body = br#"{"error":{"code":404,"message":"CryptoKey projects/p/x\nnot found.","status":"NOT_FOUND"}}"#;
        assert_eq!(
            service_error(404, body),
            "HTTP 404 NOT_FOUND: CryptoKey projects/p/xnot found."
        );
        assert_eq!(service_error(502, b"<html>"), "HTTP 502");
    }
}
