//! A Rekor v1 log's answers (`transparency::rekor_v1::parse_answer`, `check_answer`) and a
//! 409's `Location` (`entry_id_of_location`) over any bytes and near-misses of a real answer
//! (one signed by a log key made here, so that edits past the SET reach the body, proof and
//! checkpoint checks): a value or an error, never a panic. A near-miss that still checks out
//! is the entry that was sent.

use base64::Engine as _;
use p256::ecdsa::signature::Signer as _;
use p256::pkcs8::EncodePublicKey as _;
use proptest::prelude::*;
use serde_json::{Value, json};

use chainlet::signing::{self, Encoding, KeyPair, Payload};
use chainlet::transparency::Signed;
use chainlet::transparency::proof::{self, LogKey};
use chainlet::transparency::rekor_v1::{
    check_answer, entry_id_of_location, parse_answer, proposed_entry,
};

use crate::support::{self, any_bytes, any_string, near_json};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn log_key() -> (p256::ecdsa::SigningKey, LogKey) {
    let sk = p256::ecdsa::SigningKey::from_slice(&[3u8; 32]).unwrap();
    let der = sk.verifying_key().to_public_key_der().unwrap();
    (sk, LogKey::from_der(der.as_bytes()).unwrap())
}

/// Runs `f` with a signed DSSE payload and the answer a log with [`log_key`] gives for it.
fn with_answer(f: impl FnOnce(&Signed<'_>, &LogKey, Value)) {
    let kp = KeyPair::generate_p256().unwrap();
    let payload = Payload {
        bytes: br#"{"_type":"https://in-toto.io/Statement/v1"}"#.to_vec(),
        encoding: Encoding::Dsse {
            payload_type: signing::dsse::INTOTO_PAYLOAD_TYPE,
        },
    };
    let signature = signing::sign(&kp, &payload).unwrap();
    let signed = Signed {
        payload: &payload,
        signature: &signature,
        signer: &kp,
    };
    let (sk, key) = log_key();
    let body = serde_json::to_vec(&proposed_entry(&signed).unwrap()).unwrap();
    let log_id = hex(&key.log_id());
    let body_b64 = B64.encode(&body);
    let set = proof::set_payload(&body_b64, 1_700_000_000, &log_id, 5);
    let sign = |m: &[u8]| {
        let s: p256::ecdsa::Signature = sk.sign(m);
        s.to_der().as_bytes().to_vec()
    };
    let root = proof::leaf_hash(&body);
    let note = format!("rekor.test - 1\n1\n{}\n", B64.encode(root));
    let line = B64.encode([&key.log_id()[..4], &sign(note.as_bytes())[..]].concat());
    let answer = json!({ "cd".repeat(32): {
        "body": body_b64, "integratedTime": 1_700_000_000, "logID": log_id, "logIndex": 5,
        "verification": {
            "signedEntryTimestamp": B64.encode(sign(set.as_bytes())),
            "inclusionProof": {"logIndex": 0, "treeSize": 1, "hashes": [], "rootHash": hex(&root),
                               "checkpoint": format!("{note}\n\u{2014} rekor.test {line}\n")},
        },
    }});
    f(&signed, &key, answer);
}

#[test]
fn the_seed_answer_checks_out() {
    with_answer(|signed, key, answer| {
        let bytes = serde_json::to_vec(&answer).unwrap();
        let e = check_answer(&bytes, signed, key, "https://rekor.test").unwrap();
        assert_eq!(e.log_index, 5);
    });
}

proptest! {
    #![proptest_config(support::cases(256))]

    #[test]
    fn any_answer_bytes_are_an_entry_or_an_error(bytes in any_bytes()) {
        let _ = parse_answer(&bytes);
        with_answer(|signed, key, _| {
            let _ = check_answer(&bytes, signed, key, "https://rekor.test");
        });
    }

    #[test]
    fn near_misses_of_an_answer_are_an_entry_or_an_error(
        bytes in near_json(json!({ "ab".repeat(32): {
            "body": "e30=", "integratedTime": 1, "logID": "00", "logIndex": 2,
            "verification": {"signedEntryTimestamp": "AA==", "inclusionProof": {
                "logIndex": 0, "treeSize": 1, "hashes": ["00"], "rootHash": "00", "checkpoint": "c\n"}}}}), &[])
    ) {
        let _ = parse_answer(&bytes);
    }

    #[test]
    fn edits_of_a_signed_answer_are_the_entry_sent_or_an_error(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), support::json_edit()), 0..4)
    ) {
        with_answer(|signed, key, answer| {
            let doc = support::edit_json(answer, &edits, &[]);
            let bytes = serde_json::to_vec(&doc).unwrap();
            if let Ok(e) = check_answer(&bytes, signed, key, "https://rekor.test") {
                // Whatever still checks out is the entry sent, signed by this log.
                let sent = serde_json::to_vec(&proposed_entry(signed).unwrap()).unwrap();
                assert_eq!(e.body, sent);
                assert_eq!(e.log_id, hex(&key.log_id()));
            }
        });
    }

    #[test]
    fn any_location_names_an_entry_id_or_nothing(s in any_string()) {
        if let Some(id) = entry_id_of_location(&s) {
            prop_assert!(id.len() == 64 || id.len() == 80);
            prop_assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        }
    }
}
