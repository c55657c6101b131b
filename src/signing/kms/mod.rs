//! Signer `kms`: a key in a key management service, named by `signers.kms.kmsref`
//! (`hashivault://`, `awskms://`, `gcpkms://`, `azurekms://`), as Chains' KMS signer reads it.
//!
//! The reference's scheme picks a [`Provider`]; the provider reads its credentials (the
//! `signers.kms.auth.*` keys, the environment), fetches the public key once and returns a
//! [`RemoteSigner`](super::remote::RemoteSigner) whose every signature is one call to the
//! service under the run's deadline. A provider is one file here with a `PROVIDER` constant
//! and one line in [`PROVIDERS`].

pub mod awskms;
pub mod azurekms;
pub mod gcpkms;
pub mod hashivault;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use super::{OpenContext, Signer, SigningError};
use crate::config::Config;

/// A KMS by the scheme of its key references.
pub struct Provider {
    /// Without `://`: `hashivault`.
    pub scheme: &'static str,
    /// What a reference looks like, for errors: `hashivault://KEY`.
    pub shape: &'static str,
    /// Checks the part after `scheme://` before the run (no network): a malformed reference is
    /// a usage error, exit 2.
    pub check: fn(&str) -> Result<(), String>,
    pub open: fn(&KmsContext<'_>) -> Result<Arc<dyn Signer>, SigningError>,
}

/// Every KMS chainlet signs with.
pub const PROVIDERS: &[Provider] = &[
    hashivault::PROVIDER,
    hashivault::OPENBAO,
    awskms::PROVIDER,
    gcpkms::PROVIDER,
    azurekms::PROVIDER,
];

/// The schemes Chains (sigstore's KMS clients) knows.
const KNOWN: &[&str] = &["hashivault", "openbao", "awskms", "gcpkms", "azurekms"];

/// What a provider may read to open its key.
pub struct KmsContext<'a> {
    /// The whole reference, for logs and errors: `hashivault://release`.
    pub reference: &'a str,
    /// The part after `scheme://`.
    pub key: &'a str,
    pub config: &'a Config,
    /// The run's deadline: no call outlives it, retries included.
    pub deadline: Instant,
    /// `--registry-ca` files, trusted for HTTPS besides the system's roots.
    pub registry_ca: &'a [PathBuf],
    /// The process environment (a test passes its own).
    pub env: &'a (dyn Fn(&str) -> Option<String> + Sync),
}

impl KmsContext<'_> {
    /// A transport to the service: the run's deadline, the system's roots plus `--registry-ca`,
    /// plain HTTP only to `plain_http` (an `http://` address the user wrote).
    pub fn transport(&self, plain_http: Vec<crate::net::HostPort>) -> crate::net::Transport {
        super::remote_transport(self.deadline, self.registry_ca, plain_http)
    }

    /// A failure to open this key, naming the reference.
    pub fn error(&self, reason: impl Into<String>) -> SigningError {
        SigningError::Kms {
            reference: self.reference.to_owned(),
            reason: reason.into(),
        }
    }

    /// An environment variable, `None` when unset or empty.
    pub fn var(&self, name: &str) -> Option<String> {
        (self.env)(name).filter(|v| !v.is_empty())
    }
}

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Opens the key `signers.kms.kmsref` names.
pub fn open(ctx: &OpenContext<'_>) -> Result<Arc<dyn Signer>, SigningError> {
    open_with(ctx, &process_env)
}

/// [`open`] with an environment of the caller's.
pub fn open_with(
    ctx: &OpenContext<'_>,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<Arc<dyn Signer>, SigningError> {
    let reference = ctx.config.get("signers.kms.kmsref").trim();
    let (provider, key) = parse_reference(reference).map_err(|reason| SigningError::Kms {
        reference: if reference.is_empty() {
            "signers.kms.kmsref".into()
        } else {
            reference.to_owned()
        },
        reason,
    })?;
    (provider.open)(&KmsContext {
        reference,
        key,
        config: ctx.config,
        deadline: ctx.deadline,
        registry_ca: ctx.registry_ca,
        env,
    })
}

/// Checks a `signers.kms.kmsref` before anything runs: the config check calls it when an
/// artifact type signs with `kms`, so a typo is a usage error (exit 2), not a failed run.
pub fn check_reference(reference: &str) -> Result<(), String> {
    parse_reference(reference.trim())
        .map(|_| ())
        .map_err(|reason| {
            if reference.trim().is_empty() {
                format!("signers.kms.kmsref is {reason}")
            } else {
                format!("signers.kms.kmsref {:?}: {reason}", reference.trim())
            }
        })
}

fn schemes() -> String {
    KNOWN
        .iter()
        .map(|s| format!("{s}://"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn parse_reference(reference: &str) -> Result<(&'static Provider, &str), String> {
    if reference.is_empty() {
        return Err(
            "empty: signer kms needs a key reference such as hashivault://KEY, \
                    awskms:///alias/KEY, gcpkms://projects/…/cryptoKeyVersions/N or \
                    azurekms://VAULT.vault.azure.net/KEY"
                .into(),
        );
    }
    let Some((scheme, key)) = reference.split_once("://") else {
        return Err(format!(
            "not a KMS reference: expected one of {}",
            schemes()
        ));
    };
    let Some(provider) = PROVIDERS.iter().find(|p| p.scheme == scheme) else {
        return Err(if KNOWN.contains(&scheme) {
            format!("{scheme}:// keys are not supported yet")
        } else {
            format!(
                "unknown KMS scheme {scheme:?}: expected one of {}",
                schemes()
            )
        });
    };
    if key.is_empty() {
        return Err(format!(
            "no key after {scheme}://; expected {}",
            provider.shape
        ));
    }
    // The provider's own errors say what was expected.
    (provider.check)(key)?;
    Ok((provider, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_checked_before_the_run() {
        let e = check_reference("").unwrap_err();
        assert!(
            e.contains("signers.kms.kmsref") && e.contains("hashivault://"),
            "{e}"
        );
        let e = check_reference("vault://x").unwrap_err();
        assert!(e.contains("unknown KMS scheme \"vault\""), "{e}");
        let e = check_reference("my-key").unwrap_err();
        assert!(e.contains("not a KMS reference"), "{e}");
    }
}

#[cfg(test)]
mod provider_checks {
    use super::check_reference;

    #[test]
    fn malformed_references_are_refused_before_the_run() {
        for bad in [
            "gcpkms://projects/x",
            "azurekms://vault.example/",
            "awskms:///not an id",
            "hashivault://a/b",
        ] {
            let e = match check_reference(bad) {
                Ok(()) => panic!("{bad} passed"),
                Err(e) => e,
            };
            assert!(e.contains(bad) && e.contains("expected"), "{e}");
        }
        for good in [
            "gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1",
            "azurekms://vault.vault.azure.net/key",
            "awskms:///alias/release",
            "hashivault://release",
        ] {
            check_reference(good).unwrap();
        }
    }
}
