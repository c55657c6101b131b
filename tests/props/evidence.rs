//! `verify::evidence`: arbitrary bytes and near-misses of real public-good Sigstore bundles and
//! of cosign's Rekor bundle annotation give a value or a one-line error; arbitrary evidence,
//! judged under each kind of trust, is accepted or refused, never a panic.

use std::sync::OnceLock;
use std::time::SystemTime;

use proptest::prelude::*;
use serde_json::Value;

use chainlet::transparency::trust::TrustedRoot;
use chainlet::verify::evidence::{
    self, Evidence, Identity, Matcher, PublicKey, Requirement, SignedBytes, TlogEvidence, Trust,
};

use crate::support::{self, any_bytes, any_string, json_value, near_json};

fn real(path: &str) -> Value {
    support::fixtures()
        .and_then(|d| std::fs::read(d.join(path)).ok())
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null)
}

fn keyless_bundle() -> Value {
    real("rekor/oci-attestation.sigstore.json")
}

fn key_bundle() -> Value {
    real("bundles/managed-key-happy-path/bundle.sigstore.json")
}

fn annotation() -> Value {
    real("rekor/sigstore-rs-bundle-hashedrekord-7810348.json")
}

fn root() -> &'static Option<TrustedRoot> {
    static ROOT: OnceLock<Option<TrustedRoot>> = OnceLock::new();
    ROOT.get_or_init(|| {
        let dir = support::fixtures()?;
        TrustedRoot::read(&dir.join("rekor/trusted-root-public-good.json")).ok()
    })
}

fn key() -> Option<PublicKey> {
    let dir = support::fixtures()?;
    let pem = std::fs::read_to_string(dir.join("bundles/managed-key-happy-path/key.pub")).ok()?;
    PublicKey::from_pem(&pem).ok()
}

fn requirement() -> impl Strategy<Value = Requirement> {
    prop_oneof![
        Just(Requirement::IfPresent),
        Just(Requirement::Required),
        Just(Requirement::Ignored)
    ]
}

fn matcher() -> impl Strategy<Value = Matcher> {
    prop_oneof![
        Just(Matcher::Exact("cody@soyland.com".into())),
        Just(Matcher::Regexp("^https://github\\.com/".into())),
        any_string().prop_map(Matcher::Exact),
        any_string().prop_map(Matcher::Regexp),
    ]
}

/// A trust of each kind: the key, an identity, both, neither; with or without the root.
fn trust() -> impl Strategy<Value = Trust> {
    (
        0u8..4,
        any::<bool>(),
        matcher(),
        matcher(),
        requirement(),
        requirement(),
    )
        .prop_map(
            |(kind, with_root, subject, issuer, tlog, timestamp)| Trust {
                key: (kind & 1 == 1).then(key).flatten(),
                identity: (kind & 2 == 2).then_some(Identity { subject, issuer }),
                root: with_root.then(|| root().clone()).flatten(),
                tlog,
                timestamp,
            },
        )
}

fn one_line(e: &str, place: &str) -> Result<(), TestCaseError> {
    prop_assert!(!e.contains('\n'), "{e}");
    prop_assert!(e.starts_with(place), "{e}");
    Ok(())
}

fn judge(ev: &Evidence, trust: &Trust) -> Result<(), TestCaseError> {
    match evidence::check(ev, trust, SystemTime::now()) {
        Ok(c) => prop_assert!(!c.signer.is_empty()),
        Err(e) => one_line(&e, &ev.place)?,
    }
    Ok(())
}

/// Arbitrary evidence: bytes, JSON entries, real entries' near-misses.
fn any_evidence() -> impl Strategy<Value = Evidence> {
    let entry = prop_oneof![
        any_bytes().prop_map(TlogEvidence::CosignBundle),
        near_json(annotation(), &[]).prop_map(TlogEvidence::CosignBundle),
        json_value().prop_map(TlogEvidence::BundleEntry),
        near_json(
            keyless_bundle()["verificationMaterial"]["tlogEntries"][0].clone(),
            &[]
        )
        .prop_map(|b| TlogEvidence::BundleEntry(serde_json::from_slice(&b).unwrap_or(Value::Null))),
    ];
    (
        prop_oneof![
            any_bytes().prop_map(SignedBytes::Message),
            (any_bytes(), 0u8..3).prop_map(|(d, h)| SignedBytes::Digest(
                [
                    chainlet::pki::Hash::Sha256,
                    chainlet::pki::Hash::Sha384,
                    chainlet::pki::Hash::Sha512
                ][h as usize],
                d
            )),
        ],
        any_bytes(),
        proptest::option::of(any_bytes()),
        prop::collection::vec(entry, 0..3),
        prop::collection::vec(any_bytes(), 0..2),
    )
        .prop_map(
            |(signed, signature, certificate, tlog, timestamps)| Evidence {
                place: "prop".into(),
                signed,
                signature,
                certificate,
                chain: Vec::new(),
                tlog,
                timestamps,
            },
        )
}

proptest! {
    #![proptest_config(support::cases(256))]

    /// Bundles: arbitrary bytes and near-misses of the real keyless and key bundles parse or
    /// fail; whatever parses is judged under any trust.
    #[test]
    fn bundles_parse_or_fail_and_are_judged(
        bytes in prop_oneof![
            1 => any_bytes(),
            2 => near_json(keyless_bundle(), &[]),
            2 => near_json(key_bundle(), &[]),
        ],
        trust in trust(),
    ) {
        match evidence::from_bundle(&bytes, "b.json") {
            Ok((_, ev)) => judge(&ev, &trust)?,
            Err(e) => one_line(&e, "b.json: ")?,
        }
    }

    /// cosign's annotation: arbitrary bytes and near-misses of the real one.
    #[test]
    fn cosign_annotations_parse_or_fail(bytes in prop_oneof![any_bytes(), near_json(annotation(), &[])]) {
        if let Err(e) = evidence::cosign_bundle(&bytes) {
            prop_assert!(!e.contains('\n'), "{e}");
        }
    }

    /// Any evidence under any trust.
    #[test]
    fn any_evidence_is_judged(ev in any_evidence(), trust in trust()) {
        judge(&ev, &trust)?;
    }

    /// Public keys from any text.
    #[test]
    fn public_keys_from_any_pem(text in any_string(), der in any_bytes()) {
        let _ = PublicKey::from_pem(&text);
        let _ = PublicKey::from_pem(&support::pem("PUBLIC KEY", &der));
    }
}
