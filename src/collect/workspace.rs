//! Workspace subjects: artifacts chainlet finds in the pod's workspaces itself, for Tasks that
//! build more than their results can name (Tekton caps results at 4 KiB).
//!
//! - `--oci-layout DIR[=REPOSITORY]`: every manifest and index listed in an OCI image layout's
//!   `index.json` is an image (signed, and given the attestation, like a type-hinted image);
//! - `--digest-file PATH[=IMAGE]`: the digest files image builders write ([`digest_file`]);
//! - `--hash GLOB[=PREFIX]`: files hashed here, named by their path in the workspace.
//!
//! Everything read must lie inside a `--workspace` root (default `/workspace`) once symlinks are
//! resolved, must be a regular file, and never inside the directories that hold chainlet's own
//! inputs (signing secrets, config, credentials) or the system's (`/etc`, `/proc`, `/sys`,
//! `/dev`). Each file is checked again on its open handle, so a link swapped in between is
//! caught too. A violation fails the run before anything is signed or stored.

pub mod digest_file;
pub mod glob;
pub mod layout;

use std::io::Read as _;
use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use sha2::Digest as _;

use crate::Failure;
use crate::cli::{AttestArgs, HashAlgorithm};
use crate::subjects::reference::{ImageRef, parse_repository};

/// The workspace root when no `--workspace` is given.
pub const DEFAULT_ROOT: &str = "/workspace";
/// At most this many files may be hashed in one run.
pub const MAX_HASHED_FILES: usize = 10_000;
/// A glob walk looks at no more than this many directory entries in all.
pub const MAX_WALKED_ENTRIES: usize = 200_000;
/// `index.json` and digest files: at most this many bytes each.
pub const MAX_INDEX_BYTES: u64 = 1024 * 1024;
/// A manifest blob of a layout: at most this many bytes.
pub const MAX_MANIFEST_BYTES: u64 = 4 * 1024 * 1024;
/// How many bytes a hashing thread reads at a time.
const READ_BUFFER: usize = 1024 * 1024;

/// The system's directories that are never read, whatever the workspace roots say.
const SYSTEM_DIRS: &[&str] = &["/etc", "/proc", "/sys", "/dev", "/tekton/creds"];

/// Whether an artifact found in the workspace is an image (signed, and given the attestation)
/// or a file (a subject only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Image,
    File,
}

/// An artifact found in the workspace. Images are named as type hinting names them
/// (`registry/repository`, normalised); files by their path relative to the workspace root,
/// or `PREFIX` + that path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WorkspaceSubject {
    pub kind: Kind,
    pub name: String,
    /// `sha256` or `sha512`.
    pub algorithm: String,
    /// Lowercase hex.
    pub hex: String,
}

/// A path that may not be read, and why: one line, naming the path.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {problem}")]
pub struct WorkspaceError {
    pub path: String,
    pub problem: String,
}

fn err(path: impl AsRef<Path>, problem: impl Into<String>) -> WorkspaceError {
    WorkspaceError {
        path: path.as_ref().display().to_string(),
        problem: problem.into(),
    }
}

/// Whether any workspace-subject flag was given.
pub fn requested(args: &AttestArgs) -> bool {
    [&args.oci_layouts, &args.digest_files, &args.hash]
        .iter()
        .any(|v| v.iter().any(|s| !s.trim().is_empty()))
}

/// Reads the workspace subjects the flags ask for, sorted (images, then files, each by name)
/// and without repeats. Nothing is asked for: nothing is read.
pub fn collect(args: &AttestArgs) -> Result<Vec<WorkspaceSubject>, Failure> {
    if !requested(args) {
        return Ok(Vec::new());
    }
    let flags = Flags::parse(args).map_err(Failure::usage)?;
    let mut forbidden: Vec<PathBuf> = vec![
        args.signing_secrets.clone(),
        args.serviceaccount_dir.clone(),
    ];
    forbidden.extend(args.config_dir.iter().cloned());
    forbidden.extend(args.docker_config.iter().cloned());
    forbidden.extend(std::env::var_os("DOCKER_CONFIG").map(PathBuf::from));
    forbidden.extend(std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")));
    forbidden.extend(SYSTEM_DIRS.iter().map(PathBuf::from));
    let roots = Roots::new(&flags.roots, &forbidden).map_err(Failure::run)?;
    let started = std::time::Instant::now();
    let mut out = Vec::new();
    for (dir, repo) in &flags.layouts {
        out.extend(read_layout(&roots, dir, repo.as_deref()).map_err(Failure::run)?);
    }
    for (path, image) in &flags.digest_files {
        out.extend(read_digest_file(&roots, path, image.as_deref()).map_err(Failure::run)?);
    }
    let found = find_files(&roots, &flags.hash).map_err(Failure::run)?;
    let hashed = hash_files(&roots, &found, flags.algorithm).map_err(Failure::run)?;
    let alg = flags.algorithm.name();
    for (file, hex) in found.iter().zip(hashed) {
        out.push(WorkspaceSubject {
            kind: Kind::File,
            name: file.name.clone(),
            algorithm: alg.to_owned(),
            hex,
        });
    }
    out.sort();
    out.dedup();
    tracing::info!(
        images = out.iter().filter(|s| s.kind == Kind::Image).count(),
        files = found.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "read workspace subjects"
    );
    Ok(out)
}

/// The flags, checked for form (exit 2 when malformed).
struct Flags {
    roots: Vec<PathBuf>,
    layouts: Vec<(PathBuf, Option<String>)>,
    digest_files: Vec<(PathBuf, Option<String>)>,
    hash: Vec<(String, Option<String>)>,
    algorithm: HashAlgorithm,
}

impl Flags {
    fn parse(args: &AttestArgs) -> Result<Flags, String> {
        let given = |v: &[String]| -> Vec<String> {
            v.iter()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        };
        let mut roots: Vec<PathBuf> = args
            .workspaces
            .iter()
            .filter(|p| !p.as_os_str().is_empty())
            .cloned()
            .collect();
        if roots.is_empty() {
            roots.push(PathBuf::from(DEFAULT_ROOT));
        }
        let split = |flag: &str, v: &str| -> Result<(String, Option<String>), String> {
            match v.split_once('=') {
                Some(("", _)) => Err(format!("{flag} {v:?}: no path before '='")),
                Some((a, "")) => Ok((a.to_owned(), None)),
                Some((a, b)) => Ok((a.to_owned(), Some(b.to_owned()))),
                None => Ok((v.to_owned(), None)),
            }
        };
        let mut layouts = Vec::new();
        for v in given(&args.oci_layouts) {
            let (dir, repo) = split("--oci-layout", &v)?;
            if let Some(r) = &repo {
                parse_repository(r)
                    .map_err(|p| format!("--oci-layout {v:?}: REPOSITORY {r:?} must be {p}"))?;
            }
            layouts.push((PathBuf::from(dir), repo));
        }
        let mut digest_files = Vec::new();
        for v in given(&args.digest_files) {
            let (path, image) = split("--digest-file", &v)?;
            digest_files.push((PathBuf::from(path), image));
        }
        let mut hash = Vec::new();
        for v in given(&args.hash) {
            let (pattern, prefix) = split("--hash", &v)?;
            glob::Glob::parse(&pattern).map_err(|p| format!("--hash {pattern:?}: {p}"))?;
            if let Some(p) = &prefix
                && !is_uri_prefix(p)
            {
                return Err(format!(
                    "--hash {v:?}: PREFIX {p:?} must start with a URI scheme, e.g. pkg:generic/ or https://host/"
                ));
            }
            hash.push((pattern, prefix));
        }
        Ok(Flags {
            roots,
            layouts,
            digest_files,
            hash,
            algorithm: args.hash_algorithm,
        })
    }
}

/// `scheme:` as RFC 3986 spells schemes (`pkg:`, `https:`).
fn is_uri_prefix(p: &str) -> bool {
    let Some((scheme, _)) = p.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !p.chars().any(char::is_control)
}

/// The confinement: canonical workspace roots and the directories never to read.
#[derive(Debug)]
pub struct Roots {
    roots: Vec<PathBuf>,
    forbidden: Vec<PathBuf>,
}

impl Roots {
    /// Each root must be a directory; none may hold, or lie in, a forbidden directory.
    pub fn new(roots: &[PathBuf], forbidden: &[PathBuf]) -> Result<Roots, WorkspaceError> {
        let forbidden: Vec<PathBuf> = forbidden
            .iter()
            .filter_map(|f| std::fs::canonicalize(f).ok())
            .collect();
        let mut out = Vec::new();
        for r in roots {
            let c = std::fs::canonicalize(r).map_err(|e| err(r, format!("workspace root: {e}")))?;
            if !c.is_dir() {
                return Err(err(r, "workspace root is not a directory"));
            }
            if let Some(f) = forbidden
                .iter()
                .find(|f| c.starts_with(f) || f.starts_with(&c))
            {
                return Err(err(
                    r,
                    format!(
                        "workspace root {} would take in {}, which chainlet never reads",
                        c.display(),
                        f.display()
                    ),
                ));
            }
            out.push(c);
        }
        Ok(Roots {
            roots: out,
            forbidden,
        })
    }

    /// The longest root that holds a canonical path.
    fn root_of(&self, canonical: &Path) -> Option<&Path> {
        self.roots
            .iter()
            .filter(|r| canonical.starts_with(r))
            .max_by_key(|r| r.as_os_str().len())
            .map(PathBuf::as_path)
    }

    /// Checks a canonical path: inside a root, outside everything forbidden.
    fn check(&self, shown: &Path, canonical: &Path, linked: bool) -> Result<(), WorkspaceError> {
        if let Some(f) = self.forbidden.iter().find(|f| canonical.starts_with(f)) {
            return Err(err(
                shown,
                format!(
                    "leads to {}, inside {}, which chainlet never reads",
                    canonical.display(),
                    f.display()
                ),
            ));
        }
        if self.root_of(canonical).is_none() {
            let how = if linked { "is a symlink to" } else { "is" };
            return Err(err(
                shown,
                format!(
                    "{how} {}, outside the workspace ({})",
                    canonical.display(),
                    self.describe()
                ),
            ));
        }
        Ok(())
    }

    fn describe(&self) -> String {
        self.roots
            .iter()
            .map(|r| r.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Resolves a path given in a flag (or found by a walk) to its canonical form, confined.
    pub fn resolve(&self, shown: &Path) -> Result<PathBuf, WorkspaceError> {
        let canonical = std::fs::canonicalize(shown).map_err(|e| err(shown, e.to_string()))?;
        let linked = std::fs::symlink_metadata(shown)
            .map(|m| m.file_type().is_symlink())
            .unwrap_or(false);
        self.check(shown, &canonical, linked)?;
        Ok(canonical)
    }

    /// Opens a resolved regular file for reading: never following a link swapped in since
    /// (`O_NOFOLLOW`), never blocking on a FIFO, and checked again on the handle itself (its
    /// type, and where `/proc/self/fd` says it is).
    pub fn open(&self, shown: &Path, canonical: &Path) -> Result<std::fs::File, WorkspaceError> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(canonical)
            .map_err(|e| {
                if e.raw_os_error() == Some(libc::ELOOP) {
                    err(shown, "was replaced by a symlink while being read")
                } else {
                    err(shown, e.to_string())
                }
            })?;
        let meta = file.metadata().map_err(|e| err(shown, e.to_string()))?;
        let t = meta.file_type();
        if !t.is_file() {
            return Err(err(
                shown,
                format!("is {}, not a regular file", describe_type(t)),
            ));
        }
        use std::os::fd::AsRawFd as _;
        // The one check that sees a directory swapped for a link after the walk resolved it:
        // without /proc to make it, the file is refused rather than trusted.
        let real =
            std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())).map_err(|e| {
                err(
                    shown,
                    format!("cannot check where the open file is (/proc/self/fd: {e})"),
                )
            })?;
        self.check(shown, &real, true)?;
        Ok(file)
    }

    /// Reads a small confined file whole.
    fn read_small(&self, shown: &Path, limit: u64) -> Result<Vec<u8>, WorkspaceError> {
        let canonical = self.resolve(shown)?;
        let file = self.open(shown, &canonical)?;
        let mut bytes = Vec::new();
        file.take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| err(shown, e.to_string()))?;
        if bytes.len() as u64 > limit {
            return Err(err(shown, format!("is larger than {limit} bytes")));
        }
        Ok(bytes)
    }
}

fn describe_type(t: std::fs::FileType) -> &'static str {
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_block_device() || t.is_char_device() {
        "a device"
    } else if t.is_symlink() {
        "a symlink"
    } else {
        "a special file"
    }
}

/// The images of an OCI layout: each `index.json` entry, its manifest blob present in the
/// layout with the size and digest the entry claims.
fn read_layout(
    roots: &Roots,
    dir: &Path,
    repository: Option<&str>,
) -> Result<Vec<WorkspaceSubject>, WorkspaceError> {
    let canonical = roots.resolve(dir)?;
    if !canonical.is_dir() {
        return Err(err(dir, "is not a directory (an OCI image layout is one)"));
    }
    let index_path = dir.join("index.json");
    let bytes = roots.read_small(&index_path, MAX_INDEX_BYTES)?;
    let entries = layout::parse_index(&bytes).map_err(|p| err(dir, p))?;
    if entries.is_empty() {
        return Err(err(&index_path, "lists no manifests"));
    }
    let mut out = Vec::new();
    for e in &entries {
        let hex = e.digest.strip_prefix("sha256:").unwrap_or_default();
        let blob_path = dir.join("blobs/sha256").join(hex);
        if e.size > MAX_MANIFEST_BYTES {
            return Err(err(
                dir,
                format!(
                    "{}: manifest size {} is over the {MAX_MANIFEST_BYTES} byte limit",
                    e.digest, e.size
                ),
            ));
        }
        let blob = roots
            .read_small(&blob_path, MAX_MANIFEST_BYTES)
            .map_err(|x| {
                if std::fs::symlink_metadata(&blob_path).is_err() {
                    err(
                        dir,
                        format!(
                            "{}: its manifest blob blobs/sha256/{hex} is missing",
                            e.digest
                        ),
                    )
                } else {
                    x
                }
            })?;
        let actual = hex_of(&sha2::Sha256::digest(&blob));
        if actual != hex || blob.len() as u64 != e.size {
            return Err(err(
                &blob_path,
                format!(
                    "is {} bytes with sha256:{actual}, but index.json says {} bytes with {}",
                    blob.len(),
                    e.size,
                    e.digest
                ),
            ));
        }
        let reference = layout::reference(e, repository).map_err(|p| err(dir, p))?;
        let image =
            ImageRef::parse(&reference).map_err(|p| err(dir, format!("{reference:?}: {p}")))?;
        out.push(image_subject(&image));
    }
    Ok(out)
}

fn read_digest_file(
    roots: &Roots,
    path: &Path,
    image: Option<&str>,
) -> Result<Vec<WorkspaceSubject>, WorkspaceError> {
    let bytes = roots.read_small(path, MAX_INDEX_BYTES)?;
    let text = String::from_utf8(bytes).map_err(|_| err(path, "is not UTF-8"))?;
    let (_, refs) = digest_file::parse(&text, image).map_err(|p| err(path, p))?;
    refs.iter()
        .map(|r| {
            ImageRef::parse(r)
                .map(|i| image_subject(&i))
                .map_err(|p| err(path, format!("{r:?}: {p}")))
        })
        .collect()
}

fn image_subject(image: &ImageRef) -> WorkspaceSubject {
    WorkspaceSubject {
        kind: Kind::Image,
        name: image.repo_name(),
        algorithm: "sha256".into(),
        hex: image.digest_hex.clone(),
    }
}

/// A file a `--hash` pattern matched.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Found {
    /// Its subject name.
    name: String,
    /// Where it was found (for errors).
    shown: PathBuf,
    /// What it resolves to (the file opened).
    target: PathBuf,
}

/// Every file the patterns match, sorted by name, without repeats.
fn find_files(
    roots: &Roots,
    patterns: &[(String, Option<String>)],
) -> Result<Vec<Found>, WorkspaceError> {
    let mut found: std::collections::BTreeMap<String, Found> = Default::default();
    let mut budget = MAX_WALKED_ENTRIES;
    for (pattern, prefix) in patterns {
        let g = glob::Glob::parse(pattern).map_err(|p| err(pattern, p))?;
        let base = if g.base.is_empty() {
            PathBuf::from(".")
        } else {
            PathBuf::from(&g.base)
        };
        let mut hits = Vec::new();
        if g.rest.is_empty() {
            let meta = std::fs::symlink_metadata(&base).map_err(|e| err(&base, e.to_string()))?;
            if meta.is_dir() {
                return Err(err(&base, "is a directory: DIR/** hashes every file in it"));
            }
            let target = roots.resolve(&base)?;
            let parent = base
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let parent = roots.resolve(parent)?;
            let file_name = base
                .file_name()
                .ok_or_else(|| err(&base, "names no file"))?;
            hits.push((parent.join(file_name), base.clone(), target));
        } else {
            let dir = roots.resolve(&base)?;
            if !dir.is_dir() {
                return Err(err(&base, "is not a directory"));
            }
            walk(roots, &dir, &base, &g.rest, &mut budget, &mut hits)?;
        }
        if hits.is_empty() {
            return Err(err(pattern, "--hash matches no file"));
        }
        for (located, shown, target) in hits {
            let root = roots.root_of(&located).ok_or_else(|| {
                err(
                    &shown,
                    format!("is outside the workspace ({})", roots.describe()),
                )
            })?;
            let rel = located
                .strip_prefix(root)
                .ok()
                .and_then(Path::to_str)
                .ok_or_else(|| err(&shown, "its path is not UTF-8"))?;
            if rel.chars().any(char::is_control) {
                return Err(err(&shown, "its path has a control character"));
            }
            let name = format!("{}{rel}", prefix.as_deref().unwrap_or(""));
            found.entry(name.clone()).or_insert(Found {
                name,
                shown,
                target,
            });
            if found.len() > MAX_HASHED_FILES {
                return Err(err(
                    pattern,
                    format!("--hash matches more than {MAX_HASHED_FILES} files in all"),
                ));
            }
        }
    }
    Ok(found.into_values().collect())
}

/// Walks a canonical directory for what `rest` matches: real directories are descended (when
/// some component can take them), symlinks are resolved and confined but never descended.
fn walk(
    roots: &Roots,
    dir: &Path,
    shown_dir: &Path,
    rest: &[glob::Component],
    budget: &mut usize,
    hits: &mut Vec<(PathBuf, PathBuf, PathBuf)>,
) -> Result<(), WorkspaceError> {
    // In name order, so that the first problem reported is the same on every run.
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| err(shown_dir, e.to_string()))? {
        entries.push(entry.map_err(|e| err(shown_dir, e.to_string()))?);
        if entries.len() > *budget {
            break;
        }
    }
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        if *budget == 0 {
            return Err(err(
                shown_dir,
                format!("--hash walked more than {MAX_WALKED_ENTRIES} entries; narrow the pattern"),
            ));
        }
        *budget -= 1;
        let raw = entry.file_name();
        let name = raw.to_string_lossy();
        let located = dir.join(&raw);
        let shown = shown_dir.join(&raw);
        let t = entry.file_type().map_err(|e| err(&shown, e.to_string()))?;
        let is_match = glob::ends(rest, &name);
        let nexts = glob::step(rest, &name);
        if t.is_dir() {
            for next in nexts {
                walk(roots, &located, &shown, next, budget, hits)?;
            }
        } else if t.is_symlink() {
            if !is_match && nexts.is_empty() {
                continue;
            }
            let target = roots.resolve(&shown)?;
            if target.is_dir() {
                continue; // links to directories are not followed
            }
            if is_match {
                hits.push((located, shown, target));
            }
        } else if is_match {
            if !t.is_file() {
                return Err(err(
                    &shown,
                    format!("is {}, not a regular file", describe_type(t)),
                ));
            }
            hits.push((located.clone(), shown, located));
        }
    }
    Ok(())
}

/// Hashes the files in parallel, one thread per core (a file is hashed by one thread: a hash
/// cannot be split), reading in 1 MiB blocks. The first error (in file order) wins.
fn hash_files(
    roots: &Roots,
    files: &[Found],
    alg: HashAlgorithm,
) -> Result<Vec<String>, WorkspaceError> {
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(files.len());
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let mut results: Vec<Option<Result<String, WorkspaceError>>> =
        (0..files.len()).map(|_| None).collect();
    let parts: Vec<Vec<(usize, Result<String, WorkspaceError>)>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut buf = vec![0u8; READ_BUFFER];
                    let mut done = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(f) = files.get(i) else { break };
                        let r = hash_one(roots, f, alg, &mut buf);
                        if r.is_err() {
                            stop.store(true, Ordering::Relaxed);
                        }
                        done.push((i, r));
                    }
                    done
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_default())
            .collect()
    });
    for (i, r) in parts.into_iter().flatten() {
        results[i] = Some(r);
    }
    let mut out = Vec::with_capacity(files.len());
    for (i, r) in results.into_iter().enumerate() {
        match r {
            Some(Ok(hex)) => out.push(hex),
            Some(Err(e)) => return Err(e),
            None => return Err(err(&files[i].shown, "was not hashed")),
        }
    }
    Ok(out)
}

fn hash_one(
    roots: &Roots,
    f: &Found,
    alg: HashAlgorithm,
    buf: &mut [u8],
) -> Result<String, WorkspaceError> {
    let mut file = roots.open(&f.shown, &f.target)?;
    let mut h = Hasher::new(alg);
    loop {
        match file.read(buf) {
            Ok(0) => break,
            Ok(n) => h.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(err(&f.shown, e.to_string())),
        }
    }
    Ok(h.hex())
}

enum Hasher {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl Hasher {
    fn new(alg: HashAlgorithm) -> Self {
        match alg {
            HashAlgorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            HashAlgorithm::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }
    fn update(&mut self, b: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(b),
            Hasher::Sha512(h) => h.update(b),
        }
    }
    fn hex(self) -> String {
        match self {
            Hasher::Sha256(h) => hex_of(&h.finalize()),
            Hasher::Sha512(h) => hex_of(&h.finalize()),
        }
    }
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "chainlet-ws-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::canonicalize(d).unwrap()
    }

    fn names(roots: &Roots, pattern: &str) -> Result<Vec<String>, WorkspaceError> {
        find_files(roots, &[(pattern.to_owned(), None)])
            .map(|f| f.into_iter().map(|x| x.name).collect())
    }

    #[test]
    fn globs_walk_the_workspace_and_name_files_by_relative_path() {
        let d = tmp("walk");
        let ws = d.join("ws");
        for f in [
            "dist/a.tgz",
            "dist/sub/b.tgz",
            "dist/.hidden/c.tgz",
            "dist/sub/notes.txt",
        ] {
            let p = ws.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, f).unwrap();
        }
        let roots = Roots::new(std::slice::from_ref(&ws), &[]).unwrap();
        let base = ws.display();
        assert_eq!(
            names(&roots, &format!("{base}/dist/**/*.tgz")).unwrap(),
            ["dist/a.tgz", "dist/sub/b.tgz"]
        );
        assert_eq!(
            names(&roots, &format!("{base}/dist/*")).unwrap(),
            ["dist/a.tgz"]
        );
        assert_eq!(
            names(&roots, &format!("{base}/dist/.hidden/c.tgz")).unwrap(),
            ["dist/.hidden/c.tgz"]
        );
        assert!(names(&roots, &format!("{base}/dist/*.zip")).is_err());
        let found = find_files(
            &roots,
            &[(format!("{base}/dist/a.tgz"), Some("pkg:generic/".into()))],
        )
        .unwrap();
        let hex = hash_files(&roots, &found, HashAlgorithm::Sha256).unwrap();
        assert_eq!(found[0].name, "pkg:generic/dist/a.tgz");
        assert_eq!(hex[0], hex_of(&sha2::Sha256::digest(b"dist/a.tgz")));
    }

    #[test]
    fn links_out_of_the_workspace_and_special_files_are_refused() {
        let d = tmp("escape");
        let ws = d.join("ws");
        let secrets = d.join("secrets");
        std::fs::create_dir_all(&ws).unwrap();
        std::fs::create_dir_all(&secrets).unwrap();
        std::fs::write(secrets.join("cosign.password"), "pw").unwrap();
        std::fs::write(d.join("outside"), "x").unwrap();
        std::fs::write(ws.join("inside"), "x").unwrap();
        std::os::unix::fs::symlink(secrets.join("cosign.password"), ws.join("pw")).unwrap();
        std::os::unix::fs::symlink(d.join("outside"), ws.join("out")).unwrap();
        std::os::unix::fs::symlink("inside", ws.join("ok-link")).unwrap();
        let roots = Roots::new(std::slice::from_ref(&ws), std::slice::from_ref(&secrets)).unwrap();
        let base = ws.display();
        let e = names(&roots, &format!("{base}/pw"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("never reads") && e.contains("/pw"), "{e}");
        let e = names(&roots, &format!("{base}/o*"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("outside the workspace"), "{e}");
        assert_eq!(names(&roots, &format!("{base}/ok-*")).unwrap(), ["ok-link"]);
        // A root that takes in the secrets is refused outright.
        assert!(Roots::new(std::slice::from_ref(&d), &[secrets]).is_err());
        // A FIFO never blocks the run.
        let fifo = ws.join("fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let e = names(&roots, &format!("{base}/fi*"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("FIFO"), "{e}");
        let canonical = roots.resolve(&fifo).unwrap();
        assert!(
            roots
                .open(&fifo, &canonical)
                .unwrap_err()
                .to_string()
                .contains("FIFO")
        );
    }
}
