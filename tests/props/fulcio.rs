//! Keyless signing's parsers of untrusted input (`signing::fulcio`): identity tokens, Fulcio's
//! answer, SCT lists and TBSCertificates give a value or an error, never a panic.

use base64::Engine as _;
use proptest::prelude::*;

use chainlet::signing::fulcio;

use crate::support::any_bytes;

const URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

proptest! {
    #[test]
    fn tokens_never_panic(header in any_bytes(), payload in any_bytes(), now in any::<u64>()) {
        let token = format!("{}.{}.sig", URL.encode(&header), URL.encode(&payload));
        let _ = fulcio::claims(&token, "t", now);
    }

    #[test]
    fn claims_of_any_json_never_panic(
        iss in proptest::option::of(".{0,8}"),
        sub in proptest::option::of(".{0,8}"),
        email in proptest::option::of(".{0,8}"),
        verified in proptest::option::of(any::<bool>()),
        aud in prop_oneof![Just(serde_json::json!("sigstore")), Just(serde_json::json!(["x", "sigstore"])), Just(serde_json::json!(7))],
        exp in prop_oneof![Just(serde_json::json!(null)), any::<f64>().prop_map(|f| serde_json::json!(f)), any::<i64>().prop_map(|i| serde_json::json!(i))],
        now in any::<u64>(),
    ) {
        let claims = serde_json::json!({"iss": iss, "sub": sub, "email": email, "email_verified": verified, "aud": aud, "exp": exp});
        let token = format!("e30.{}.sig", URL.encode(claims.to_string()));
        if let Ok(c) = fulcio::claims(&token, "t", now) {
            prop_assert!(!c.subject.is_empty());
        }
    }

    #[test]
    fn fulcio_answers_never_panic(body in any_bytes(), pem in ".{0,64}") {
        let _ = fulcio::parse_response(&body);
        let wrapped = serde_json::json!({"signedCertificateEmbeddedSct": {"chain": {"certificates": [
            format!("-----BEGIN CERTIFICATE-----\n{pem}\n-----END CERTIFICATE-----\n")
        ]}}});
        let _ = fulcio::parse_response(wrapped.to_string().as_bytes());
    }

    #[test]
    fn sct_lists_and_tbs_never_panic(bytes in any_bytes()) {
        let _ = fulcio::parse_sct_list(&bytes);
        let mut octets = vec![0x04, bytes.len().min(127) as u8];
        octets.extend_from_slice(&bytes[..bytes.len().min(127)]);
        let _ = fulcio::parse_sct_list(&octets);
        let _ = fulcio::precert_tbs(&bytes);
    }
}
