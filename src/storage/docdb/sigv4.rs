//! AWS Signature Version 4 for one request with its headers and body, as AWS's services ask
//! for it: a canonical request, a string to sign over its hash, and an HMAC-SHA256 chain from
//! the secret key through date, region and service. Only what chainlet's AWS clients send is
//! covered: headers signed as given (names lowercased, values trimmed, inner runs of spaces
//! collapsed), a path already in its URI-encoded form, a query of already-encoded pairs.

use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

/// Static AWS credentials (from the environment). The secret and the session token never
/// appear in `Debug`.
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: Zeroizing<String>,
    pub session_token: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// What is signed.
pub struct Signable<'a> {
    pub method: &'a str,
    /// The canonical URI: the path, URI-encoded once (`/` for none).
    pub path: &'a str,
    /// `k=v` pairs joined by `&`, already encoded; sorted here.
    pub query: &'a str,
    /// Every header to sign, `host` and `x-amz-date` included.
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
    pub region: &'a str,
    pub service: &'a str,
    /// `YYYYMMDD'T'HHMMSS'Z'`, as in the `x-amz-date` header.
    pub amz_date: &'a str,
}

/// The `Authorization` header value for a request.
pub fn authorization(creds: &Credentials, req: &Signable<'_>) -> Zeroizing<String> {
    let (signed_headers, canonical) = canonical_request(req);
    let date = req.amz_date.get(..8).unwrap_or(req.amz_date);
    let scope = format!("{date}/{}/{}/aws4_request", req.region, req.service);
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{}\n{scope}\n{}",
        req.amz_date,
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let secret = Zeroizing::new(format!("AWS4{}", creds.secret_access_key.as_str()));
    let mut key = Zeroizing::new(hmac(secret.as_bytes(), date.as_bytes()));
    for part in [req.region, req.service, "aws4_request"] {
        key = Zeroizing::new(hmac(&key[..], part.as_bytes()));
    }
    let signature = hex(&hmac(&key[..], to_sign.as_bytes()));
    Zeroizing::new(format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
        creds.access_key_id
    ))
}

/// The signed header names (`a;b;c`) and the canonical request.
fn canonical_request(req: &Signable<'_>) -> (String, String) {
    let mut headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(k, v)| {
            let value = v.split_ascii_whitespace().collect::<Vec<_>>().join(" ");
            (k.to_ascii_lowercase(), value)
        })
        .collect();
    headers.sort();
    let signed: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    let signed = signed.join(";");
    let mut query: Vec<(&str, &str)> = req
        .query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect();
    query.sort();
    let query: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut canonical = format!("{}\n{}\n{}\n", req.method, req.path, query.join("&"));
    for (k, v) in &headers {
        canonical.push_str(&format!("{k}:{v}\n"));
    }
    canonical.push_str(&format!("\n{signed}\n{}", hex(&Sha256::digest(req.body))));
    (signed, canonical)
}

/// `x-amz-date` for a time: `20150830T123600Z`.
pub fn amz_date(t: std::time::SystemTime) -> String {
    // RFC 3339 `2015-08-30T12:36:00Z` with the separators taken out.
    crate::time::format_rfc3339_seconds(t).replace(['-', ':'], "")
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    crate::registry::hex(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's published SigV4 test suite: its example credentials, region and service.
    fn example() -> Credentials {
        Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: Zeroizing::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into()),
            session_token: None,
        }
    }

    fn sign(method: &str, query: &str) -> String {
        let headers = [
            ("Host", "example.amazonaws.com"),
            ("X-Amz-Date", "20150830T123600Z"),
        ];
        authorization(
            &example(),
            &Signable {
                method,
                path: "/",
                query,
                headers: &headers,
                body: b"",
                region: "us-east-1",
                service: "service",
                amz_date: "20150830T123600Z",
            },
        )
        .to_string()
    }

    #[test]
    fn matches_the_published_aws_test_suite() {
        let prefix = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=";
        // get-vanilla
        assert_eq!(
            sign("GET", ""),
            format!("{prefix}5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
        );
        // get-vanilla-query-order-key-case: the pairs are sorted before signing.
        assert_eq!(
            sign("GET", "Param2=value2&Param1=value1"),
            format!("{prefix}b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500")
        );
        // post-vanilla
        assert_eq!(
            sign("POST", ""),
            format!("{prefix}5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b")
        );
    }

    #[test]
    fn amz_date_is_the_compact_utc_form() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_440_938_160);
        assert_eq!(amz_date(t), "20150830T123600Z");
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let c = Credentials {
            session_token: Some(Zeroizing::new("TOKEN".into())),
            ..example()
        };
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("EXAMPLEKEY") && !shown.contains("TOKEN"),
            "{shown}"
        );
    }
}
