//! `hashivault://KEY` (and `openbao://KEY`): a key in the transit secrets engine of HashiCorp
//! Vault or OpenBao, as Chains reaches it through sigstore's hashivault client.
//!
//! - **Address**: `signers.kms.auth.address`, else `VAULT_ADDR`, else `BAO_ADDR`. Without a
//!   scheme it is `http://` (Chains reads it so); plain HTTP goes to that address only.
//! - **Token**, first found wins, in Chains' order: the file `signers.kms.auth.token-path`,
//!   `signers.kms.auth.token`, a JWT login (`POST /v1/auth/<oidc.path>/login` with
//!   `oidc.role` and the JWT in `oidc.token-path`) when both `oidc.path` and `oidc.role` are
//!   set, then `VAULT_TOKEN`, then `BAO_TOKEN`. It is sent as `Authorization: Bearer`, only to
//!   the Vault address. `VAULT_NAMESPACE` becomes `X-Vault-Namespace`, as Vault's Go client
//!   does.
//! - **Mount**: `TRANSIT_SECRET_ENGINE_PATH`, else `transit` (sigstore's names).
//!
//! The signer reads `GET /v1/<mount>/keys/KEY` once and signs every digest with that key's
//! latest version, named in each `POST /v1/<mount>/sign/KEY/sha2-256` (`prehashed`,
//! `key_version`; PKCS#1 v1.5 for RSA keys, as sigstore asks), so a key rotated during the run
//! cannot sign with a version whose public key was not the one read. Chains hashes with
//! SHA-256 whatever the key, and so does chainlet.

use std::sync::Arc;

use base64::Engine as _;
use serde_json::Value;
use zeroize::Zeroizing;

use super::{KmsContext, Provider};
use crate::net::{Credential, HostPort, Origin, Request, Scheme, Transport};
use crate::signing::remote::{DigestSign, Hash, KeyKind, PublicKey, RemoteSigner};
use crate::signing::{Signer, SigningError};

/// Vault's scheme, the one Chains documents.
pub const PROVIDER: Provider = Provider {
    scheme: "hashivault",
    shape: "hashivault://KEY",
    check: check_key_name,
    open,
};

/// sigstore's alternative scheme for the same client.
pub const OPENBAO: Provider = Provider {
    scheme: "openbao",
    shape: "openbao://KEY",
    check: check_key_name,
    open,
};

const DEFAULT_MOUNT: &str = "transit";
/// Vault's answers here are a key's metadata or one signature: a few KiB.
const MAX_ANSWER: u64 = 256 * 1024;

fn open(ctx: &KmsContext<'_>) -> Result<Arc<dyn Signer>, SigningError> {
    check_key_name(ctx.key).map_err(|r| ctx.error(r))?;
    let config = |name: &str| ctx.config.get(name).trim().to_owned();
    if !config("signers.kms.auth.spire.sock").is_empty() {
        return Err(ctx.error(
            "signers.kms.auth.spire.sock: a SPIRE JWT-SVID for Vault is not supported yet; \
             use signers.kms.auth.token-path, signers.kms.auth.token or signers.kms.auth.oidc.*",
        ));
    }
    let address = match Some(config("signers.kms.auth.address"))
        .filter(|a| !a.is_empty())
        .or_else(|| ctx.var("VAULT_ADDR"))
        .or_else(|| ctx.var("BAO_ADDR"))
    {
        Some(a) => parse_address(&a).map_err(|r| ctx.error(format!("Vault address: {r}")))?,
        None => {
            return Err(ctx.error(
                "no Vault address: set signers.kms.auth.address (or VAULT_ADDR in the environment)",
            ));
        }
    };
    let mount = match ctx.var("TRANSIT_SECRET_ENGINE_PATH") {
        Some(m) => {
            check_mount(&m).map_err(|r| ctx.error(format!("TRANSIT_SECRET_ENGINE_PATH {r}")))?
        }
        None => DEFAULT_MOUNT.to_owned(),
    };
    let plain_http = match address.origin.scheme {
        Scheme::Http => vec![HostPort {
            host: address.origin.host.clone(),
            port: Some(address.origin.port),
        }],
        Scheme::Https => vec![],
    };
    let mut vault = Vault {
        net: ctx.transport(plain_http),
        address,
        namespace: ctx.var("VAULT_NAMESPACE"),
        credential: None,
    };
    let token = token(ctx, &vault)?;
    vault.credential = Some(Credential::new(
        vault.address.origin.clone(),
        Zeroizing::new(format!("Bearer {}", token.as_str())),
    ));
    let (version, public) = vault
        .read_key(&mount, ctx.key)
        .map_err(|r| ctx.error(scrub(r, &token)))?;
    tracing::debug!(reference = ctx.reference, version, kind = %public.kind.name(), "read the Vault key");
    let rsa = matches!(public.kind, KeyKind::Rsa { .. });
    let signer = RemoteSigner::new(
        ctx.reference,
        public,
        Hash::Sha256,
        Box::new(TransitKey {
            vault,
            mount,
            key: ctx.key.to_owned(),
            version,
            rsa,
            token,
        }),
    )?;
    Ok(Arc::new(signer))
}

/// The token, found in Chains' order (see the module docs).
fn token(ctx: &KmsContext<'_>, vault: &Vault) -> Result<Zeroizing<String>, SigningError> {
    let config = |name: &str| ctx.config.get(name).trim().to_owned();
    let path = config("signers.kms.auth.token-path");
    if !path.is_empty() {
        return read_token_file(&path)
            .map_err(|r| ctx.error(format!("signers.kms.auth.token-path {path}: {r}")));
    }
    let inline = ctx.config.get("signers.kms.auth.token").trim();
    if !inline.is_empty() {
        return Ok(Zeroizing::new(inline.to_owned()));
    }
    let (oidc_path, role) = (
        config("signers.kms.auth.oidc.path"),
        config("signers.kms.auth.oidc.role"),
    );
    if !oidc_path.is_empty() && !role.is_empty() {
        let mount = check_mount(&oidc_path)
            .map_err(|r| ctx.error(format!("signers.kms.auth.oidc.path {r}")))?;
        let jwt_path = config("signers.kms.auth.oidc.token-path");
        let jwt = read_token_file(&jwt_path)
            .map_err(|r| ctx.error(format!("signers.kms.auth.oidc.token-path {jwt_path}: {r}")))?;
        return vault
            .login(&mount, &role, &jwt)
            .map_err(|r| ctx.error(scrub(r, &jwt)));
    }
    if let Some(t) = ctx.var("VAULT_TOKEN").or_else(|| ctx.var("BAO_TOKEN")) {
        return Ok(Zeroizing::new(t.trim().to_owned()));
    }
    Err(ctx.error(
        "no Vault token: set signers.kms.auth.token-path, signers.kms.auth.token, \
         signers.kms.auth.oidc.path with signers.kms.auth.oidc.role, or VAULT_TOKEN",
    ))
}

/// A mounted token file: trailing whitespace (the newline of most Secrets) is not the token.
fn read_token_file(path: &str) -> Result<Zeroizing<String>, String> {
    let bytes = crate::signing::read_secret(std::path::Path::new(path)).map_err(|e| match e {
        SigningError::Read { source, .. } => source.to_string(),
        SigningError::Corrupt { reason, .. } => reason,
        other => other.to_string(),
    })?;
    let text = std::str::from_utf8(&bytes).map_err(|_| "not UTF-8 text".to_owned())?;
    let token = text.trim();
    if token.is_empty() {
        return Err("empty".into());
    }
    if token.chars().any(|c| c.is_control() || c == ' ') {
        return Err("holds more than one line or word; expected one token".into());
    }
    Ok(Zeroizing::new(token.to_owned()))
}

/// A Vault address: its origin (for the credential and the plain-HTTP allow-list) and the base
/// URL requests go under (`http://vault:8200`, or with a path prefix behind a proxy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub origin: Origin,
    pub base: String,
}

/// Reads a Vault address as Chains does: `http://` or `https://` with or without a port, and
/// `host[:port]` without a scheme as plain HTTP.
pub fn parse_address(address: &str) -> Result<Address, String> {
    let address = address.trim();
    let url = match address.split_once("://") {
        Some(("http" | "https", _)) => address.to_owned(),
        Some((scheme, _)) => {
            return Err(format!(
                "{address:?} has scheme {scheme:?}; expected http:// or https://"
            ));
        }
        None => format!("http://{address}"),
    };
    if url.contains(['?', '#']) || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{address:?} is not a URL of a Vault server"));
    }
    let origin = Origin::of_url(&url).map_err(|e| format!("{address:?}: {e}"))?;
    let after_scheme = url.split_once("://").map_or("", |(_, rest)| rest);
    let path = after_scheme
        .find('/')
        .map_or("", |i| &after_scheme[i..])
        .trim_end_matches('/');
    if path.split('/').any(|s| s == "..") {
        return Err(format!("{address:?} is not a URL of a Vault server"));
    }
    let base = format!("{}{path}", origin_url(&origin));
    Ok(Address { origin, base })
}

fn origin_url(origin: &Origin) -> String {
    let host = if origin.host.contains(':') {
        format!("[{}]", origin.host)
    } else {
        origin.host.clone()
    };
    format!("{}://{host}:{}", origin.scheme.as_str(), origin.port)
}

/// A key name as sigstore's client takes it: word characters, `-` and `.`, starting and ending
/// with a word character. It becomes one URL path segment.
pub fn check_key_name(key: &str) -> Result<(), String> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let ok = key.chars().all(|c| word(c) || c == '-' || c == '.')
        && key.starts_with(word)
        && key.ends_with(word);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "the key name {key:?} is not one Vault's transit engine has: expected letters, \
             digits, '_', '-' and '.', starting and ending with a letter, digit or '_'"
        ))
    }
}

/// A mount path (`transit`, `jwt`, `auth-k8s/cluster-1`): segments of letters, digits, `_`,
/// `-` and `.`; leading and trailing `/` dropped.
pub fn check_mount(path: &str) -> Result<String, String> {
    let trimmed = path.trim().trim_matches('/');
    let ok = !trimmed.is_empty()
        && trimmed.split('/').all(|s| {
            !s.is_empty()
                && s != "."
                && s != ".."
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        });
    if ok {
        Ok(trimmed.to_owned())
    } else {
        Err(format!(
            "{path:?}: not a Vault mount path (segments of letters, digits, '_', '-', '.')"
        ))
    }
}

/// A Vault server and how to talk to it.
struct Vault {
    net: Transport,
    address: Address,
    namespace: Option<String>,
    credential: Option<Credential>,
}

impl Vault {
    fn request<'a>(&'a self, method: &'static str, path: &str, op: String) -> Request<'a> {
        let mut req = Request::new(method, format!("{}/v1/{path}", self.address.base), op)
            .header("Accept", "application/json")
            .header("X-Vault-Request", "true")
            .credential(self.credential.as_ref())
            .max_body(MAX_ANSWER);
        if let Some(ns) = &self.namespace {
            req = req.header("X-Vault-Namespace", ns.clone());
        }
        req
    }

    /// Sends and returns the body of a 200 answer, or says what Vault answered instead.
    fn call(&self, req: Request<'_>, what: &str) -> Result<Vec<u8>, String> {
        let answer = self.net.send(&req).map_err(|e| e.to_string())?;
        if answer.status == 200 {
            return Ok(answer.body);
        }
        Err(refusal(answer.status, &answer.body, what))
    }

    /// The key's latest version and that version's public key.
    fn read_key(&self, mount: &str, key: &str) -> Result<(u64, PublicKey), String> {
        let path = format!("{mount}/keys/{key}");
        let req = self.request("GET", &path, format!("Vault GET {path}"));
        let body = self.call(req, &format!("reading {path}"))?;
        let info = parse_key(&body).map_err(|r| format!("{path}: {r}"))?;
        Ok((info.version, info.public))
    }

    fn login(&self, mount: &str, role: &str, jwt: &str) -> Result<Zeroizing<String>, String> {
        let path = format!("auth/{mount}/login");
        let body = Zeroizing::new(serde_json::json!({"role": role, "jwt": jwt}).to_string());
        let req = self
            .request("POST", &path, format!("Vault JWT login at {path}"))
            .header("Content-Type", "application/json")
            .body(body.as_bytes());
        let answer =
            Zeroizing::new(self.call(req, &format!("JWT login at {path} as role {role:?}"))?);
        parse_login(&answer).map_err(|r| format!("JWT login at {path}: {r}"))
    }
}

/// One line for a non-200 answer: the status, Vault's own `errors`, and a hint for the usual
/// causes.
fn refusal(status: u16, body: &[u8], what: &str) -> String {
    let errors = vault_errors(body);
    let hint = match status {
        403 => ": the token is not valid, or its policy does not allow this",
        404 if errors.is_empty() => ": no such key",
        404 => ": no such mount or key",
        _ => "",
    };
    let said = if errors.is_empty() {
        String::new()
    } else {
        format!(" ({errors})")
    };
    format!("{what}: Vault answered HTTP {status}{said}{hint}")
}

/// Vault's `{"errors": [...]}`, joined, on one line and short; empty when there are none.
pub fn vault_errors(body: &[u8]) -> String {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return if body.is_empty() {
            String::new()
        } else {
            crate::transparency::quote(body)
        };
    };
    let joined = v
        .get("errors")
        .and_then(Value::as_array)
        .map(|errors| {
            errors
                .iter()
                .filter_map(Value::as_str)
                .map(|e| e.split_whitespace().collect::<Vec<_>>().join(" "))
                .filter(|e| !e.is_empty())
                .collect::<Vec<_>>()
                .join("; ")
        })
        .unwrap_or_default();
    if joined.is_empty() {
        String::new()
    } else {
        crate::transparency::quote(joined.as_bytes())
    }
}

/// A secret must never reach an error, whatever a server echoes back.
fn scrub(message: String, secret: &str) -> String {
    if secret.len() >= 4 && message.contains(secret) {
        message.replace(secret, "[redacted]")
    } else {
        message
    }
}

/// What a transit key read gives: the version to sign with and its public key.
#[derive(Debug)]
pub struct KeyInfo {
    pub version: u64,
    pub public: PublicKey,
}

/// Reads `GET /v1/<mount>/keys/KEY`: `data.latest_version` and that version's `public_key`.
pub fn parse_key(body: &[u8]) -> Result<KeyInfo, String> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| format!("the answer is not JSON: {e}"))?;
    let data = v.get("data").ok_or("the answer has no data")?;
    let kind = data.get("type").and_then(Value::as_str).unwrap_or("");
    if data.get("supports_signing").and_then(Value::as_bool) == Some(false) {
        return Err(format!(
            "the key is of type {}, which does not sign",
            if kind.is_empty() { "unknown" } else { kind }
        ));
    }
    let version = data
        .get("latest_version")
        .and_then(Value::as_u64)
        .filter(|&v| v > 0)
        .ok_or("the answer has no latest_version")?;
    let entry = data
        .get("keys")
        .and_then(|k| k.get(version.to_string()))
        .ok_or(format!("the answer has no version {version} under keys"))?;
    if kind == "ed25519" || entry.get("name").and_then(Value::as_str) == Some("ed25519") {
        return Err(
            "the key is ed25519, which Vault uses to sign messages, not the SHA-256 \
                    digests Chains sends; use an ecdsa-p256, ecdsa-p384 or rsa key"
                .into(),
        );
    }
    let pem = entry
        .get("public_key")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
        .ok_or(format!("version {version} has no public_key"))?;
    let public = PublicKey::from_pem(pem).map_err(|e| format!("version {version}: {e}"))?;
    Ok(KeyInfo { version, public })
}

/// Reads `POST /v1/<mount>/sign/KEY/...`: `data.signature`, `vault:v<N>:<base64>`, which must
/// be of `version`.
pub fn parse_signature(body: &[u8], version: u64) -> Result<Vec<u8>, String> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| format!("the answer is not JSON: {e}"))?;
    let data = v.get("data").ok_or("the answer has no data")?;
    let text = data
        .get("signature")
        .and_then(Value::as_str)
        .ok_or("the answer has no signature")?;
    let (signed_with, sig) = split_signature(text)?;
    if signed_with != version {
        return Err(format!(
            "Vault signed with key version {signed_with}, not version {version} whose public key was read"
        ));
    }
    if let Some(n) = data.get("key_version")
        && n.as_u64() != Some(version)
    {
        return Err(format!(
            "Vault says it signed with key_version {n}, not version {version}"
        ));
    }
    Ok(sig)
}

/// `vault:v<N>:<base64>` → (N, the bytes).
pub fn split_signature(text: &str) -> Result<(u64, Vec<u8>), String> {
    let bad = || "the signature is not vault:v<N>:<base64>".to_owned();
    let rest = text.strip_prefix("vault:v").ok_or_else(bad)?;
    let (n, b64) = rest.split_once(':').ok_or_else(bad)?;
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u64 = n.parse().map_err(|_| bad())?;
    let sig = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| "the signature is not base64".to_owned())?;
    if sig.is_empty() {
        return Err("the signature is empty".into());
    }
    Ok((n, sig))
}

/// Reads a login answer: `auth.client_token`.
pub fn parse_login(body: &[u8]) -> Result<Zeroizing<String>, String> {
    let v: Value = serde_json::from_slice(body).map_err(|_| "the answer is not JSON")?;
    let token = v
        .get("auth")
        .and_then(|a| a.get("client_token"))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or("the answer has no auth.client_token")?;
    if token.chars().any(|c| c.is_control() || c == ' ') {
        return Err("the answer's token is not one word".into());
    }
    Ok(Zeroizing::new(token.to_owned()))
}

/// A transit key version that signs digests.
struct TransitKey {
    vault: Vault,
    mount: String,
    key: String,
    version: u64,
    rsa: bool,
    /// Kept to scrub it from anything the server echoes.
    token: Zeroizing<String>,
}

impl DigestSign for TransitKey {
    fn sign_digest(&self, digest: &[u8], hash: Hash) -> Result<Vec<u8>, String> {
        let path = format!("{}/sign/{}/{}", self.mount, self.key, hash.name());
        let mut body = serde_json::json!({
            "input": base64::engine::general_purpose::STANDARD.encode(digest),
            "prehashed": true,
            "key_version": self.version,
        });
        if self.rsa {
            body["signature_algorithm"] = "pkcs1v15".into();
        }
        let body = body.to_string();
        let req = self
            .vault
            .request("POST", &path, format!("Vault POST {path}"))
            .header("Content-Type", "application/json")
            .body(body.as_bytes());
        let answer = self
            .vault
            .call(req, &format!("signing with version {}", self.version))
            .map_err(|r| scrub(r, &self.token))?;
        parse_signature(&answer, self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P256_PEM: &str = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEkUQNaDFUj3bZAT5INm/fuV/SqXzL\n1y5mAbIqSfUALhp1rok/s2MibMDPy/llL33l2kY6Jzby4Jo9x3vhlrTm4w==\n-----END PUBLIC KEY-----\n";

    fn key_answer(latest: u64, versions: &[u64]) -> Vec<u8> {
        let keys: serde_json::Map<String, Value> = versions
            .iter()
            .map(|v| {
                (
                    v.to_string(),
                    serde_json::json!({"name": "P-256", "public_key": P256_PEM}),
                )
            })
            .collect();
        serde_json::json!({"data": {"type": "ecdsa-p256", "supports_signing": true,
            "latest_version": latest, "keys": keys}})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn a_key_read_gives_the_latest_version_and_its_public_key() {
        let info = parse_key(&key_answer(2, &[1, 2])).unwrap();
        assert_eq!(info.version, 2);
        assert_eq!(info.public.kind, KeyKind::EcdsaP256);
        let e = parse_key(&key_answer(3, &[1, 2])).unwrap_err();
        assert!(e.contains("no version 3"), "{e}");
    }

    #[test]
    fn keys_that_cannot_sign_a_digest_are_refused_with_what_they_are() {
        let aes = br#"{"data":{"type":"aes256-gcm96","supports_signing":false,"latest_version":1,"keys":{"1":1700000000}}}"#;
        assert!(parse_key(aes).unwrap_err().contains("aes256-gcm96"));
        let ed = br#"{"data":{"type":"ed25519","latest_version":1,"keys":{"1":{"name":"ed25519","public_key":"ZBk7LpE73SMx9Bpm/wNFlUqy/VagDuCry/yNv4kYS2o="}}}}"#;
        assert!(parse_key(ed).unwrap_err().contains("ed25519"));
        assert!(parse_key(b"not json").is_err());
        assert!(parse_key(br#"{"data":{"latest_version":1,"keys":{"1":{}}}}"#).is_err());
    }

    #[test]
    fn a_signature_must_be_of_the_version_read() {
        let body = br#"{"data":{"key_version":1,"signature":"vault:v1:MEUCIQ=="}}"#;
        assert_eq!(
            parse_signature(body, 1).unwrap(),
            vec![0x30, 0x45, 0x02, 0x21]
        );
        let e = parse_signature(body, 2).unwrap_err();
        assert!(e.contains("version 1, not version 2"), "{e}");
        for bad in [
            "vault:v1:",
            "vault:v:AA==",
            "vault:vx:AA==",
            "v1:AA==",
            "vault:v1:!!",
            "vault:v99999999999999999999999:AA==",
        ] {
            assert!(split_signature(bad).is_err(), "{bad}");
        }
        let lying = br#"{"data":{"key_version":3,"signature":"vault:v1:AA=="}}"#;
        assert!(parse_signature(lying, 1).is_err());
    }

    #[test]
    fn a_login_gives_the_client_token() {
        let t = parse_login(br#"{"auth":{"client_token":"s.abc","policies":["sign"]}}"#).unwrap();
        assert_eq!(t.as_str(), "s.abc");
        assert!(parse_login(br#"{"auth":null,"errors":[]}"#).is_err());
        assert!(parse_login(br#"{"auth":{"client_token":"a b"}}"#).is_err());
    }

    #[test]
    fn addresses_are_read_as_chains_reads_them() {
        let a = parse_address("http://vault.vault.svc:8200").unwrap();
        assert_eq!(a.base, "http://vault.vault.svc:8200");
        assert_eq!(a.origin.scheme, Scheme::Http);
        assert_eq!(
            parse_address("https://vault.example/").unwrap().base,
            "https://vault.example:443"
        );
        assert_eq!(
            parse_address("http://vault").unwrap().base,
            "http://vault:80"
        );
        assert_eq!(
            parse_address("vault:8200").unwrap().base,
            "http://vault:8200"
        );
        assert_eq!(
            parse_address("https://proxy.example/vault/").unwrap().base,
            "https://proxy.example:443/vault"
        );
        for bad in [
            "ftp://vault",
            "http://vault?x=1",
            "http://",
            "http://v/../x",
            "http://a b",
        ] {
            assert!(parse_address(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn key_names_and_mounts_are_single_safe_path_parts() {
        for ok in ["release", "a", "my-key.v2", "k_1"] {
            check_key_name(ok).unwrap();
        }
        for bad in ["", "-a", "a-", "a/b", "../x", "a?b", "ключ", "a b"] {
            assert!(check_key_name(bad).is_err(), "{bad}");
        }
        assert_eq!(check_mount("/transit/").unwrap(), "transit");
        assert_eq!(
            check_mount("auth-k8s/cluster-1").unwrap(),
            "auth-k8s/cluster-1"
        );
        for bad in ["", "/", "a//b", "../x", "a/./b", "a?b"] {
            assert!(check_mount(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn refusals_quote_vault_on_one_line_and_never_a_secret() {
        let e = refusal(
            403,
            br#"{"errors":["permission denied"]}"#,
            "reading transit/keys/k",
        );
        assert_eq!(
            e,
            "reading transit/keys/k: Vault answered HTTP 403 (permission denied): the token is not valid, or its policy does not allow this"
        );
        let e = refusal(
            400,
            b"{\"errors\":[\"1 error occurred:\\n\\t* bad\\n\\n\"]}",
            "x",
        );
        assert!(
            !e.contains('\n') && e.contains("1 error occurred: * bad"),
            "{e}"
        );
        assert_eq!(
            refusal(404, br#"{"errors":[]}"#, "r"),
            "r: Vault answered HTTP 404: no such key"
        );
        assert_eq!(
            scrub("token hvs.s3cr3t refused".into(), "hvs.s3cr3t"),
            "token [redacted] refused"
        );
    }
}
