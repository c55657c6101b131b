//! Image references with a digest, normalised as go-containerregistry's
//! `name.NewDigest(...).Repository.Name()` does, since that is the subject name Chains writes
//! and the repository cosign's tags live in.

use std::collections::BTreeMap;
use std::fmt;

use super::Artifact;

const DEFAULT_REGISTRY: &str = "index.docker.io";

/// `registry/repository@sha256:<hex>`, normalised: two spellings of one image
/// (`busybox`, `docker.io/library/busybox`) are equal, as Chains dedupes them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImageRef {
    pub registry: String,
    /// The repository path, with Docker Hub's implicit `library/` made explicit.
    pub repository: String,
    /// 64 lowercase hex characters of the sha256 manifest digest.
    pub digest_hex: String,
}

impl ImageRef {
    /// Parses `repo[:tag]@sha256:<64 hex>`. The tag is dropped.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut parts = s.split('@');
        let (Some(base), Some(digest), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err("expected exactly one '@' between the image and its digest".into());
        };
        let hex = digest
            .strip_prefix("sha256:")
            .ok_or("image digest must start with \"sha256:\"")?;
        if hex.len() != 64 || !hex.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
            return Err("image digest must be sha256: and 64 lowercase hex characters".into());
        }
        let base = strip_tag(base)?;
        let (registry, repository) = split_registry(base)?;
        Ok(Self {
            registry,
            repository,
            digest_hex: hex.to_owned(),
        })
    }

    /// The repository name as go-containerregistry's `Repository.Name()` gives it:
    /// `index.docker.io/library/busybox`, `gcr.io/foo/bar`.
    pub fn repo_name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The in-toto subject for this image.
    pub fn subject(&self) -> Artifact {
        Artifact {
            name: self.repo_name(),
            digest: BTreeMap::from([("sha256".to_owned(), self.digest_hex.clone())]),
        }
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@sha256:{}", self.repo_name(), self.digest_hex)
    }
}

/// Parses a repository name (`registry/path`, Docker Hub when the first component has no `.`
/// or `:`) into (registry, repository), as `storage.oci.repository` is read.
pub fn parse_repository(s: &str) -> Result<(String, String), String> {
    if s.contains('@') || strip_tag(s)? != s {
        return Err("a repository, without a tag or digest".into());
    }
    split_registry(s)
}

/// Removes a `:tag` (the last `:` not followed by a `/`), validating the tag.
fn strip_tag(base: &str) -> Result<&str, String> {
    match base.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => {
            if tag.is_empty()
                || tag.len() > 128
                || !tag
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
            {
                return Err(format!("invalid tag {tag:?}"));
            }
            Ok(repo)
        }
        _ => Ok(base),
    }
}

/// Splits `registry/repo`; the first component is a registry only when it contains `.` or
/// `:` (go-containerregistry does not special-case `localhost` as the Docker CLI does), otherwise
/// the image is on Docker Hub.
fn split_registry(base: &str) -> Result<(String, String), String> {
    let (registry, repo) = match base.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) => (first.to_owned(), rest),
        _ => (DEFAULT_REGISTRY.to_owned(), base),
    };
    let registry = if registry == "docker.io" {
        DEFAULT_REGISTRY.to_owned()
    } else {
        registry
    };
    if registry.is_empty()
        || !registry
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b':' | b'[' | b']'))
    {
        return Err(format!("invalid registry {registry:?}"));
    }
    // A `:` in the registry starts a port, which go-containerregistry parses as a URL's: digits
    // only (`pkg:generic/x` is no image). It must also be a port one can connect to: a URL
    // parser reads `:99999` as no port at all, and the registry's credentials would go to
    // whatever listens on 443.
    let port = match registry.rsplit_once(']') {
        Some((_, after)) => after.strip_prefix(':'),
        None if registry.starts_with('[') => return Err(format!("invalid registry {registry:?}")),
        None => registry.split_once(':').map(|(_, p)| p),
    };
    if let Some(port) = port {
        if port.is_empty() || !port.bytes().all(|c| c.is_ascii_digit()) {
            return Err(format!(
                "invalid registry {registry:?}: the port is not a number"
            ));
        }
        if !matches!(port.parse::<u32>(), Ok(1..=65535)) {
            return Err(format!(
                "invalid registry {registry:?}: the port {port} is not between 1 and 65535"
            ));
        }
    }
    // go-containerregistry v0.21 (the version Chains uses) wants 2 to 255 characters.
    if repo.len() < 2
        || repo.len() > 255
        || !repo
            .bytes()
            .all(|c| matches!(c, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'/' | b'-'))
    {
        return Err(format!(
            "invalid repository {repo:?} (2 to 255 characters of a-z 0-9 _ . / -)"
        ));
    }
    let repo = if registry == DEFAULT_REGISTRY && !repo.contains('/') {
        format!("library/{repo}")
    } else {
        repo.to_owned()
    };
    Ok((registry, repo))
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b4";

    fn name(s: &str) -> String {
        ImageRef::parse(&format!("{s}@sha256:{H}"))
            .unwrap()
            .repo_name()
    }

    #[test]
    fn normalises_like_go_containerregistry() {
        assert_eq!(name("gcr.io/foo/bar:tag"), "gcr.io/foo/bar");
        assert_eq!(name("busybox"), "index.docker.io/library/busybox");
        assert_eq!(name("docker.io/foo"), "index.docker.io/library/foo");
        assert_eq!(name("ubuntu/x"), "index.docker.io/ubuntu/x");
        assert_eq!(name("localhost:5000/a/b:v1"), "localhost:5000/a/b");
        assert_eq!(
            name("localhost/team/app"),
            "index.docker.io/localhost/team/app"
        );
        assert_eq!(name("127.0.0.1:5000/ab"), "127.0.0.1:5000/ab");
    }

    #[test]
    fn two_spellings_of_one_image_are_equal() {
        let a = ImageRef::parse(&format!("busybox@sha256:{H}")).unwrap();
        let b = ImageRef::parse(&format!("docker.io/library/busybox:1@sha256:{H}")).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn rejects_what_go_containerregistry_rejects() {
        for bad in [
            format!("GCR.io/Foo@sha256:{H}"),
            format!("gcr.io/foo@sha512:{H}"),
            format!("gcr.io/foo@sha256:{}", &H[1..]),
            format!("gcr.io/foo@sha256:{H}@sha256:{H}"),
            "gcr.io/foo".to_string(),
            format!("gcr.io/foo:@sha256:{H}"),
            format!("gcr.io/a@sha256:{H}"),
            format!("pkg:generic/hello@sha256:{H}"),
            format!("host:/ab@sha256:{H}"),
        ] {
            assert!(ImageRef::parse(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_port_that_cannot_be_connected_to_is_refused() {
        for port in ["99999", "0", "65536", "4294967297", "00000"] {
            let e = ImageRef::parse(&format!("127.0.0.1:{port}/app@sha256:{H}")).unwrap_err();
            assert!(
                e.contains(&format!("127.0.0.1:{port}")) && e.contains("between 1 and 65535"),
                "{e}"
            );
            assert!(parse_repository(&format!("127.0.0.1:{port}/app")).is_err());
        }
        assert_eq!(name("127.0.0.1:65535/ab"), "127.0.0.1:65535/ab");
        assert_eq!(name("[::1]:1/ab"), "[::1]:1/ab");
    }

    #[test]
    fn empty_path_components_are_kept_as_go_containerregistry_keeps_them() {
        // go-containerregistry checks a repository's characters and length only, so Chains
        // names such an image as written; the registry refuses it when it is pushed to.
        assert_eq!(name("gcr.io/foo//bar"), "gcr.io/foo//bar");
    }
}
