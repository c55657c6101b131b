//! What the crate's unit tests share.

/// The shared test vectors: `$CHAINLET_FIXTURES`, default `../shared/fixtures` next to the
/// repository. `None` when absent, which with `CI=true` is a failure (CI runs every test).
pub fn fixtures() -> Option<std::path::PathBuf> {
    let dir = std::env::var_os("CHAINLET_FIXTURES")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures")
        });
    if dir.join("MANIFEST.md").is_file() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "no test vectors at {} (set CHAINLET_FIXTURES); with CI=true a test may not be skipped",
        dir.display()
    );
    eprintln!("SKIPPED: no test vectors at {}", dir.display());
    None
}
