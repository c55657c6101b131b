//! A test storage backend: remembers what it was asked to store, and can fail on purpose.

use std::sync::{Arc, Mutex};

use chainlet::storage::{Backend, Batch, Place, StorageError};

/// What a backend saw of one batch.
pub struct Stored {
    pub backend: &'static str,
    pub attestation_log_index: Option<u64>,
    /// The images signed, by the last path component of their repository.
    pub images: Vec<String>,
    /// Whether every part carried its signer's certificate.
    pub certificates: bool,
}

/// Shared by the backends of one test.
#[derive(Default, Clone)]
pub struct Record {
    batches: Arc<Mutex<Vec<Stored>>>,
    failures: Arc<Mutex<Vec<&'static str>>>,
}

impl Record {
    pub fn batches(&self) -> std::sync::MutexGuard<'_, Vec<Stored>> {
        self.batches.lock().unwrap()
    }

    pub fn failures(&self) -> Vec<&'static str> {
        self.failures.lock().unwrap().clone()
    }
}

pub struct TestBackend {
    name: &'static str,
    place: Place,
    fails: bool,
    record: Record,
}

impl TestBackend {
    pub fn new(name: &'static str, record: &Record) -> Self {
        Self {
            name,
            place: Place::Remote,
            fails: false,
            record: record.clone(),
        }
    }

    pub fn place(mut self, place: Place) -> Self {
        self.place = place;
        self
    }

    pub fn failing(mut self) -> Self {
        self.fails = true;
        self
    }
}

impl Backend for TestBackend {
    fn name(&self) -> &'static str {
        self.name
    }

    fn place(&self) -> Place {
        self.place
    }

    fn store(&self, batch: &Batch<'_>) -> Result<(), StorageError> {
        if self.fails {
            return Err(StorageError::Unavailable {
                backend: "test",
                message: "the broken backend fails on purpose".into(),
            });
        }
        let certificates = batch.attestation.iter().all(|a| a.certificate.is_some())
            && batch.images.iter().all(|i| i.certificate.is_some());
        self.record.batches().push(Stored {
            backend: self.name,
            attestation_log_index: batch
                .attestation
                .and_then(|a| a.log_entry.as_ref())
                .map(|e| e.log_index),
            images: batch
                .images
                .iter()
                .map(|i| {
                    i.image
                        .repository
                        .rsplit('/')
                        .next()
                        .unwrap_or("")
                        .to_owned()
                })
                .collect(),
            certificates,
        });
        Ok(())
    }

    fn record_failure(&self, _reason: &str) -> Result<(), StorageError> {
        self.record.failures.lock().unwrap().push(self.name);
        Ok(())
    }
}
