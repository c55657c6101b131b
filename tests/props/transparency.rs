//! Transparency-log answers (`transparency::proof`) and timestamp-authority answers
//! (`transparency::tsa`): arbitrary bytes and near-misses of the real public-good checkpoint,
//! proof and RFC 3161 token give a value or an error, never a panic.

use std::sync::OnceLock;

use base64::Engine as _;
use proptest::prelude::*;

use chainlet::transparency::proof::{self, LogKey};
use chainlet::transparency::tsa;

use crate::support::{self, any_bytes, byte_edit, edit_bytes, near_str};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A synthetic checkpoint in rekor-tiles' shape (an extension line, a witness signature).
const SYNTHETIC: &str = "log2025-1.rekor.sigstore.dev\n42\nCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=\nextension line\n\n\u{2014} log2025-1.rekor.sigstore.dev AAAAAAAAAAAAAA==\n\u{2014} witness AAAAAAAAAAAAAA==\n";

const BUNDLE: &str = "bundles/managed-key-happy-path/bundle.sigstore.json";

fn bundle() -> Option<serde_json::Value> {
    let text = std::fs::read(support::fixtures()?.join(BUNDLE)).ok()?;
    serde_json::from_slice(&text).ok()
}

/// The real public-good checkpoint (from the fixtures, when they are there) and a synthetic one.
fn checkpoints() -> &'static [&'static str] {
    static ALL: OnceLock<Vec<&'static str>> = OnceLock::new();
    ALL.get_or_init(|| {
        let mut all = vec![SYNTHETIC];
        if let Some(cp) = bundle().and_then(|b| {
            b["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["checkpoint"]["envelope"]
                .as_str()
                .map(str::to_owned)
        }) {
            all.insert(0, String::leak(cp));
        }
        all
    })
}

/// The production Rekor key from the fixtures, or a fresh P-256 key.
fn rekor_key_der() -> &'static [u8] {
    static DER: OnceLock<Vec<u8>> = OnceLock::new();
    DER.get_or_init(|| {
        let from_fixtures = support::fixtures()
            .and_then(|d| std::fs::read_to_string(d.join("rekor/rekor-prod.pub")).ok())
            .and_then(|pem| LogKey::from_pem(&pem).ok());
        match from_fixtures {
            Some(k) => k.der().to_vec(),
            None => {
                use p256::pkcs8::EncodePublicKey as _;
                let key = p256::SecretKey::from_slice(&[7; 32]).unwrap().public_key();
                key.to_public_key_der().unwrap().as_bytes().to_vec()
            }
        }
    })
}

fn rekor_key() -> &'static LogKey {
    static KEY: OnceLock<LogKey> = OnceLock::new();
    KEY.get_or_init(|| LogKey::from_der(rekor_key_der()).unwrap())
}

/// The real RFC 3161 response of the managed-key bundle, when the fixtures are there.
fn real_timestamp() -> &'static Option<(Vec<u8>, Vec<u8>)> {
    static TS: OnceLock<Option<(Vec<u8>, Vec<u8>)>> = OnceLock::new();
    TS.get_or_init(|| {
        let b = bundle()?;
        let ts = b["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][0]
            ["signedTimestamp"]
            .as_str()?;
        let sig = b["messageSignature"]["signature"].as_str()?;
        Some((B64.decode(ts).ok()?, B64.decode(sig).ok()?))
    })
}

fn one_line(e: impl std::fmt::Display) -> Result<(), TestCaseError> {
    let s = e.to_string();
    prop_assert!(!s.contains('\n'), "{s}");
    Ok(())
}

proptest! {
    #![proptest_config(support::cases(512))]

    /// Checkpoints: any text parses or fails; a parsed one verifies with the Rekor key only
    /// when unchanged.
    #[test]
    fn checkpoints_parse_or_fail(text in prop_oneof![3 => near_str(checkpoints()), 1 => any_bytes().prop_map(|b| String::from_utf8_lossy(&b).into_owned())]) {
        match proof::parse_checkpoint(&text) {
            Ok(cp) => prop_assert!(cp.body.len() < text.len()),
            Err(e) => one_line(e)?,
        }
        match proof::verify_checkpoint(&text, None, rekor_key()) {
            // Only the real note text verifies (edits to its signature lines may leave the
            // real signature in place).
            Ok(cp) => {
                let real = checkpoints()
                    .first()
                    .and_then(|c| c.rfind("\n\n").and_then(|i| c.get(..i + 1)));
                prop_assert_eq!(Some(cp.body.as_str()), real);
            }
            Err(e) => one_line(e)?,
        }
    }

    /// Log keys from any DER; signatures of any bytes over any message.
    #[test]
    fn log_keys_and_signatures(der in any_bytes(), edit in byte_edit(), sig in any_bytes(), msg in any_bytes()) {
        if let Err(e) = LogKey::from_der(&der) { one_line(e)?; }
        let near = edit_bytes(rekor_key_der().to_vec(), &edit);
        if let Ok(k) = LogKey::from_der(&near) {
            prop_assert!(k.verify(&msg, &sig).is_err());
            let _ = k.note_key_id("x");
        }
        if let Err(e) = LogKey::from_pem(&String::from_utf8_lossy(&der)) { one_line(e)?; }
        prop_assert!(proof::verify_set(&sig, &String::from_utf8_lossy(&msg), -1, "", u64::MAX, rekor_key()).is_err());
    }

    /// Inclusion proofs of any shape: any index, size, hash lengths and root.
    #[test]
    fn inclusion_proofs_any_shape(
        leaf in any::<[u8; 32]>(),
        index in prop_oneof![any::<u64>(), 0u64..64, Just(u64::MAX - 1)],
        size in prop_oneof![any::<u64>(), 0u64..65, Just(u64::MAX)],
        hashes in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..70),
        root in prop::collection::vec(any::<u8>(), 0..40),
    ) {
        if let Err(e) = proof::verify_inclusion(&leaf, index, size, &hashes, &root) {
            one_line(e)?;
        }
    }

    /// RFC 3161 answers: arbitrary bytes, and the real response edited, are verified or
    /// refused; the real one with an edit that still verifies keeps its time.
    #[test]
    fn timestamps_verify_or_fail(bytes in any_bytes(), edits in prop::collection::vec(byte_edit(), 1..4), nonce in any::<u64>()) {
        let chain: [Vec<u8>; 1] = [bytes.clone()];
        if let Err(e) = tsa::verify_token(&bytes, b"sig", &chain) { one_line(e)?; }
        if let Err(e) = tsa::verify_response(&bytes, b"sig", nonce, &chain) { one_line(e)?; }
        if let Some((real, sig)) = real_timestamp() {
            let near = edits.iter().fold(real.clone(), edit_bytes);
            for chain in [&[][..], &[near.clone()][..], &[real.clone(), near.clone()][..]] {
                match tsa::verify_token(&near, sig, chain) {
                    Ok(t) => prop_assert_eq!(t.gen_time, 1766077479),
                    Err(e) => one_line(e)?,
                }
            }
        }
        let req = tsa::request_with_nonce(&bytes, nonce);
        prop_assert_eq!(req.first(), Some(&0x30));
    }
}
