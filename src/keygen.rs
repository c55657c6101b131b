//! `chainlet generate-key-pair`: a cosign-compatible key pair.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::Failure;
use crate::cli::KeyPairArgs;
use crate::signing::{KeyPair, cosign_key};

/// Writes `P.key` (ECDSA P-256, encrypted as cosign does) and `P.pub`, refusing to overwrite.
pub fn run(args: &KeyPairArgs) -> Result<(), Failure> {
    let prefix = args.output_key_prefix.as_os_str().to_string_lossy();
    let key_path = PathBuf::from(format!("{prefix}.key"));
    let pub_path = PathBuf::from(format!("{prefix}.pub"));
    for p in [&key_path, &pub_path] {
        if p.exists() {
            return Err(Failure::run(format!(
                "{}: already exists; chainlet never overwrites a key",
                p.display()
            )));
        }
    }
    let password = password()?;
    let random = |e| Failure::run(format!("the operating system's random source failed: {e}"));
    let key = KeyPair::generate_p256().map_err(random)?;
    let encrypted = cosign_key::encrypt(&key, &password).map_err(random)?;
    let public = key.public_key_pem();
    write_new(&key_path, encrypted.as_bytes(), 0o600)?;
    if let Err(e) = write_new(&pub_path, public.as_bytes(), 0o644) {
        let _ = std::fs::remove_file(&key_path);
        return Err(e);
    }
    eprintln!(
        "Private key written to {}\nPublic key written to {}",
        key_path.display(),
        pub_path.display()
    );
    Ok(())
}

fn password() -> Result<Zeroizing<Vec<u8>>, Failure> {
    if let Some(p) = std::env::var_os("COSIGN_PASSWORD") {
        return Ok(Zeroizing::new(p.into_encoded_bytes()));
    }
    if !std::io::stdin().is_terminal() {
        return Err(Failure::usage(
            "no password: set COSIGN_PASSWORD (it may be empty) or run on a terminal",
        ));
    }
    let first = Zeroizing::new(
        rpassword::prompt_password("Enter password for private key: ").map_err(Failure::run)?,
    );
    let again = Zeroizing::new(
        rpassword::prompt_password("Enter password for private key again: ")
            .map_err(Failure::run)?,
    );
    if *first != *again {
        return Err(Failure::usage("passwords do not match"));
    }
    Ok(Zeroizing::new(first.as_bytes().to_vec()))
}

/// Creates a file that must not exist yet, with the given mode, through a temporary file and
/// a hard link, so a crash never leaves a half-written key and an existing file is never
/// replaced.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), Failure> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let err = |e: std::io::Error| Failure::run(format!("{}: {e}", path.display()));
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let temp = dir.join(format!(".chainlet-key-{}.tmp", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&temp)
        .map_err(err)?;
    let written = f.write_all(bytes).and_then(|_| f.sync_all());
    let linked = written.and_then(|_| std::fs::hard_link(&temp, path));
    let _ = std::fs::remove_file(&temp);
    linked.map_err(err)
}
