//! The real vectors of the shared fixtures: public-good bundles (cosign's, sigstore-go's, the
//! conformance suite's) against the public-good trusted root, and cosign's Rekor bundle
//! annotation; each one-field change is refused with its reason.

use std::path::Path;
use std::time::SystemTime;

use base64::Engine as _;
use serde_json::Value;

use super::*;
use crate::test_support::fixtures;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn root(dir: &Path) -> TrustedRoot {
    TrustedRoot::read(&dir.join("rekor/trusted-root-public-good.json")).unwrap()
}

fn key(path: &Path) -> PublicKey {
    PublicKey::from_pem(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn keyless(root: TrustedRoot, subject: Matcher, issuer: Matcher) -> Trust {
    Trust {
        key: None,
        identity: Some(Identity { subject, issuer }),
        root: Some(root),
        tlog: Requirement::Required,
        timestamp: Requirement::IfPresent,
    }
}

fn exact(s: &str) -> Matcher {
    Matcher::Exact(s.into())
}

const CODY: &str = "cody@soyland.com";
const GITHUB: &str = "https://github.com/login/oauth";

fn oci_attestation(dir: &Path) -> (BundleContent, Evidence) {
    let bytes = std::fs::read(dir.join("rekor/oci-attestation.sigstore.json")).unwrap();
    from_bundle(&bytes, "oci-attestation.sigstore.json").unwrap()
}

fn err(ev: &Evidence, trust: &Trust) -> String {
    let e = check(ev, trust, SystemTime::now()).unwrap_err();
    assert!(e.starts_with(&ev.place) && !e.contains('\n'), "{e}");
    e
}

#[test]
fn a_public_good_keyless_bundle_verifies_for_its_identity() {
    let Some(dir) = fixtures() else { return };
    let (content, ev) = oci_attestation(&dir);
    let BundleContent::Dsse {
        payload_type,
        payload,
    } = &content
    else {
        panic!("{content:?}")
    };
    assert_eq!(payload_type, "application/vnd.in-toto+json");
    assert!(
        matches!(&ev.signed, SignedBytes::Message(m) if m == &crate::signing::dsse::pae(payload_type, payload))
    );
    let trust = keyless(root(&dir), exact(CODY), exact(GITHUB));
    let checked = check(&ev, &trust, SystemTime::now()).unwrap();
    assert_eq!(
        checked,
        Checked {
            signer: CODY.into(),
            issuer: Some(GITHUB.into()),
            log_index: Some(175508996),
            signed_at: Some(1740770291),
        }
    );
    // A regular expression matches anywhere, as cosign's --certificate-identity-regexp.
    let trust = keyless(
        root(&dir),
        Matcher::Regexp(r"@soyland\.com".into()),
        Matcher::Regexp("^https://github\\.com/".into()),
    );
    check(&ev, &trust, SystemTime::now()).unwrap();
}

#[test]
fn each_change_to_a_keyless_bundle_fails_with_its_reason() {
    let Some(dir) = fixtures() else { return };
    let (_, ev) = oci_attestation(&dir);
    let good = keyless(root(&dir), exact(CODY), exact(GITHUB));

    let e = err(
        &ev,
        &keyless(root(&dir), exact("mallory@soyland.com"), exact(GITHUB)),
    );
    assert!(
        e.contains("identity") && e.contains("does not match"),
        "{e}"
    );
    let e = err(
        &ev,
        &keyless(
            root(&dir),
            Matcher::Regexp("^soyland".into()),
            exact(GITHUB),
        ),
    );
    assert!(e.contains("does not match the regular expression"), "{e}");
    let e = err(
        &ev,
        &keyless(
            root(&dir),
            exact(CODY),
            exact("https://accounts.google.com"),
        ),
    );
    assert!(
        e.contains("OIDC issuer") && e.contains("does not match"),
        "{e}"
    );
    let e = err(
        &ev,
        &keyless(root(&dir), Matcher::Regexp("(".into()), exact(GITHUB)),
    );
    assert!(e.contains("regular expression"), "{e}");

    // A flipped signature byte, a flipped payload byte.
    let mut bad = ev.clone();
    let n = bad.signature.len();
    bad.signature[n - 3] ^= 1;
    assert!(err(&bad, &good).contains("signature does not verify"));
    let mut bad = ev.clone();
    if let SignedBytes::Message(m) = &mut bad.signed {
        let n = m.len();
        m[n - 10] ^= 1;
    }
    assert!(err(&bad, &good).contains("signature does not verify"));

    // No log entry when one is required; none and only "if present": no trusted time.
    let mut bad = ev.clone();
    bad.tlog.clear();
    assert!(err(&bad, &good).contains("no transparency log entry, and one is required"));
    let lax = Trust {
        tlog: Requirement::IfPresent,
        ..keyless(root(&dir), exact(CODY), exact(GITHUB))
    };
    assert!(err(&bad, &lax).contains("no trusted signing time"));
    let ignored = Trust {
        tlog: Requirement::Ignored,
        ..keyless(root(&dir), exact(CODY), exact(GITHUB))
    };
    assert!(err(&ev, &ignored).contains("no trusted signing time"));

    // The entry: its SET, its body, its inclusion proof, its checkpoint, its log.
    let entry = |f: &dyn Fn(&mut Value)| {
        let mut bad = ev.clone();
        let TlogEvidence::BundleEntry(v) = &mut bad.tlog[0] else {
            panic!()
        };
        f(v);
        err(&bad, &good)
    };
    let e = entry(&|v| v["integratedTime"] = "1740770292".into());
    assert!(e.contains("signed entry timestamp"), "{e}");
    let e = entry(&|v| v["logIndex"] = "175508997".into());
    assert!(e.contains("signed entry timestamp"), "{e}");
    let e = entry(&|v| {
        let mut root = B64
            .decode(v["inclusionProof"]["rootHash"].as_str().unwrap())
            .unwrap();
        root[0] ^= 1;
        v["inclusionProof"]["rootHash"] = B64.encode(root).into();
    });
    assert!(e.contains("inclusion proof"), "{e}");
    let e = entry(&|v| {
        let cp = v["inclusionProof"]["checkpoint"]["envelope"]
            .as_str()
            .unwrap();
        let size = v["inclusionProof"]["treeSize"].as_str().unwrap();
        v["inclusionProof"]["checkpoint"]["envelope"] =
            cp.replacen(size, &format!("{size}0"), 1).into();
    });
    assert!(e.contains("checkpoint"), "{e}");
    // Another log: skipped, so the required entry is missing.
    let e = entry(&|v| v["logId"]["keyId"] = B64.encode([7u8; 32]).into());
    assert!(
        e.contains("none of its 1 transparency log entries is from a log"),
        "{e}"
    );
    // The SET and proof alone, without either: each still binds the body.
    let e = entry(&|v| {
        v.as_object_mut().unwrap().remove("inclusionPromise");
        v.as_object_mut().unwrap().remove("inclusionProof");
    });
    assert!(e.contains("neither an inclusion promise"), "{e}");
    // Without the SET, the proof still verifies but gives no trusted time.
    let e = entry(&|v| {
        v.as_object_mut().unwrap().remove("inclusionPromise");
    });
    assert!(e.contains("no trusted signing time"), "{e}");

    // No certificate stored, and only an identity trusted.
    let mut bad = ev.clone();
    bad.certificate = None;
    assert!(err(&bad, &good).contains("no certificate"));

    // The certificate is valid for ten minutes: a root without its CA, no chain.
    let mut no_ca = root(&dir);
    no_ca.certificate_authorities.clear();
    let e = err(&ev, &keyless(no_ca, exact(CODY), exact(GITHUB)));
    assert!(e.contains("no certificate authorities"), "{e}");
    // A root whose CT logs do not include the SCT's.
    let mut no_ct = root(&dir);
    for l in &mut no_ct.ctlogs {
        l.public_key = no_ct.logs[0].public_key.clone();
        l.log_id = vec![1; 32];
    }
    let e = err(&ev, &keyless(no_ct, exact(CODY), exact(GITHUB)));
    assert!(e.contains("SCT"), "{e}");
}

#[test]
fn a_key_only_trust_refuses_keyless_signatures_and_both_at_once() {
    let Some(dir) = fixtures() else { return };
    let (_, ev) = oci_attestation(&dir);
    let trust = Trust {
        key: Some(key(&dir.join("keys/sigstore-ecdsa-p256.pub"))),
        identity: None,
        root: Some(root(&dir)),
        tlog: Requirement::Ignored,
        timestamp: Requirement::Ignored,
    };
    assert!(err(&ev, &trust).contains("does not verify with the ECDSA P-256 key"));
    let both = Trust {
        identity: Some(Identity {
            subject: exact(CODY),
            issuer: exact(GITHUB),
        }),
        ..trust
    };
    assert!(err(&ev, &both).contains("give one"));
}

#[test]
fn a_managed_key_bundle_with_a_message_signature_verifies() {
    let Some(dir) = fixtures() else { return };
    let d = dir.join("bundles/managed-key-happy-path");
    let bytes = std::fs::read(d.join("bundle.sigstore.json")).unwrap();
    let (content, ev) = from_bundle(&bytes, "managed-key").unwrap();
    let artifact = std::fs::read(d.join("a.txt")).unwrap();
    assert_eq!(
        content,
        BundleContent::MessageDigest(Hash::Sha256, Hash::Sha256.digest(&artifact))
    );
    let trust = |tlog, timestamp| Trust {
        key: Some(key(&d.join("key.pub"))),
        identity: None,
        root: Some(root(&dir)),
        tlog,
        timestamp,
    };
    let checked = check(
        &ev,
        &trust(Requirement::Required, Requirement::Ignored),
        SystemTime::now(),
    )
    .unwrap();
    assert_eq!(checked.signer, "key");
    assert_eq!(checked.log_index, Some(771488337));
    assert_eq!(checked.signed_at, Some(1766077479));
    // The message itself instead of its digest: the same signature.
    let mut whole = ev.clone();
    whole.signed = SignedBytes::Message(artifact.clone());
    check(
        &whole,
        &trust(Requirement::Required, Requirement::Ignored),
        SystemTime::now(),
    )
    .unwrap();
    // Another artifact: the signature fails first.
    let mut other = ev.clone();
    other.signed = SignedBytes::Digest(Hash::Sha256, Hash::Sha256.digest(b"other"));
    assert!(
        err(&other, &trust(Requirement::Required, Requirement::Ignored))
            .contains("does not verify")
    );
    // Another key.
    let mut t = trust(Requirement::Ignored, Requirement::Ignored);
    t.key = Some(key(&dir.join("keys/sigstore-ecdsa-p256.pub")));
    assert!(err(&ev, &t).contains("does not verify"));
    // The log entry without a root to check it with.
    let mut t = trust(Requirement::IfPresent, Requirement::Ignored);
    t.root = None;
    assert!(err(&ev, &t).contains("no trusted root"));
    // In the future: a clock far behind the log's.
    let past = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
    let e = check(
        &ev,
        &trust(Requirement::Required, Requirement::Ignored),
        past,
    )
    .unwrap_err();
    assert!(e.contains("later than now"), "{e}");
}

#[test]
fn a_v0_1_bundle_with_an_intoto_entry_and_only_a_set_verifies() {
    let Some(dir) = fixtures() else { return };
    let bytes = std::fs::read(dir.join("bundles/bundle-publish.v0.1.json")).unwrap();
    let (content, ev) = from_bundle(&bytes, "bundle-publish").unwrap();
    assert!(matches!(content, BundleContent::Dsse { .. }));
    let trust = Trust {
        key: Some(key(&dir.join("bundles/publish_key.pub"))),
        identity: None,
        root: Some(root(&dir)),
        tlog: Requirement::Required,
        timestamp: Requirement::IfPresent,
    };
    let checked = check(&ev, &trust, SystemTime::now()).unwrap();
    assert_eq!(checked.log_index, Some(18300940));
    assert_eq!(checked.signed_at, Some(1681839916));
}

/// cosign's `sign-blob --bundle` output: the signature, the certificate, and the Rekor bundle
/// as cosign 2 also stores it in the `dev.sigstore.cosign/bundle` annotation.
fn cosign_blob(dir: &Path) -> Evidence {
    let v: Value = serde_json::from_slice(
        &std::fs::read(
            dir.join("rekor/sigstore-rs-signedartifactbundle-hashedrekord-7810348.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let pem = B64.decode(v["cert"].as_str().unwrap()).unwrap();
    let (_, der) = pem_rfc7468::decode_vec(&pem).unwrap();
    let annotation = serde_json::to_vec(&v["rekorBundle"]).unwrap();
    let digest = crate::transparency::bundle::hex_decode(
        "4bc453b53cb3d914b45f4b250294236adba2c0e09ff6f03793949e7e39fd4cc1",
    )
    .unwrap();
    Evidence {
        place: "sign-blob bundle".into(),
        signed: SignedBytes::Digest(Hash::Sha256, digest),
        signature: B64.decode(v["base64Signature"].as_str().unwrap()).unwrap(),
        certificate: Some(der),
        chain: Vec::new(),
        tlog: vec![TlogEvidence::CosignBundle(annotation)],
        timestamps: Vec::new(),
    }
}

#[test]
fn cosigns_rekor_bundle_annotation_verifies_with_the_legacy_issuer_extension() {
    let Some(dir) = fixtures() else { return };
    let ev = cosign_blob(&dir);
    let who = "daniel.bevenius@gmail.com";
    let trust = keyless(root(&dir), exact(who), exact(GITHUB));
    let checked = check(&ev, &trust, SystemTime::now()).unwrap();
    assert_eq!(checked.signer, who);
    assert_eq!(checked.issuer.as_deref(), Some(GITHUB));
    assert_eq!(checked.log_index, Some(7810348));
    assert_eq!(checked.signed_at, Some(1669361833));

    let annotation = |f: &dyn Fn(&mut Value)| {
        let mut bad = ev.clone();
        let TlogEvidence::CosignBundle(b) = &mut bad.tlog[0] else {
            panic!()
        };
        let mut v: Value = serde_json::from_slice(b).unwrap();
        f(&mut v);
        *b = serde_json::to_vec(&v).unwrap();
        err(&bad, &trust)
    };
    let e = annotation(&|v| v["Payload"]["logIndex"] = 7810349.into());
    assert!(e.contains("signed entry timestamp"), "{e}");
    let e = annotation(&|v| v["Payload"]["integratedTime"] = 1669361834.into());
    assert!(e.contains("signed entry timestamp"), "{e}");
    let e = annotation(&|v| v["SignedEntryTimestamp"] = "!".into());
    assert!(e.contains("not base64"), "{e}");
    // Another artifact digest: the signature is checked first and fails.
    let mut bad = ev.clone();
    bad.signed = SignedBytes::Digest(Hash::Sha256, vec![0; 32]);
    assert!(err(&bad, &trust).contains("does not verify"));
    // The annotation is for this signature only: the same entry beside another signature
    // made with the same key cannot be had, so check the body matcher directly.
    let signer = entry::Signer {
        spki: &cert::Leaf::parse(ev.certificate.as_deref().unwrap())
            .unwrap()
            .spki,
        cert: ev.certificate.as_deref(),
    };
    let b = cosign_bundle(match &ev.tlog[0] {
        TlogEvidence::CosignBundle(b) => b,
        _ => unreachable!(),
    })
    .unwrap();
    let body: Value = serde_json::from_slice(&b.body).unwrap();
    entry::match_body(&body, &ev.signature, &signer, &ev.signed).unwrap();
    let mut sig = ev.signature.clone();
    sig[5] ^= 1;
    assert!(
        entry::match_body(&body, &sig, &signer, &ev.signed)
            .unwrap_err()
            .contains("another signature")
    );
    let other = SignedBytes::Digest(Hash::Sha256, vec![1; 32]);
    assert!(
        entry::match_body(&body, &ev.signature, &signer, &other)
            .unwrap_err()
            .contains("data hash")
    );
    let key_only = entry::Signer {
        spki: &[1, 2],
        cert: None,
    };
    assert!(
        entry::match_body(&body, &ev.signature, &key_only, &ev.signed)
            .unwrap_err()
            .contains("another key")
    );
}

#[test]
fn keys_of_each_type_verify_what_chainlet_signs() {
    use crate::signing::{KeyPair, Signer as _};
    let Some(dir) = fixtures() else { return };
    // Ed25519 (sigstore's test vector): over the message itself.
    let ed = key(&dir.join("keys/sigstore-ed25519.pub"));
    let msg = std::fs::read(dir.join("keys/sigstore-sign-me.txt")).unwrap();
    let sig = B64
        .decode(
            std::fs::read_to_string(dir.join("keys/sigstore-ed25519.sign-me.sig.b64"))
                .unwrap()
                .trim(),
        )
        .unwrap();
    let trust = |k: PublicKey| Trust {
        key: Some(k),
        identity: None,
        root: None,
        tlog: Requirement::Ignored,
        timestamp: Requirement::Ignored,
    };
    let ev = |signed: SignedBytes, signature: Vec<u8>| Evidence {
        place: "x".into(),
        signed,
        signature,
        certificate: None,
        chain: Vec::new(),
        tlog: Vec::new(),
        timestamps: Vec::new(),
    };
    check(
        &ev(SignedBytes::Message(msg.clone()), sig.clone()),
        &trust(key(&dir.join("keys/sigstore-ed25519.pub"))),
        SystemTime::now(),
    )
    .unwrap();
    let e = err(
        &ev(SignedBytes::Message(b"sign mE".to_vec()), sig.clone()),
        &trust(ed),
    );
    assert!(e.contains("Ed25519"), "{e}");
    let e = err(
        &ev(
            SignedBytes::Digest(Hash::Sha256, Hash::Sha256.digest(&msg)),
            sig,
        ),
        &trust(key(&dir.join("keys/sigstore-ed25519.pub"))),
    );
    assert!(e.contains("only its digest"), "{e}");

    // chainlet's own keys: P-256, P-384 (signed over SHA-256, as Chains does), Ed25519.
    for pem in [
        std::fs::read_to_string(dir.join("keys/sigstore-ecdsa-p256-pkcs8.key")).unwrap(),
        pem_rfc7468::encode_string(
            "PRIVATE KEY",
            pem_rfc7468::LineEnding::LF,
            p384::pkcs8::EncodePrivateKey::to_pkcs8_der(
                &p384::SecretKey::from_slice(&[3; 48]).unwrap(),
            )
            .unwrap()
            .as_bytes(),
        )
        .unwrap(),
        std::fs::read_to_string(dir.join("keys/sigstore-ed25519-pkcs8.key")).unwrap(),
    ] {
        let kp = KeyPair::from_pem(&pem, Path::new("k"), "test").unwrap();
        let public = PublicKey::from_pem(&kp.public_key_pem()).unwrap();
        let pae = crate::signing::dsse::pae("application/vnd.in-toto+json", b"{}");
        let sig = kp.sign(&pae).unwrap();
        let checked = check(
            &ev(SignedBytes::Message(pae.clone()), sig.clone()),
            &trust(public),
            SystemTime::now(),
        )
        .unwrap();
        assert_eq!(checked.signer, "key");
        let public = PublicKey::from_pem(&kp.public_key_pem()).unwrap();
        let mut other = pae.clone();
        other[7] ^= 1;
        assert!(
            err(&ev(SignedBytes::Message(other), sig), &trust(public)).contains("does not verify")
        );
    }
    // P-384 over SHA-384 (cosign 3's default for the curve) verifies too.
    use p384::ecdsa::signature::Signer as _;
    let sk = p384::ecdsa::SigningKey::from_slice(&[4; 48]).unwrap();
    let sig: p384::ecdsa::Signature = sk.sign(b"message");
    let der = p384::pkcs8::EncodePublicKey::to_public_key_der(sk.verifying_key()).unwrap();
    let pem = pem_rfc7468::encode_string("PUBLIC KEY", pem_rfc7468::LineEnding::LF, der.as_bytes())
        .unwrap();
    check(
        &ev(
            SignedBytes::Message(b"message".to_vec()),
            sig.to_der().as_bytes().to_vec(),
        ),
        &trust(PublicKey::from_pem(&pem).unwrap()),
        SystemTime::now(),
    )
    .unwrap();
    assert!(
        PublicKey::from_pem("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n")
            .is_err()
    );
}

#[test]
fn bundles_that_are_not_one_signature_are_refused() {
    let Some(dir) = fixtures() else { return };
    let good: Value = serde_json::from_slice(
        &std::fs::read(dir.join("rekor/oci-attestation.sigstore.json")).unwrap(),
    )
    .unwrap();
    let refused = |f: &dyn Fn(&mut Value)| {
        let mut v = good.clone();
        f(&mut v);
        let e = from_bundle(&serde_json::to_vec(&v).unwrap(), "b.json").unwrap_err();
        assert!(e.starts_with("b.json: ") && !e.contains('\n'), "{e}");
        e
    };
    let e = refused(&|v| {
        let s = v["dsseEnvelope"]["signatures"][0].clone();
        v["dsseEnvelope"]["signatures"]
            .as_array_mut()
            .unwrap()
            .push(s);
    });
    assert!(e.contains("2 signatures"), "{e}");
    let e = refused(&|v| v["dsseEnvelope"]["signatures"] = Value::Array(vec![]));
    assert!(e.contains("0 signatures"), "{e}");
    let e = refused(&|v| v["mediaType"] = "application/json".into());
    assert!(e.contains("mediaType"), "{e}");
    let e = refused(&|v| v["messageSignature"] = serde_json::json!({"signature": "AA=="}));
    assert!(e.contains("both"), "{e}");
    let e = refused(&|v| {
        v.as_object_mut().unwrap().remove("dsseEnvelope");
    });
    assert!(e.contains("neither"), "{e}");
    // An x509CertificateChain (v0.1/v0.2): the first is the leaf, the rest the stored chain.
    let mut v = good.clone();
    let leaf = v["verificationMaterial"]["certificate"].clone();
    v["verificationMaterial"]
        .as_object_mut()
        .unwrap()
        .remove("certificate");
    v["verificationMaterial"]["x509CertificateChain"] =
        serde_json::json!({"certificates": [leaf, {"rawBytes": "AQID"}]});
    v["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=0.2".into();
    let (_, ev) = from_bundle(&serde_json::to_vec(&v).unwrap(), "b").unwrap();
    assert_eq!(ev.chain, vec![vec![1, 2, 3]]);
    assert_eq!(ev.certificate, oci_attestation(&dir).1.certificate);
    for junk in [&b""[..], b"{", b"[]", b"null", b"{\"mediaType\":1}"] {
        assert!(from_bundle(junk, "j").is_err());
    }
}

#[test]
fn pae_parses_only_exact_encodings() {
    let pae = crate::signing::dsse::pae("t/x", b"hello world");
    assert_eq!(entry::parse_pae(&pae), Some(("t/x", &b"hello world"[..])));
    for bad in [
        &b"DSSEv1 3 t/x 12 hello world"[..],
        b"DSSEv1 03 t/x 11 hello world",
        b"DSSEv1 4 t/x 11 hello world",
        b"DSSEv2 3 t/x 11 hello world",
        b"DSSEv1 99999999999999999999 t",
        b"",
    ] {
        assert_eq!(
            entry::parse_pae(bad),
            None,
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

/// sigstore-go's public-key bundle with an RFC 3161 timestamp and its trusted root, whose only
/// authority is the test TSA that stamped it.
#[test]
fn an_rfc3161_timestamp_gives_the_signing_time() {
    let Some(dir) = fixtures() else { return };
    let bytes = std::fs::read(dir.join("bundles/public-key-validity.sigstore.json")).unwrap();
    let (_, ev) = from_bundle(&bytes, "public-key-validity").unwrap();
    let tsa_root =
        TrustedRoot::read(&dir.join("bundles/public-key-validity.trusted_root.json")).unwrap();
    let trust = |timestamp, root| Trust {
        key: Some(key(&dir.join("bundles/public-key-validity.pem"))),
        identity: None,
        root: Some(root),
        tlog: Requirement::Ignored,
        timestamp,
    };
    let checked = check(
        &ev,
        &trust(Requirement::Required, tsa_root.clone()),
        SystemTime::now(),
    )
    .unwrap();
    assert_eq!(checked.signed_at, Some(1780595009));
    assert_eq!(checked.log_index, None);

    let mut bad = ev.clone();
    let n = bad.timestamps[0].len();
    bad.timestamps[0][n - 5] ^= 1;
    let e = err(&bad, &trust(Requirement::IfPresent, tsa_root.clone()));
    assert!(e.contains("timestamp 0 does not verify"), "{e}");
    let mut none = ev.clone();
    none.timestamps.clear();
    let e = err(&none, &trust(Requirement::Required, tsa_root.clone()));
    assert!(
        e.contains("no RFC 3161 timestamp, and one is required"),
        "{e}"
    );
    check(
        &none,
        &trust(Requirement::IfPresent, tsa_root),
        SystemTime::now(),
    )
    .unwrap();
    // The public-good root does not list the test authority.
    let e = err(&ev, &trust(Requirement::IfPresent, root(&dir)));
    assert!(
        e.contains("does not verify with a timestamp authority"),
        "{e}"
    );
}

#[test]
fn a_timestamp_from_an_authority_the_root_does_not_list_fails() {
    let Some(dir) = fixtures() else { return };
    let d = dir.join("bundles/managed-key-happy-path");
    let (_, ev) =
        from_bundle(&std::fs::read(d.join("bundle.sigstore.json")).unwrap(), "m").unwrap();
    let t = Trust {
        key: Some(key(&d.join("key.pub"))),
        identity: None,
        root: Some(root(&dir)),
        tlog: Requirement::Required,
        timestamp: Requirement::IfPresent,
    };
    let e = err(&ev, &t);
    assert!(e.contains("is not the chain's leaf"), "{e}");
}

#[test]
fn a_pem_whose_end_overlaps_its_begin_is_refused() {
    for text in [
        "-----BEGIN X-----END X-----",
        "-----BEGIN PUBLIC KEY-----END PUBLIC KEY-----",
    ] {
        assert!(super::PublicKey::from_pem(text).is_err(), "{text}");
    }
}

#[test]
fn keys_and_authorities_count_only_within_their_valid_for() {
    let Some(dir) = fixtures() else { return };
    let (_, ev) = oci_attestation(&dir);
    let signed_at = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1740770291);
    let retired = |root: &mut TrustedRoot, cas: bool| {
        let end = Some(signed_at - std::time::Duration::from_secs(1));
        if cas {
            root.certificate_authorities
                .iter_mut()
                .for_each(|c| c.valid.end = end);
        } else {
            root.logs.iter_mut().for_each(|l| l.valid.end = end);
        }
    };
    // The public-good root's windows themselves let the bundle verify (its old CA and log
    // keys are retired, the current ones cover 2025).
    let r = root(&dir);
    assert!(
        r.certificate_authorities
            .iter()
            .any(|c| c.valid.end.is_some())
    );
    check(
        &ev,
        &keyless(r, exact(CODY), exact(GITHUB)),
        SystemTime::now(),
    )
    .unwrap();
    let mut r = root(&dir);
    retired(&mut r, true);
    let e = err(&ev, &keyless(r, exact(CODY), exact(GITHUB)));
    assert!(e.contains("not a trusted CA at that time"), "{e}");
    let mut r = root(&dir);
    retired(&mut r, false);
    let e = err(&ev, &keyless(r, exact(CODY), exact(GITHUB)));
    assert!(
        e.contains("not valid at the entry's integrated time"),
        "{e}"
    );
}
