//! What a Rekor v2 log and a timestamp authority send back: the `TransparencyLogEntry` JSON
//! (`transparency::rekor_v2::parse_entry`, then `check_entry` against the entry sent and the
//! log's key) and the authority's PEM chain (`rekor_v2::pem_chain`). Arbitrary bytes and
//! near-misses of a valid answer: a value or an error, never a panic; and a changed answer is
//! never accepted as a different entry than the one sent.

use base64::Engine as _;
use p256::ecdsa::signature::Signer as _;
use p256::pkcs8::EncodePublicKey as _;
use proptest::prelude::*;

use chainlet::transparency::proof::{self, LogKey};
use chainlet::transparency::rekor_v2::{self, EntryRequest, Verifier};

use crate::support::{self, any_string, near_json};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const ORIGIN: &str = "rekor.example";

fn request() -> EntryRequest {
    EntryRequest {
        digest: vec![0xd1; 32],
        signature: vec![0x30, 0x06, 1, 2, 3, 4, 5, 6],
        verifier: Verifier::PublicKey(vec![0x30, 0x59, 7]),
        key_details: "PKIX_ECDSA_P256_SHA_256",
    }
}

fn key() -> (p256::ecdsa::SigningKey, LogKey) {
    let sk = p256::ecdsa::SigningKey::from_slice(&[5u8; 32]).unwrap();
    let der = sk.verifying_key().to_public_key_der().unwrap();
    let key = LogKey::from_der(der.as_bytes()).unwrap();
    (sk, key)
}

/// The answer of a one-entry log for [`request`].
fn answer() -> serde_json::Value {
    let (sk, key) = key();
    let body = serde_json::to_vec(&request().expected_body()).unwrap();
    let root = proof::leaf_hash(&body);
    let note = format!("{ORIGIN}\n1\n{}\n", B64.encode(root));
    let sig: p256::ecdsa::Signature = sk.sign(note.as_bytes());
    let mut line = key.note_key_id(ORIGIN)[..4].to_vec();
    line.extend_from_slice(sig.to_der().as_bytes());
    serde_json::json!({
        "logIndex": "0",
        "logId": {"keyId": B64.encode(key.log_id())},
        "kindVersion": {"kind": "hashedrekord", "version": "0.0.2"},
        "integratedTime": "0",
        "inclusionProof": {"logIndex": "0", "rootHash": B64.encode(root), "treeSize": "1",
                           "hashes": [], "checkpoint": {"envelope":
                               format!("{note}\n\u{2014} {ORIGIN} {}\n", B64.encode(line))}},
        "canonicalizedBody": B64.encode(&body),
    })
}

#[test]
fn the_seed_answer_checks() {
    let (_, key) = key();
    let parsed = rekor_v2::parse_entry(&serde_json::to_vec(&answer()).unwrap()).unwrap();
    rekor_v2::check_entry(parsed, &request(), &key, ORIGIN, "https://rekor.example").unwrap();
}

proptest! {
    #![proptest_config(support::cases(256))]

    /// A 409 answer of any shape: an index or `None`, never a panic; the index is the one named.
    #[test]
    fn a_409_answer_names_an_index_or_none(bytes in proptest::collection::vec(any::<u8>(), 0..256),
                                           prefix in any_string(), n in any::<u64>()) {
        let _ = rekor_v2::existing_index(&bytes);
        let named = serde_json::json!({"code": 6, "message": format!("{prefix} with index {n}")});
        prop_assert_eq!(rekor_v2::existing_index(named.to_string().as_bytes()), Some(n));
    }

    /// An answer parses or is refused; one that checks is for the entry that was sent.
    #[test]
    fn log_answers_parse_and_check_or_fail(
        body in prop_oneof![
            3 => near_json(answer(), &[]),
            1 => support::any_bytes(),
        ],
    ) {
        let (_, key) = key();
        if let Ok(parsed) = rekor_v2::parse_entry(&body)
            && let Ok(entry) = rekor_v2::check_entry(parsed, &request(), &key, ORIGIN, "u")
        {
            let sent: serde_json::Value = request().expected_body();
            let logged: serde_json::Value = serde_json::from_slice(&entry.body).unwrap();
            prop_assert_eq!(sent, logged);
            prop_assert!(entry.inclusion_proof.is_some());
        }
    }

    /// A certificate chain is DER certificates or an error.
    #[test]
    fn pem_chains_parse_or_fail(
        text in prop_oneof![
            any_string(),
            any_string().prop_map(|s| format!("-----BEGIN CERTIFICATE-----\n{s}\n-----END CERTIFICATE-----\n")),
            any_string().prop_map(|s| format!("-----BEGIN {s}-----\nAQ==\n-----END CERTIFICATE-----")),
        ],
    ) {
        if let Ok(chain) = rekor_v2::pem_chain(&text) {
            prop_assert!(!chain.is_empty());
        }
    }
}
