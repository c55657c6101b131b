//! `awskms://`: a key in AWS KMS, through its JSON API (`X-Amz-Target: TrentService.*`) signed
//! with SigV4 ([`crate::cloud::aws`]).
//!
//! References are the forms sigstore's AWS client reads, an optional endpoint between `//`
//! and the next `/`, then the key: a key id (`1234abcd-12ab-34cd-56ef-1234567890ab`, or a
//! multi-Region `mrk-…`), a key ARN (`arn:aws:kms:REGION:ACCOUNT:key/ID`), an alias
//! (`alias/NAME`) or an alias ARN (`arn:aws:kms:REGION:ACCOUNT:alias/NAME`).
//!
//! The region is the ARN's, else `AWS_REGION`, else `AWS_DEFAULT_REGION`. The endpoint is the
//! reference's (`https://HOST/`, as sigstore's client builds it), else `AWS_ENDPOINT_URL_KMS`
//! or `AWS_ENDPOINT_URL` (plain HTTP allowed there: the user wrote it), else the region's.
//!
//! Opening reads the public key (`GetPublicKey`: DER SubjectPublicKeyInfo, `KeySpec`,
//! `SigningAlgorithms`) and picks the algorithm from the key spec as sigstore does (the first
//! the key lists, which AWS orders PKCS#1 v1.5 first for RSA): `ECDSA_SHA_256` for
//! `ECC_NIST_P256`, `ECDSA_SHA_384` for `ECC_NIST_P384` (messages are hashed with SHA-384),
//! `RSASSA_PKCS1_V1_5_SHA_256` for `RSA_2048/3072/4096`. Each signature is one `Sign` of the
//! digest (`MessageType: DIGEST`) with the key ARN `GetPublicKey` named, so every signature
//! comes from the key whose public key was read even if the alias moves during the run.

use std::sync::Arc;

use base64::Engine as _;
use serde_json::json;

use super::{KmsContext, Provider};
use crate::cloud::aws::{self, JsonService};
use crate::signing::remote::{DigestSign, Hash, KeyKind, PublicKey, RemoteSigner};
use crate::signing::{Signer, SigningError};

pub const PROVIDER: Provider = Provider {
    scheme: "awskms",
    shape: "awskms:///KEY-ID, awskms:///alias/NAME or awskms:///arn:aws:kms:REGION:ACCOUNT:key/KEY-ID \
            (awskms://HOST[:PORT]/… for another endpoint)",
    check: |key| parse(key).map(|_| ()),
    open,
};

/// A reference, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference<'a> {
    /// `host[:port]` between `awskms://` and the key, when given.
    pub endpoint: Option<&'a str>,
    /// What KMS calls the `KeyId`: the id, ARN or alias as written.
    pub key_id: &'a str,
    /// An ARN's region.
    pub region: Option<&'a str>,
}

/// Reads the part of a reference after `awskms://`, with sigstore's rules for each form.
pub fn parse(key: &str) -> Result<Reference<'_>, String> {
    const FORMS: &str = "expected awskms://[ENDPOINT]/KEY where KEY is a key id, a key ARN \
                         (arn:aws:kms:REGION:ACCOUNT:key/ID), alias/NAME or an alias ARN";
    let Some((host, key_id)) = key.split_once('/') else {
        return Err(format!("no / before the key; {FORMS}"));
    };
    let endpoint = (!host.is_empty()).then_some(host);
    if let Some(rest) = key_id.strip_prefix("arn:") {
        let (region, resource) = arn(rest).ok_or_else(|| format!("not a KMS ARN; {FORMS}"))?;
        let ok = match resource.split_once('/') {
            Some(("key", id)) => is_key_id(id),
            Some(("alias", _)) => true,
            _ => false,
        };
        if !ok {
            return Err(format!(
                "the ARN names neither key/ID nor alias/NAME; {FORMS}"
            ));
        }
        return Ok(Reference {
            endpoint,
            key_id,
            region: Some(region),
        });
    }
    if key_id.starts_with("alias/") || is_key_id(key_id) {
        return Ok(Reference {
            endpoint,
            key_id,
            region: None,
        });
    }
    Err(format!("{key_id:?} is not a key id, ARN or alias; {FORMS}"))
}

/// `aws|aws-us-gov:kms:REGION:ACCOUNT:RESOURCE` → (region, resource).
fn arn(rest: &str) -> Option<(&str, &str)> {
    let mut parts = rest.splitn(5, ':');
    let partition = parts.next()?;
    let service = parts.next()?;
    let region = parts.next()?;
    let account = parts.next()?;
    let resource = parts.next()?;
    let region_ok = !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let account_ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    (matches!(partition, "aws" | "aws-us-gov") && service == "kms" && region_ok && account_ok)
        .then_some((region, resource))
}

/// A key id as sigstore matches it: an optional `mrk-` (multi-Region key), then 8-4-4-4-12 hex
/// digits whose dashes may be left out.
fn is_key_id(id: &str) -> bool {
    let mut rest = id.strip_prefix("mrk-").unwrap_or(id);
    for (i, len) in [8, 4, 4, 4, 12].into_iter().enumerate() {
        if i > 0 {
            rest = rest.strip_prefix('-').unwrap_or(rest);
        }
        match rest.get(..len) {
            Some(group) if group.bytes().all(|b| b.is_ascii_hexdigit()) => rest = &rest[len..],
            _ => return false,
        }
    }
    rest.is_empty()
}

/// What a key's spec means for signing with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Algorithm {
    /// KMS's name, sent with every `Sign`.
    pub name: &'static str,
    pub hash: Hash,
}

/// The signing algorithm of a key spec, checked against what the key lists.
pub fn algorithm(key_spec: &str, listed: &[&str]) -> Result<Algorithm, String> {
    let (name, hash) = match key_spec {
        "ECC_NIST_P256" => ("ECDSA_SHA_256", Hash::Sha256),
        "ECC_NIST_P384" => ("ECDSA_SHA_384", Hash::Sha384),
        "RSA_2048" | "RSA_3072" | "RSA_4096" => ("RSASSA_PKCS1_V1_5_SHA_256", Hash::Sha256),
        other => {
            return Err(format!(
                "the key spec is {other:?}; chainlet signs with ECC_NIST_P256, ECC_NIST_P384 or RSA_2048/3072/4096 keys"
            ));
        }
    };
    if !listed.is_empty() && !listed.contains(&name) {
        return Err(format!(
            "the {key_spec} key does not sign with {name} (it lists {:?})",
            listed
        ));
    }
    Ok(Algorithm { name, hash })
}

/// `GetPublicKey`'s answer, as far as signing goes.
#[derive(Debug)]
pub struct KeyInfo {
    /// The key's ARN (or the id as the service names it).
    pub key_id: Option<String>,
    pub public: PublicKey,
    pub algorithm: Algorithm,
}

/// Reads a `GetPublicKey` answer: the public key must parse, be a signing key and be the kind
/// its `KeySpec` says.
pub fn read_public_key(body: &serde_json::Value) -> Result<KeyInfo, String> {
    let usage = body["KeyUsage"].as_str().unwrap_or("SIGN_VERIFY");
    if usage != "SIGN_VERIFY" {
        return Err(format!(
            "the key's usage is {usage:?}, not SIGN_VERIFY: it cannot sign"
        ));
    }
    let spec = body["KeySpec"]
        .as_str()
        .or_else(|| body["CustomerMasterKeySpec"].as_str())
        .ok_or("GetPublicKey answered without a KeySpec")?;
    let listed: Vec<&str> = body["SigningAlgorithms"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    let algorithm = algorithm(spec, &listed)?;
    let der = body["PublicKey"]
        .as_str()
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .ok_or("GetPublicKey answered without a base64 PublicKey")?;
    let public = PublicKey::from_spki_der(&der)?;
    let matches = match (spec, public.kind) {
        ("ECC_NIST_P256", KeyKind::EcdsaP256) | ("ECC_NIST_P384", KeyKind::EcdsaP384) => true,
        (s, KeyKind::Rsa { bits }) => s == format!("RSA_{bits}"),
        _ => false,
    };
    if !matches {
        return Err(format!(
            "the key spec is {spec:?} but the public key is {}",
            public.kind.name()
        ));
    }
    Ok(KeyInfo {
        key_id: body["KeyId"]
            .as_str()
            .filter(|k| !k.is_empty())
            .map(str::to_owned),
        public,
        algorithm,
    })
}

/// Reads a `Sign` answer: the signature's bytes.
pub fn read_signature(body: &serde_json::Value) -> Result<Vec<u8>, String> {
    body["Signature"]
        .as_str()
        .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| "Sign answered without a base64 Signature".into())
}

fn open(ctx: &KmsContext<'_>) -> Result<Arc<dyn Signer>, SigningError> {
    let r = parse(ctx.key).map_err(|m| ctx.error(m))?;
    let region = r
        .region
        .map(str::to_owned)
        .or_else(|| ctx.var("AWS_REGION"))
        .or_else(|| ctx.var("AWS_DEFAULT_REGION"))
        .ok_or_else(|| ctx.error("no region: use a key ARN or set AWS_REGION"))?;
    let over = match r.endpoint {
        Some(host) => Some(format!("https://{host}/")),
        None => ctx
            .var("AWS_ENDPOINT_URL_KMS")
            .or_else(|| ctx.var("AWS_ENDPOINT_URL")),
    };
    let endpoint = aws::endpoint(over, "kms", Some(&region)).map_err(|m| ctx.error(m))?;
    let env = |name: &str| ctx.var(name);
    let connect = |plain| ctx.transport(plain);
    let creds =
        aws::credentials(&env, Some(&region), &connect).map_err(|e| ctx.error(e.to_string()))?;
    let net = ctx.transport(endpoint.plain_http.clone());
    let kms = JsonService {
        endpoint,
        region,
        service: "kms",
        content_type: "application/x-amz-json-1.1",
        target_prefix: "TrentService",
        creds,
        net,
    };
    let answer = kms
        .call("GetPublicKey", &json!({ "KeyId": r.key_id }))
        .map_err(|e| ctx.error(e.to_string()))?;
    if answer.error_type.is_some() {
        return Err(ctx.error(answer.describe("GetPublicKey")));
    }
    let info = read_public_key(&answer.body).map_err(|m| ctx.error(m))?;
    // Sign with the ARN the service resolved (an alias can be moved mid-run); a service that
    // names no ARN is asked with the reference's key id.
    let key_id = info
        .key_id
        .filter(|k| k.starts_with("arn:"))
        .unwrap_or_else(|| r.key_id.to_owned());
    tracing::debug!(reference = ctx.reference, key = %key_id, algorithm = info.algorithm.name, "AWS KMS key");
    let signer = RemoteSigner::new(
        ctx.reference,
        info.public,
        info.algorithm.hash,
        Box::new(AwsKey {
            kms,
            key_id,
            algorithm: info.algorithm,
        }),
    )?;
    Ok(Arc::new(signer))
}

struct AwsKey {
    kms: JsonService,
    key_id: String,
    algorithm: Algorithm,
}

impl DigestSign for AwsKey {
    fn sign_digest(&self, digest: &[u8], hash: Hash) -> Result<Vec<u8>, String> {
        if hash != self.algorithm.hash {
            return Err(format!(
                "a {} digest for {}, which signs {}",
                hash.name(),
                self.algorithm.name,
                self.algorithm.hash.name()
            ));
        }
        let answer = self
            .kms
            .call(
                "Sign",
                &json!({
                    "KeyId": self.key_id,
                    "Message": base64::engine::general_purpose::STANDARD.encode(digest),
                    "MessageType": "DIGEST",
                    "SigningAlgorithm": self.algorithm.name,
                }),
            )
            .map_err(|e| e.to_string())?;
        if answer.error_type.is_some() {
            return Err(answer.describe("Sign"));
        }
        read_signature(&answer.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

    #[test]
    fn the_reference_forms_sigstore_reads() {
        let key = format!("/{ID}");
        let r = parse(&key).unwrap();
        assert_eq!((r.endpoint, r.key_id, r.region), (None, ID, None));
        let key = format!("localhost:4566/{ID}");
        assert_eq!(parse(&key).unwrap().endpoint, Some("localhost:4566"));
        let arn = format!("arn:aws:kms:us-east-2:111122223333:key/{ID}");
        let key = format!("/{arn}");
        let r = parse(&key).unwrap();
        assert_eq!((r.key_id, r.region), (arn.as_str(), Some("us-east-2")));
        let r = parse("/alias/ExampleAlias").unwrap();
        assert_eq!((r.key_id, r.region), ("alias/ExampleAlias", None));
        let alias_arn = "arn:aws-us-gov:kms:us-gov-west-1:111122223333:alias/release";
        let key = format!("kms.example:443/{alias_arn}");
        assert_eq!(parse(&key).unwrap().region, Some("us-gov-west-1"));
        assert!(parse("/mrk-1234abcd12ab34cd56ef1234567890ab").is_ok());
        assert!(parse("/1234abcd12ab34cd56ef1234567890ab").is_ok());
        for bad in [
            ID,
            "/my-key",
            "/1234abcd-12ab-34cd-56ef-1234567890a",
            "/arn:aws:kms:us-east-2:1111:key/x",
            &format!("/arn:aws-cn:kms:cn-north-1:111122223333:key/{ID}"),
            "/arn:aws:kms:us-east-2:111122223333:grant/x",
            "/",
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains("awskms://[ENDPOINT]/KEY"), "{bad}: {e}");
        }
    }

    #[test]
    fn key_specs_pick_sigstores_algorithm() {
        let rsa = [
            "RSASSA_PKCS1_V1_5_SHA_256",
            "RSASSA_PKCS1_V1_5_SHA_384",
            "RSASSA_PSS_SHA_256",
        ];
        assert_eq!(
            algorithm("ECC_NIST_P384", &["ECDSA_SHA_384"]).unwrap(),
            Algorithm {
                name: "ECDSA_SHA_384",
                hash: Hash::Sha384
            }
        );
        assert_eq!(
            algorithm("RSA_3072", &rsa).unwrap().name,
            "RSASSA_PKCS1_V1_5_SHA_256"
        );
        assert_eq!(algorithm("ECC_NIST_P256", &[]).unwrap().hash, Hash::Sha256);
        let e = algorithm("ECC_SECG_P256K1", &["ECDSA_SHA_256"]).unwrap_err();
        assert!(e.contains("ECC_SECG_P256K1"), "{e}");
        let e = algorithm("RSA_2048", &["RSASSA_PSS_SHA_256"]).unwrap_err();
        assert!(
            e.contains("does not sign with RSASSA_PKCS1_V1_5_SHA_256"),
            "{e}"
        );
    }

    #[test]
    fn a_public_key_answer_must_match_its_key_spec() {
        let key = crate::signing::KeyPair::generate_p256().unwrap();
        let der = base64::engine::general_purpose::STANDARD.encode(key.public_key_der());
        let answer = |spec: &str, usage: &str| {
            json!({"KeyId": "arn:aws:kms:us-east-1:111122223333:key/k", "PublicKey": der,
                   "KeySpec": spec, "KeyUsage": usage, "SigningAlgorithms": ["ECDSA_SHA_256"]})
        };
        let info = read_public_key(&answer("ECC_NIST_P256", "SIGN_VERIFY")).unwrap();
        assert_eq!(info.public.key_id(), key.key_id());
        assert_eq!(info.algorithm.name, "ECDSA_SHA_256");
        let e = read_public_key(&answer("ECC_NIST_P384", "SIGN_VERIFY")).unwrap_err();
        assert!(e.contains("does not sign with ECDSA_SHA_384"), "{e}");
        let e = read_public_key(&answer("ECC_NIST_P256", "ENCRYPT_DECRYPT")).unwrap_err();
        assert!(e.contains("cannot sign"), "{e}");
        assert!(read_public_key(&json!({"KeySpec": "ECC_NIST_P256", "PublicKey": "!"})).is_err());
        assert!(read_signature(&json!({"Signature": ""})).is_err());
        assert_eq!(
            read_signature(&json!({"Signature": "AQI="})).unwrap(),
            vec![1, 2]
        );
    }
}
