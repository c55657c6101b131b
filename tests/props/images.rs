//! Image references (`subjects::ImageRef::parse`) and repositories
//! (`subjects::reference::parse_repository`, as `storage.oci.repository` is read).

use proptest::prelude::*;

use chainlet::subjects::{ImageRef, reference};

use crate::support::{self, any_string, near_str};

const REFS: &[&str] = &[
    "gcr.io/foo/bar@sha256:05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b4",
    "busybox:1.36@sha256:05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b4",
    "localhost:5000/team/app:v1@sha256:05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b4",
    "[::1]:5000/ab@sha256:05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b4",
    "docker.io/library/ubuntu@sha256:05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b4",
];

const REPOS: &[&str] = &[
    "gcr.io/foo/bar",
    "localhost:5000/team/app",
    "[::1]:5000/ab",
    "busybox",
    "docker.io/x/y",
];

proptest! {
    #![proptest_config(support::cases(512))]

    /// A reference parses or is refused; a parsed one prints as a reference that parses to
    /// the same image.
    #[test]
    fn image_refs_parse_or_fail(s in prop_oneof![3 => near_str(REFS), 1 => any_string()]) {
        if let Ok(image) = ImageRef::parse(&s) {
            let again = ImageRef::parse(&image.to_string());
            prop_assert_eq!(again.as_ref(), Ok(&image), "{} printed as {}", s, image);
            let _ = image.subject();
        }
    }

    /// A repository parses into registry and path or is refused.
    #[test]
    fn repositories_parse_or_fail(s in prop_oneof![3 => near_str(REPOS), 1 => any_string()]) {
        let _ = reference::parse_repository(&s);
    }
}
