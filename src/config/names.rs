//! Typed names for the values users write in `artifacts.*.storage` and `artifacts.*.signer`,
//! so that code matches on a name instead of comparing strings. The config has validated every
//! value against [`super::keys`] before one is turned into a name.

use std::fmt;

macro_rules! names {
    ($(#[$doc:meta])* $ty:ident { $($variant:ident = $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $ty {
            $($variant,)*
        }

        impl $ty {
            /// Every name, in the (sorted) order Chains runs them.
            pub const ALL: &[$ty] = &[$($ty::$variant,)*];

            /// The value as users write it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $text,)*
                }
            }

            /// The name of a config value, if it is one.
            pub fn parse(value: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|n| n.as_str() == value)
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

names! {
    /// A storage backend, as `artifacts.*.storage` lists it (sorted by name).
    StorageName {
        Archivista = "archivista",
        Docdb = "docdb",
        File = "file",
        Gcs = "gcs",
        Grafeas = "grafeas",
        Kafka = "kafka",
        Oci = "oci",
        Pubsub = "pubsub",
        Tekton = "tekton",
    }
}

names! {
    /// A signer, as `artifacts.*.signer` names it; `none` turns the artifact type off.
    SignerName {
        Kms = "kms",
        None = "none",
        X509 = "x509",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sorted_and_cover_every_config_value() {
        let sorted = |all: &[&str]| all.windows(2).all(|w| w[0] < w[1]);
        let storage: Vec<&str> = StorageName::ALL.iter().map(|n| n.as_str()).collect();
        let signers: Vec<&str> = SignerName::ALL.iter().map(|n| n.as_str()).collect();
        assert!(sorted(&storage) && sorted(&signers));
        for key in super::super::KEYS {
            let names: Option<&[&str]> = if key.name.ends_with(".storage") {
                Some(&storage)
            } else if key.name.ends_with(".signer") && key.name.starts_with("artifacts.") {
                Some(&signers)
            } else {
                None
            };
            if let Some(names) = names {
                for v in key.values {
                    assert!(names.contains(&v.name), "{} {}", key.name, v.name);
                }
            }
        }
    }
}
