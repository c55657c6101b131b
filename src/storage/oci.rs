//! Storage `oci`: signatures and attestations next to the image, in cosign's tag layout.
//!
//! The tag layout is read-modify-write and has no compare-and-swap, so two writers of one tag
//! can erase each other's layer (cosign itself loses them). chainlet writes in two phases:
//! first every layer blob (a failure here changes no tag); then, in rounds: read each tag,
//! upload its new config, read it again and PUT right away (building on any change made
//! meanwhile), wait once for all tags four times as long as the longest read → PUT took, and
//! read every tag back. Where another writer
//! replaced a tag without our layers, they are applied again on top of what is there now, with
//! jittered backoff, a bounded number of rounds; and a last re-check of every tag after a grace
//! period (`--registry-settle`) catches writers as slow as cosign (see [`guard`]).
//! This makes a lost layer unlikely, not impossible: the registry offers no atomic update.
//!
//! With `storage.oci.encoding-format: sigstore-bundle` the same run writes OCI 1.1 referrers
//! instead (see [`referrers`]).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::{Backend, Batch, Context, Registration, StorageError};
use crate::registry::layout::{self, ImageManifest, Layer};
use crate::registry::{Client, Repo, jitter};
use crate::subjects::ImageRef;

mod guard;
mod referrers;

/// How many tags are written at once.
const CONCURRENCY: usize = 8;

pub struct OciBackend {
    client: Client,
    /// `storage.oci.repository`: where all signatures and attestations go instead.
    repository: Option<Repo>,
    /// Tags read by `warm_up`, taken (once) by phase one.
    /// A failed read keeps its error, so a 4xx is not asked again.
    prefetched: Mutex<BTreeMap<(Repo, String), Prefetched>>,
    /// Blobs pushed to a repository during this run, one lock each.
    pushed: Mutex<BTreeMap<BlobKey, std::sync::Arc<Mutex<bool>>>>,
    /// `storage.oci.encoding-format: sigstore-bundle`: OCI 1.1 referrers instead of tags.
    bundles: bool,
    /// The wait before the last re-check of every tag written (`--registry-settle`).
    grace: Duration,
    /// The run's deadline.
    deadline: Instant,
}

/// A tag as `warm_up` read it, or the error it met.
type Prefetched = Result<Option<ImageManifest>, StorageError>;

/// A blob in a repository: (repository, sha256).
type BlobKey = (Repo, Vec<u8>);

/// One tag and the layers it must end up holding.
struct Target {
    repo: Repo,
    tag: String,
    layers: Vec<Layer>,
}

pub const REGISTRATION: Registration = Registration {
    name: crate::config::StorageName::Oci,
    open,
};

/// The backend for the flags' registry options and the `storage.oci.*` keys.
fn open(ctx: &Context<'_>) -> Result<Box<dyn Backend>, StorageError> {
    let repository =
        match ctx.config.get("storage.oci.repository") {
            "" => None,
            r => {
                let (registry, repository) = crate::subjects::reference::parse_repository(r)
                    .map_err(|e| StorageError::Config {
                        key: "storage.oci.repository",
                        message: format!("{r:?}: {e}"),
                    })?;
                Some(Repo {
                    registry,
                    repository,
                })
            }
        };
    let mut opts = ctx.registry.clone();
    // As in Chains (go-containerregistry's name.Insecure), `insecure` lets the repository's
    // registry be reached over plain HTTP.
    if ctx.config.get("storage.oci.repository.insecure") == "true" {
        let r = repository.as_ref().ok_or_else(|| StorageError::Config {
            key: "storage.oci.repository.insecure",
            message: "is set but storage.oci.repository is not".into(),
        })?;
        opts.insecure_registries.push(r.registry.clone());
    }
    let client = Client::new(opts)?;
    let mut backend = OciBackend::new(client, repository);
    backend.bundles = ctx.config.get("storage.oci.encoding-format") == "sigstore-bundle";
    backend.grace = ctx.registry_settle;
    backend.deadline = ctx.deadline;
    Ok(Box::new(backend))
}

impl OciBackend {
    pub fn new(client: Client, repository: Option<Repo>) -> Self {
        Self {
            client,
            repository,
            pushed: Mutex::default(),
            prefetched: Mutex::default(),
            bundles: false,
            grace: guard::DEFAULT_GRACE,
            deadline: Instant::now() + Duration::from_secs(120),
        }
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
                .push(with_certificate(
                    with_log_entry(
                        Layer::signature(sig.payload.clone(), &sig.signature),
                        sig.log_entry.as_ref(),
                    ),
                    sig.certificate.as_ref(),
                ));
        }
        // Format `tekton` has no envelope; the config check keeps it away from storage oci.
        if let Some((att, envelope)) = batch.attestation.and_then(|a| a.envelope().map(|e| (a, e)))
        {
            let envelope =
                serde_json::to_vec(envelope).expect("serialising an envelope cannot fail");
            for image in &att.images {
                by_tag
                    .entry((self.repo_of(image), layout::att_tag(&image.digest_hex)))
                    .or_default()
                    .push(with_certificate(
                        with_log_entry(
                            Layer::attestation(envelope.clone(), att.predicate_type),
                            att.log_entry.as_ref(),
                        ),
                        att.certificate.as_ref(),
                    ));
            }
        }
        by_tag
            .into_iter()
            .map(|((repo, tag), layers)| Target { repo, tag, layers })
            .collect()
    }

    /// Phase one: read every tag (a tag chainlet must not touch, or one that would grow past
    /// cosign's layer limit, fails the run here) and upload the layer blobs. A failure here
    /// changes no tag.
    fn prepare(&self, t: &Target) -> Result<Option<ImageManifest>, StorageError> {
        let prefetched = self
            .prefetched
            .lock()
            .expect("not poisoned")
            .remove(&(t.repo.clone(), t.tag.clone()));
        let current = match prefetched {
            Some(Ok(m)) => m,
            Some(Err(e)) => return Err(e),
            None => self.read(t)?,
        };
        layout::append(&t.tag, current.as_ref(), &t.layers).map_err(|e| self.layout_err(t, e))?;
        for layer in &t.layers {
            // A signature payload names one image and is new; an attestation envelope is the
            // same for every image of the run, so it is looked for first and pushed once.
            let ask_first = layer.media_type != layout::SIMPLESIGNING;
            self.push_once(&t.repo, &layer.bytes, ask_first)?;
        }
        Ok(current)
    }

    fn layout_err(&self, t: &Target, source: layout::LayoutError) -> StorageError {
        StorageError::Layout {
            repo: t.repo.to_string(),
            source,
        }
    }

    /// Pushes a blob once per repository and run, even when several threads want it at the
    /// same moment: concurrent uploads of one digest can make distribution briefly lose it.
    fn push_once(&self, repo: &Repo, bytes: &[u8], ask_first: bool) -> Result<(), StorageError> {
        use sha2::Digest as _;
        let key = (repo.clone(), sha2::Sha256::digest(bytes).to_vec());
        let slot = self
            .pushed
            .lock()
            .expect("not poisoned")
            .entry(key)
            .or_default()
            .clone();
        let mut done = slot.lock().expect("not poisoned");
        if !*done {
            if ask_first {
                self.client.push_blob(repo, bytes)?;
            } else {
                self.client.upload_blob(repo, bytes)?;
            }
            *done = true;
        }
        Ok(())
    }

    /// One PUT of phase two: from the last read of the tag, upload the config for it plus our
    /// layers, read the tag again (building on any change another writer made meanwhile) and
    /// PUT. A PUT that fails in a way worth retrying is retried from a fresh read, never with
    /// the old body. Returns how long the last read → PUT took, or `None` when the layers are
    /// there already.
    fn put(
        &self,
        t: &Target,
        current: &mut Option<ImageManifest>,
    ) -> Result<Option<Duration>, StorageError> {
        let mut lost_blob_retries = 0;
        let mut unavailable = 0;
        let mut backoff = Duration::from_millis(100);
        loop {
            let Some(update) = layout::append(&t.tag, current.as_ref(), &t.layers)
                .map_err(|e| self.layout_err(t, e))?
            else {
                return Ok(None);
            };
            // A config is new unless fresh tags share their layers (one attestation for many
            // images): pushed once without asking.
            self.push_once(&t.repo, &update.config, false)?;
            // Read once more right before the PUT, so the window in which another writer's
            // change could be overwritten is one read and one PUT long.
            let read_at = Instant::now();
            let now = self.read(t)?;
            if layer_digests(now.as_ref()) != layer_digests(current.as_ref()) {
                *current = now;
                continue;
            }
            match self
                .client
                .put_manifest(&t.repo, &t.tag, &update.manifest, &update.media_type)
            {
                Ok(_) => return Ok(Some(read_at.elapsed())),
                // Concurrent uploads of one blob (other TaskRuns signing the same image) can
                // leave the registry briefly without it: upload again and retry.
                Err(crate::registry::RegistryError::Status {
                    status: 400,
                    message,
                    ..
                }) if message.contains("BLOB_UNKNOWN") && lost_blob_retries < 3 => {
                    lost_blob_retries += 1;
                    tracing::warn!(repo = %t.repo, tag = %t.tag, "the registry lost a blob of ours; uploading again");
                    for layer in &t.layers {
                        self.client.upload_blob(&t.repo, &layer.bytes)?;
                    }
                    self.client.upload_blob(&t.repo, &update.config)?;
                    std::thread::sleep(jitter(Duration::from_millis(20)));
                    *current = self.read(t)?;
                }
                Err(crate::registry::RegistryError::Unavailable { message, .. })
                    if unavailable < 5 && !self.client.past_deadline() =>
                {
                    unavailable += 1;
                    tracing::debug!(repo = %t.repo, tag = %t.tag, "PUT failed ({message}); reading the tag again");
                    std::thread::sleep(jitter(backoff));
                    backoff *= 2;
                    *current = self.read(t)?;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Phase two: PUT every pending tag and guard it (see [`guard`]): read-back rounds, then a
    /// last re-check after the grace period against slower writers.
    fn commit(&self, pending: Vec<(&Target, Option<ImageManifest>)>) -> Result<(), StorageError> {
        let outcome = guard::Tags {
            grace: self.grace,
            deadline: self.deadline,
            label: &|t: &Target| format!("{}:{}", t.repo, t.tag),
            put: &|t: &Target, current: &Option<ImageManifest>| {
                let mut current = current.clone();
                self.put(t, &mut current)
            },
            check: &|t: &Target| {
                let latest = self.read(t)?;
                let kept = latest
                    .as_ref()
                    .is_some_and(|m| t.layers.iter().all(|l| layout::contains(m, l)));
                Ok((kept, latest))
            },
        }
        .commit(pending)?;
        tracing::debug!(?outcome, "oci: tags guarded");
        Ok(())
    }

    fn read(&self, t: &Target) -> Result<Option<ImageManifest>, StorageError> {
        match self.client.get_manifest(&t.repo, &t.tag)? {
            None => Ok(None),
            Some(m) => Ok(Some(
                layout::parse(&t.tag, &m.bytes, &m.media_type)
                    .map_err(|e| self.layout_err(t, e))?,
            )),
        }
    }
}

/// A layer with its transparency log entry as cosign reads it (`dev.sigstore.cosign/bundle`),
/// when the run logged one. The annotation is a function of the entry alone, so a re-run that
/// gets the same entry back (the log's 409) builds the same layer and adds nothing.
fn with_log_entry(mut layer: Layer, entry: Option<&crate::transparency::LogEntry>) -> Layer {
    use crate::transparency::bundle;
    if let Some(value) = entry.and_then(bundle::cosign_bundle_annotation) {
        layer
            .annotations
            .insert(bundle::COSIGN_BUNDLE_ANNOTATION.into(), value);
    }
    layer
}

/// cosign's certificate annotations on a layer signed with a certificate (keyless):
/// `dev.sigstore.cosign/certificate` (the leaf PEM) and `dev.sigstore.cosign/chain` (the rest).
fn with_certificate(mut layer: Layer, certificate: Option<&crate::signing::Certificate>) -> Layer {
    if let Some(c) = certificate {
        layer
            .annotations
            .insert(CERTIFICATE_ANNOTATION.into(), c.cert_pem.clone());
        if !c.chain_pem.is_empty() {
            layer
                .annotations
                .insert(CHAIN_ANNOTATION.into(), c.chain_pem.clone());
        }
    }
    layer
}

const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
const CHAIN_ANNOTATION: &str = "dev.sigstore.cosign/chain";

/// The 90th percentile of the read → PUT windows (the longest of up to ten): with many tags the
/// few slowest were slowed by our own queueing, not by the registry another writer sees.
fn p90(mut windows: Vec<Duration>) -> Duration {
    if windows.is_empty() {
        return Duration::ZERO;
    }
    windows.sort();
    windows[(windows.len() * 9 / 10).min(windows.len() - 1)]
}

fn layer_digests(m: Option<&ImageManifest>) -> Vec<&str> {
    m.map(|m| m.layers.iter().map(|l| l.digest.as_str()).collect())
        .unwrap_or_default()
}

impl Backend for OciBackend {
    fn name(&self) -> &'static str {
        "oci"
    }

    fn warm_up(&self, signed: &[ImageRef], attested: &[ImageRef]) {
        if self.bundles {
            return;
        }
        let mut tags: Vec<(Repo, String)> = signed
            .iter()
            .map(|i| (self.repo_of(i), layout::sig_tag(&i.digest_hex)))
            .chain(
                attested
                    .iter()
                    .map(|i| (self.repo_of(i), layout::att_tag(&i.digest_hex))),
            )
            .collect();
        tags.sort();
        tags.dedup();
        let _ = bounded(&tags, |(repo, tag)| {
            let t = Target {
                repo: repo.clone(),
                tag: tag.clone(),
                layers: Vec::new(),
            };
            let m = self.read(&t);
            self.prefetched
                .lock()
                .expect("not poisoned")
                .insert((repo.clone(), tag.clone()), m);
            Ok(())
        });
    }

    fn store(&self, batch: &Batch<'_>) -> Result<(), StorageError> {
        if batch.attestation.is_some_and(|a| a.images.is_empty()) {
            tracing::warn!(
                "storage oci: no subject of the statement is an image, so the attestation has no \
                 place in a registry; add storage file (--output-dir) to keep it"
            );
        }
        if self.bundles {
            let n = referrers::store(self, batch)?;
            tracing::info!(referrers = n, "oci: stored");
            return Ok(());
        }
        let targets = self.targets(batch);
        let read = bounded(&targets, |t| self.prepare(t))?;
        if !targets.is_empty() {
            self.commit(targets.iter().zip(read).collect())?;
        }
        tracing::info!(tags = targets.len(), "oci: stored");
        Ok(())
    }
}

/// Runs `f` over `items` on up to [`CONCURRENCY`] threads, results in item order; the first
/// error to happen is the one returned, and no new item starts after it.
fn bounded<T: Sync, R: Send>(
    items: &[T],
    f: impl Fn(&T) -> Result<R, StorageError> + Sync,
) -> Result<Vec<R>, StorageError> {
    let next = AtomicUsize::new(0);
    let first_error: Mutex<Option<StorageError>> = Mutex::new(None);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    let workers = CONCURRENCY.min(items.len());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= items.len() {
                        break;
                    }
                    match f(&items[i]) {
                        Ok(r) => results.lock().expect("not poisoned")[i] = Some(r),
                        Err(e) => {
                            first_error.lock().expect("not poisoned").get_or_insert(e);
                            // Stop handing out work; threads finish what they hold.
                            next.store(items.len(), Ordering::Relaxed);
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = first_error.into_inner().expect("not poisoned") {
        return Err(e);
    }
    Ok(results
        .into_inner()
        .expect("not poisoned")
        .into_iter()
        .map(|r| r.expect("every item ran when nothing failed"))
        .collect())
}
