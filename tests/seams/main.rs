//! The seams of the pipeline: a signer, a transparency log and a storage backend, each written
//! in one file of this folder against chainlet's public traits, driven through the same
//! `attest::pipeline::execute` that `chainlet attest` runs, with nothing in chainlet changed.

mod backend;
mod log;
mod signer;

use std::sync::Arc;

use chainlet::attest::pipeline::{Route, Unsigned, Work, execute};
use chainlet::config::SignerName;
use chainlet::kube::RunKind;
use chainlet::signing::{Encoding, Payload, Signers};
use chainlet::storage::tekton::Target;
use chainlet::subjects::ImageRef;

fn image(n: usize) -> ImageRef {
    ImageRef::parse(&format!(
        "registry.example.com/team/app{n}@sha256:{}",
        "ab".repeat(32)
    ))
    .unwrap()
}

/// A TaskRun with an attestation naming image 0 and `images` image signatures.
fn work(images: usize) -> Work {
    Work {
        target: Target {
            kind: RunKind::TaskRun,
            name: "build".into(),
            uid: "0d1e2f30-0000-4000-8000-000000000001".into(),
        },
        attestation: Some(Unsigned {
            key: "taskrun-0d1e2f30-0000-4000-8000-000000000001".into(),
            images: vec![image(0)],
            predicate_type: "https://slsa.dev/provenance/v1",
            payload: Payload {
                bytes: br#"{"_type":"https://in-toto.io/Statement/v1"}"#.to_vec(),
                encoding: Encoding::Dsse {
                    payload_type: "application/vnd.in-toto+json",
                },
            },
        }),
        attestation_signer: SignerName::X509,
        images: (0..images)
            .map(|n| {
                let payload = Payload {
                    bytes: format!("payload of image {n}").into_bytes(),
                    encoding: Encoding::Raw,
                };
                (image(n), payload)
            })
            .collect(),
        image_signer: SignerName::X509,
        image_statements: Vec::new(),
        annotations: None,
    }
}

/// The test signer in the place of x509, the signer both artifact types name by default.
fn signers(
    signer: signer::TestSigner,
) -> impl FnOnce(&[SignerName]) -> Result<Signers, chainlet::signing::SigningError> + Send {
    move |names: &[SignerName]| {
        assert_eq!(names, [SignerName::X509, SignerName::X509]);
        Ok(Signers::default().with(SignerName::X509, Arc::new(signer)))
    }
}

fn route(b: backend::TestBackend) -> Route {
    Route {
        backend: Box::new(b),
        signatures: true,
        attestation: true,
    }
}

#[test]
fn a_signer_a_log_and_a_backend_plug_in_without_changing_chainlet() {
    let record = backend::Record::default();
    let stored = execute(
        &work(3),
        signers(signer::TestSigner::new()),
        &log::TestLog::default(),
        &[route(backend::TestBackend::new("test", &record))],
    )
    .unwrap();

    let att = stored.attestation.unwrap();
    // The test signer's signature went into the envelope, its certificate along with it, and
    // the test log's entry with both.
    let env = att.envelope().expect("a DSSE envelope");
    assert_eq!(env.signatures[0].keyid, "test-key");
    assert_eq!(att.certificate.as_ref().unwrap().cert_pem, signer::CERT);
    let att_entry = att.log_entry.as_ref().unwrap();
    assert_eq!(att_entry.body, att.statement, "the attestation's own entry");
    // Three image signatures in order, each with its own log entry (uploads run at once, so
    // the log's indexes follow no order: each entry is matched by what it logged).
    let mut indexes = vec![att_entry.log_index];
    for s in &stored.signatures {
        let e = s.log_entry.as_ref().unwrap();
        assert_eq!(e.body, s.payload, "each image signature has its own entry");
        indexes.push(e.log_index);
    }
    indexes.sort_unstable();
    assert_eq!(indexes, [0, 1, 2, 3]);
    // The backend got exactly that.
    let seen = record.batches();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].backend, "test");
    assert_eq!(seen[0].attestation_log_index, Some(att_entry.log_index));
    assert_eq!(seen[0].images, ["app0", "app1", "app2"]);
    assert!(seen[0].certificates);
}

#[test]
fn backends_store_in_their_own_order_and_a_failure_is_recorded_by_the_others() {
    let record = backend::Record::default();
    // Given out of order; sorted as the wiring sorts them: by place, then name.
    let mut routes = vec![
        route(backend::TestBackend::new("last", &record).place(chainlet::storage::Place::Last)),
        route(backend::TestBackend::new("remote", &record)),
        route(backend::TestBackend::new("broken", &record).failing()),
    ];
    routes.sort_by_key(|r| (r.backend.place(), r.backend.name()));
    let order: Vec<&str> = routes.iter().map(|r| r.backend.name()).collect();
    assert_eq!(order, ["broken", "remote", "last"]);
    let err = execute(
        &work(1),
        signers(signer::TestSigner::new()),
        &log::TestLog::default(),
        &routes,
    )
    .err()
    .expect("the broken backend fails the run");
    assert!(err.message.contains("broken backend"), "{}", err.message);
    assert_eq!(err.code, 1);
    // "broken" stored first and failed, so nothing was stored, and both others were told.
    assert!(record.batches().is_empty());
    let mut told = record.failures();
    told.sort();
    assert_eq!(told, ["last", "remote"]);
}

#[test]
fn a_signer_that_fails_stores_nothing() {
    let record = backend::Record::default();
    let err = execute(
        &work(2),
        signers(signer::TestSigner::new().failing_after(1)),
        &log::TestLog::default(),
        &[route(backend::TestBackend::new("test", &record))],
    )
    .err()
    .expect("signing fails");
    assert!(
        err.message.contains("test signer refused"),
        "{}",
        err.message
    );
    assert!(record.batches().is_empty());
    assert!(
        record.failures().is_empty(),
        "nothing was stored, so nothing to mark"
    );
}

#[test]
fn a_remote_signer_signs_many_images_at_once_and_keeps_their_order() {
    let record = backend::Record::default();
    let stored = execute(
        &work(40),
        signers(signer::TestSigner::new().parallel(8)),
        &log::TestLog::default(),
        &[route(backend::TestBackend::new("test", &record))],
    )
    .unwrap();
    for (n, sig) in stored.signatures.iter().enumerate() {
        assert_eq!(sig.image, image(n));
        let expected = chainlet::signing::base64(&signer::signature_of(
            format!("payload of image {n}").as_bytes(),
        ));
        assert_eq!(sig.signature, expected);
    }
}
