//! The lossless guard of a read-modify-write tag (cosign's `.sig`/`.att` tags and the referrers
//! tag `sha256-<hex>`): the registry has no compare-and-swap, so another writer that read the
//! tag before our PUT can PUT its stale copy after it and erase our entry.
//!
//! Two checks, both re-applying on top of what is there now when our entry is gone:
//! - rounds: PUT, wait four times the (90th percentile) read → PUT window we saw ourselves,
//!   read back. This catches writers about as fast as chainlet (another chainlet).
//! - a last re-check before the backend returns: `grace` after our last PUT (or eight times
//!   our own slowest window, if that is longer: a slow registry makes every writer slow),
//!   every tag written is read once more. A writer as slow as `cosign attest`, which reads the
//!   tag, uploads its layers and PUTs ~120 ms later (~300 ms on a loaded machine), lands in
//!   that time. A loss found there is applied again and the grace waited again, doubled (a
//!   slow writer is at work); bounded by [`MAX_LAST_CHECKS`] and the run's deadline.
//!
//! A writer slower than the grace can still erase an entry; the referrers API (no shared tag)
//! is the real fix, and chainlet uses it where the registry has it.

use std::time::{Duration, Instant};

use super::{bounded, p90};
use crate::registry::jitter;
use crate::storage::StorageError;

/// How many times a tag is re-applied after other writers replaced it, per check.
pub const MAX_REAPPLY: u32 = 12;
/// How many last re-checks may find a loss before the run gives up.
pub const MAX_LAST_CHECKS: u32 = 4;
/// The default grace before the last re-check (`--registry-settle`).
pub const DEFAULT_GRACE: Duration = Duration::from_millis(500);

/// One read → PUT from the last read: the window it took, `None` when ours was there.
pub type PutFn<'a, T, S> = &'a (dyn Fn(&T, &S) -> Result<Option<Duration>, StorageError> + Sync);
/// Reads the tag: whether our entries are all there, and what it holds.
pub type CheckFn<'a, T, S> = &'a (dyn Fn(&T) -> Result<(bool, S), StorageError> + Sync);

/// How one kind of tag is written and checked. `S` is what a read of the tag returned, handed
/// to the next PUT so it builds on it.
pub struct Tags<'a, T, S> {
    pub grace: Duration,
    pub deadline: Instant,
    pub label: &'a (dyn Fn(&T) -> String + Sync),
    pub put: PutFn<'a, T, S>,
    pub check: CheckFn<'a, T, S>,
}

/// What the guard did, for logs and the bench.
#[derive(Debug, Default, Clone, Copy)]
pub struct Outcome {
    /// Tags re-applied after a read-back in the rounds.
    pub reapplied: u32,
    /// Tags found erased by the last re-check (a slow writer).
    pub late_losses: u32,
    /// Time spent waiting for the last re-check.
    pub waited: Duration,
}

impl<T: Sync, S: Clone + Send + Sync> Tags<'_, T, S> {
    fn past_deadline(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Writes every pending tag and guards it as the module doc says.
    pub fn commit(&self, pending: Vec<(&T, S)>) -> Result<Outcome, StorageError> {
        let all: Vec<&T> = pending.iter().map(|(t, _)| *t).collect();
        let mut outcome = Outcome::default();
        let mut pending = pending;
        let mut grace = self.grace;
        let mut check = 0;
        loop {
            let (last_put, longest) = self.rounds(pending, &mut outcome)?;
            if self.grace.is_zero() {
                return Ok(outcome);
            }
            if check == MAX_LAST_CHECKS {
                // Read back in place by the rounds just now, but slow writers kept erasing.
                tracing::warn!(
                    "oci: slow writers erased our entries {MAX_LAST_CHECKS} times; the last \
                     read-back has them"
                );
                return Ok(outcome);
            }
            let wanted = grace.max(longest * 8).min(Duration::from_secs(10));
            // Never wait into the deadline: half of what is left at most, so the reads after
            // the wait still fit.
            let left = self.deadline.saturating_duration_since(Instant::now());
            let wait = wanted.saturating_sub(last_put.elapsed()).min(left / 2);
            std::thread::sleep(wait);
            outcome.waited += wait;
            let checked = bounded(&all, |t| (self.check)(t))?;
            let lost: Vec<(&T, S)> = all
                .iter()
                .zip(checked)
                .filter(|(_, (kept, _))| !kept)
                .map(|(t, (_, latest))| (*t, latest))
                .collect();
            if lost.is_empty() {
                return Ok(outcome);
            }
            for (t, _) in &lost {
                tracing::warn!(tag = %(self.label)(t), "a slow writer replaced the tag after our read-back; applying our entries again");
            }
            outcome.late_losses += lost.len() as u32;
            pending = lost;
            grace *= 2;
            check += 1;
        }
    }

    /// PUT every pending tag, settle, read back, re-apply what was lost, in bounded rounds.
    /// Returns when the last PUT was made and the longest read → PUT window seen.
    fn rounds(
        &self,
        mut pending: Vec<(&T, S)>,
        outcome: &mut Outcome,
    ) -> Result<(Instant, Duration), StorageError> {
        let mut backoff = Duration::from_millis(20);
        let mut longest = Duration::ZERO;
        for round in 1..=MAX_REAPPLY {
            if round > 1 && self.past_deadline() {
                break;
            }
            let windows = bounded(&pending, |(t, last)| (self.put)(t, last))?;
            let last_put = Instant::now();
            let window = p90(windows.into_iter().flatten().collect());
            longest = longest.max(window);
            let settle = (window * 4).clamp(Duration::from_millis(5), Duration::from_secs(2));
            tracing::debug!(
                round,
                tags = pending.len(),
                ?window,
                ?settle,
                "oci: settling"
            );
            std::thread::sleep(settle);
            let checked = bounded(&pending, |(t, _)| (self.check)(t))?;
            let lost: Vec<(&T, S)> = pending
                .iter()
                .zip(checked)
                .filter(|(_, (kept, _))| !kept)
                .map(|((t, _), (_, latest))| (*t, latest))
                .collect();
            if lost.is_empty() {
                return Ok((last_put, longest));
            }
            for (t, _) in &lost {
                tracing::warn!(tag = %(self.label)(t), round, "another writer replaced the tag; applying our entries again");
            }
            outcome.reapplied += lost.len() as u32;
            pending = lost;
            std::thread::sleep(jitter(backoff));
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
        let ts: Vec<&T> = pending.iter().map(|(t, _)| *t).collect();
        Err(self.lost(&ts, MAX_REAPPLY))
    }

    fn lost(&self, ts: &[&T], attempts: u32) -> StorageError {
        let others = match ts.len() {
            0 | 1 => String::new(),
            n => format!(" and {} more tags", n - 1),
        };
        StorageError::Lost {
            target: format!(
                "{}{others}",
                ts.first().map(|t| (self.label)(t)).unwrap_or_default()
            ),
            attempts,
        }
    }
}
