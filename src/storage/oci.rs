//! Storage `oci`: signatures and attestations next to the image, in cosign's tag layout.
//!
//! The tag layout is read-modify-write and has no compare-and-swap, so two writers of one tag
//! can erase each other's layer (cosign itself loses them). chainlet writes in two phases:
//! first, for every tag, upload the layers, read the tag and upload the new config (a failure
//! here changes no tag); then, per tag, read it once more right before the PUT (building on any
//! change another writer made meanwhile), PUT, wait a few times as long as that read → PUT
//! took, and read the tag back. If another writer replaced it without our layers, they are
//! applied again on top of what is there now, with jittered backoff, a bounded number of times.
//! This makes a lost layer unlikely, not impossible: the registry offers no atomic update.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::{Backend, Batch, StorageError};
use crate::registry::layout::{self, ImageManifest, Layer};
use crate::registry::{Client, Repo, jitter};
use crate::subjects::ImageRef;

/// How many tags are written at once.
const CONCURRENCY: usize = 8;
/// How many times a tag is re-applied after other writers replaced it.
const MAX_REAPPLY: u32 = 12;

pub struct OciBackend {
    client: Client,
    /// `storage.oci.repository`: where all signatures and attestations go instead.
    repository: Option<Repo>,
}

/// One tag and the layers it must end up holding.
struct Target {
    repo: Repo,
    tag: String,
    layers: Vec<Layer>,
}

impl OciBackend {
    pub fn new(client: Client, repository: Option<Repo>) -> Self {
        Self { client, repository }
    }

    fn repo_of(&self, image: &ImageRef) -> Repo {
        self.repository.clone().unwrap_or_else(|| Repo {
            registry: image.registry.clone(),
            repository: image.repository.clone(),
        })
    }

    fn targets(&self, batch: &Batch<'_>) -> Vec<Target> {
        let mut by_tag: BTreeMap<(Repo, String), Vec<Layer>> = BTreeMap::new();
        for sig in &batch.images {
            by_tag
                .entry((
                    self.repo_of(&sig.image),
                    layout::sig_tag(&sig.image.digest_hex),
                ))
                .or_default()
                .push(Layer::signature(sig.payload.clone(), &sig.signature));
        }
        if let Some(att) = batch.attestation {
            let envelope =
                serde_json::to_vec(&att.envelope).expect("serialising an envelope cannot fail");
            for image in &att.images {
                by_tag
                    .entry((self.repo_of(image), layout::att_tag(&image.digest_hex)))
                    .or_default()
                    .push(Layer::attestation(envelope.clone(), att.predicate_type));
            }
        }
        by_tag
            .into_iter()
            .map(|((repo, tag), layers)| Target { repo, tag, layers })
            .collect()
    }

    /// Phase one: upload the layers, read the tag, upload the config it will need. The layers
    /// go first so that the read-modify-write window (read → config → PUT) stays short.
    fn prepare(&self, t: &Target) -> Result<Option<Current>, StorageError> {
        for layer in &t.layers {
            self.client.push_blob(&t.repo, &layer.bytes)?;
        }
        let read_at = Instant::now();
        let current = self.read(t)?;
        if let Some(update) = layout::append(current.as_ref(), &t.layers) {
            self.client.upload_blob(&t.repo, &update.config)?;
            return Ok(Some(Current {
                manifest: current,
                read_at,
            }));
        }
        Ok(None) // every layer is there already
    }

    /// Phase two: re-read, PUT, then make sure the layers stayed.
    fn commit(&self, t: &Target, mut current: Current) -> Result<(), StorageError> {
        let mut backoff = Duration::from_millis(20);
        for attempt in 1..=MAX_REAPPLY {
            let Some(update) = layout::append(current.manifest.as_ref(), &t.layers) else {
                return Ok(());
            };
            if attempt > 1 {
                self.client.upload_blob(&t.repo, &update.config)?;
            }
            // Optimistic concurrency without a compare-and-swap: read the tag again right
            // before the PUT; if another writer changed it since our read, build on theirs.
            let read_at = Instant::now();
            let now = self.read(t)?;
            if layer_digests(now.as_ref()) != layer_digests(current.manifest.as_ref()) {
                current = Current {
                    manifest: now,
                    read_at,
                };
                continue;
            }
            current.read_at = read_at;
            match self
                .client
                .put_manifest(&t.repo, &t.tag, &update.manifest, &update.media_type)
            {
                Ok(_) => {}
                // Concurrent uploads of one blob (other TaskRuns signing the same image) can
                // leave the registry briefly without it: upload again and retry.
                Err(crate::registry::RegistryError::Status {
                    status: 400,
                    message,
                    ..
                }) if message.contains("BLOB_UNKNOWN") && attempt < MAX_REAPPLY => {
                    tracing::warn!(repo = %t.repo, tag = %t.tag, "registry lost a blob of ours; uploading again");
                    for layer in &t.layers {
                        self.client.push_blob(&t.repo, &layer.bytes)?;
                    }
                    self.client.push_blob(&t.repo, &update.config)?;
                    std::thread::sleep(jitter(backoff));
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
            // A writer that read the tag just before our PUT writes within about the time our
            // own last read → PUT took; wait a few times that long before checking.
            let settle = (current.read_at.elapsed() * 4)
                .clamp(Duration::from_millis(5), Duration::from_secs(2));
            std::thread::sleep(settle);
            let read_at = Instant::now();
            let latest = self.read(t)?;
            if latest
                .as_ref()
                .is_some_and(|m| t.layers.iter().all(|l| layout::contains(m, l)))
            {
                tracing::debug!(repo = %t.repo, tag = %t.tag, attempt, "stored");
                return Ok(());
            }
            tracing::warn!(repo = %t.repo, tag = %t.tag, attempt, "another writer replaced the tag; applying our layers again");
            std::thread::sleep(jitter(backoff));
            backoff = (backoff * 2).min(Duration::from_secs(2));
            current = Current {
                manifest: latest,
                read_at,
            };
        }
        Err(StorageError::Lost {
            target: format!("{}:{}", t.repo, t.tag),
            attempts: MAX_REAPPLY,
        })
    }

    fn read(&self, t: &Target) -> Result<Option<ImageManifest>, StorageError> {
        match self.client.get_manifest(&t.repo, &t.tag)? {
            None => Ok(None),
            Some(m) => Ok(Some(
                layout::parse(&t.tag, &m.bytes, &m.media_type).map_err(|e| {
                    StorageError::Layout {
                        repo: t.repo.to_string(),
                        source: e,
                    }
                })?,
            )),
        }
    }
}

fn layer_digests(m: Option<&ImageManifest>) -> Vec<&str> {
    m.map(|m| m.layers.iter().map(|l| l.digest.as_str()).collect())
        .unwrap_or_default()
}

struct Current {
    manifest: Option<ImageManifest>,
    read_at: Instant,
}

impl Backend for OciBackend {
    fn name(&self) -> &'static str {
        "oci"
    }

    fn store(&self, batch: &Batch<'_>) -> Result<(), StorageError> {
        let targets = self.targets(batch);
        let prepared = bounded(&targets, |t| self.prepare(t))?;
        let work: Vec<(&Target, Current)> = targets
            .iter()
            .zip(prepared)
            .filter_map(|(t, c)| c.map(|c| (t, c)))
            .collect();
        let work = Mutex::new(work.into_iter().map(Some).collect::<Vec<_>>());
        let count = work.lock().expect("not poisoned").len();
        let indices: Vec<usize> = (0..count).collect();
        bounded(&indices, |i| {
            let (t, c) = work.lock().expect("not poisoned")[*i]
                .take()
                .expect("each item is taken once");
            self.commit(t, c)
        })?;
        tracing::info!(tags = targets.len(), written = count, "oci: stored");
        Ok(())
    }
}

/// Runs `f` over `items` on up to [`CONCURRENCY`] threads; the first error wins.
fn bounded<T: Sync, R: Send>(
    items: &[T],
    f: impl Fn(&T) -> Result<R, StorageError> + Sync,
) -> Result<Vec<R>, StorageError> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<R, StorageError>>>> =
        Mutex::new((0..items.len()).map(|_| None).collect());
    let workers = CONCURRENCY.min(items.len());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= items.len() {
                        break;
                    }
                    let r = f(&items[i]);
                    let failed = r.is_err();
                    results.lock().expect("not poisoned")[i] = Some(r);
                    if failed {
                        // Stop handing out work; threads finish what they hold.
                        next.store(items.len(), Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let mut out = Vec::with_capacity(items.len());
    // Items left unprocessed after a failure are None; the failure is among the rest.
    for r in results
        .into_inner()
        .expect("not poisoned")
        .into_iter()
        .flatten()
    {
        out.push(r?);
    }
    Ok(out)
}
