//! AWS answers and references: STS's `AssumeRoleWithWebIdentity` XML and the container
//! credentials endpoint's JSON (`cloud::aws`), KMS's JSON answers (`cloud::aws::JsonAnswer`,
//! then `GetPublicKey` and `Sign` as `signing::kms::awskms` reads them), and `awskms://`
//! references. Any bytes give a value or an error, never a panic, and no error is multi-line.

use proptest::prelude::*;
use serde_json::json;

use chainlet::cloud::aws::{JsonAnswer, parse_container_answer, parse_sts_answer, xml_text};
use chainlet::signing::kms::awskms;

use crate::support::{self, any_bytes, byte_edit, edit_bytes, near_json, near_str};

const STS_OK: &str = r#"<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>ASIAEXAMPLE</AccessKeyId><SecretAccessKey>wJal/r+x</SecretAccessKey><SessionToken>IQo&amp;b3&#x4A;</SessionToken><Expiration>2026-12-02T02:00:00Z</Expiration></Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>"#;
const STS_ERROR: &str = r#"<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code><Message>No OpenIDConnect provider &lt;x&gt;</Message></Error></ErrorResponse>"#;

const REFERENCES: &[&str] = &[
    "/1234abcd-12ab-34cd-56ef-1234567890ab",
    "localhost:4566/mrk-1234abcd12ab34cd56ef1234567890ab",
    "/arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "/alias/release",
    "kms.example:443/arn:aws-us-gov:kms:us-gov-west-1:111122223333:alias/release",
];

fn xml(edits: Vec<support::ByteEdit>) -> Vec<u8> {
    edits.iter().fold(
        if edits.len().is_multiple_of(2) {
            STS_OK
        } else {
            STS_ERROR
        }
        .as_bytes()
        .to_vec(),
        edit_bytes,
    )
}

fn public_key_answer() -> serde_json::Value {
    json!({
        "KeyId": "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "PublicKey": "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEPNBJ5r3N9ICsVoTVV+6mKsm3Z1nhlGh3rmLpDfmE9zU4CIl6CJPCzSmN9Ms6xjkmzPKGOVxG9yC1cO2Q3lvnXA==",
        "KeySpec": "ECC_NIST_P256",
        "KeyUsage": "SIGN_VERIFY",
        "SigningAlgorithms": ["ECDSA_SHA_256"]
    })
}

proptest! {
    #![proptest_config(support::cases(256))]

    #[test]
    fn sts_answers_never_panic(
        status in prop_oneof![Just(200u16), Just(400u16), 100u16..600],
        body in prop_oneof![any_bytes(), prop::collection::vec(byte_edit(), 0..6).prop_map(xml)],
    ) {
        if let Err(e) = parse_sts_answer(status, &body) {
            prop_assert!(!e.contains('\n'), "{}", e);
        }
        if let Ok(doc) = std::str::from_utf8(&body) {
            let _ = xml_text(doc, "Code");
        }
    }

    #[test]
    fn container_credential_answers_never_panic(
        status in prop_oneof![Just(200u16), Just(403u16), 100u16..600],
        body in prop_oneof![
            any_bytes(),
            near_json(json!({"AccessKeyId": "ASIA", "SecretAccessKey": "s", "Token": "t",
                             "Expiration": "2026-12-02T02:00:00Z"}), &[]),
            near_json(json!({"code": "AccessDenied", "message": "no"}), &[]),
        ],
    ) {
        if let Err(e) = parse_container_answer(status, &body) {
            prop_assert!(!e.contains('\n'), "{}", e);
        }
    }

    #[test]
    fn kms_answers_never_panic(
        status in prop_oneof![Just(200u16), Just(400u16), 100u16..600],
        body in prop_oneof![
            any_bytes(),
            near_json(public_key_answer(), &[]),
            near_json(json!({"Signature": "MEUCIQ==", "SigningAlgorithm": "ECDSA_SHA_256"}), &[]),
            near_json(json!({"__type": "com.amazonaws.kms#NotFoundException", "message": "x"}), &[]),
        ],
    ) {
        let a = JsonAnswer::read(status, &body);
        prop_assert_eq!(a.error_type.is_none(), status == 200);
        prop_assert!(!a.describe("Sign").contains('\n'));
        if let Err(e) = awskms::read_public_key(&a.body) {
            prop_assert!(!e.contains('\n'), "{}", e);
        }
        let _ = awskms::read_signature(&a.body);
    }

    #[test]
    fn awskms_references_parse_or_fail_without_panicking(raw in near_str(REFERENCES)) {
        match awskms::parse(&raw) {
            Ok(r) => prop_assert!(!r.key_id.is_empty()),
            Err(e) => prop_assert!(!e.contains('\n')),
        }
    }
}

#[test]
fn the_real_shapes_parse() {
    assert!(parse_sts_answer(200, STS_OK.as_bytes()).is_ok());
    assert!(awskms::read_public_key(&public_key_answer()).is_ok());
    for r in REFERENCES {
        assert!(awskms::parse(r).is_ok(), "{r}");
    }
}
