//! A test transparency log: every signed payload gets the next index.

use std::sync::atomic::{AtomicU64, Ordering};

use chainlet::transparency::{LogEntry, Signed, Transparency, TransparencyError};

#[derive(Default)]
pub struct TestLog {
    next: AtomicU64,
}

impl Transparency for TestLog {
    fn describe(&self) -> String {
        "test log".into()
    }

    fn log(&self, signed: &Signed<'_>) -> Result<Option<LogEntry>, TransparencyError> {
        let index = self.next.fetch_add(1, Ordering::SeqCst);
        Ok(Some(LogEntry {
            log_url: "https://log.example".into(),
            log_index: index,
            uuid: format!("{index:064x}"),
            log_id: "00".repeat(32),
            integrated_time: 0,
            body: signed.payload.bytes.clone(),
            kind: "hashedrekord".into(),
            kind_version: "0.0.1".into(),
            signed_entry_timestamp: None,
            inclusion_proof: None,
            timestamps: Vec::new(),
        }))
    }
}
