//! A test signer: a keyed checksum instead of a real signature, a certificate it carries, and
//! a switch to fail after some signatures (a remote signer can fail).

use std::sync::atomic::{AtomicUsize, Ordering};

use chainlet::signing::{Certificate, SignError, Signer};

pub const CERT: &str = "-----BEGIN CERTIFICATE-----\ntest\n-----END CERTIFICATE-----\n";

pub struct TestSigner {
    certificate: Certificate,
    signed: AtomicUsize,
    fail_after: Option<usize>,
    parallelism: usize,
}

/// What the test signer returns for a message.
pub fn signature_of(message: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    let mut d = sha2::Sha256::new();
    d.update(b"test-key");
    d.update(message);
    d.finalize().to_vec()
}

impl TestSigner {
    pub fn new() -> Self {
        Self {
            certificate: Certificate {
                cert_pem: CERT.into(),
                chain_pem: String::new(),
            },
            signed: AtomicUsize::new(0),
            fail_after: None,
            parallelism: 1,
        }
    }

    pub fn failing_after(mut self, n: usize) -> Self {
        self.fail_after = Some(n);
        self
    }

    pub fn parallel(mut self, n: usize) -> Self {
        self.parallelism = n;
        self
    }
}

impl Signer for TestSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        let n = self.signed.fetch_add(1, Ordering::SeqCst);
        if self.fail_after.is_some_and(|limit| n >= limit) {
            return Err(SignError {
                signer: self.describe(),
                reason: "the test signer refused".into(),
            });
        }
        Ok(signature_of(message))
    }

    fn public_key_der(&self) -> Vec<u8> {
        b"not a real key".to_vec()
    }

    fn key_id(&self) -> String {
        "test-key".into()
    }

    fn describe(&self) -> String {
        "test signer".into()
    }

    fn certificate(&self) -> Option<&Certificate> {
        Some(&self.certificate)
    }

    fn parallelism(&self) -> usize {
        self.parallelism
    }
}
