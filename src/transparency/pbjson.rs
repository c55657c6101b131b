//! Protobuf's JSON mapping, as the logs and Sigstore bundles write it.

use std::str::FromStr;

use serde::Deserialize;

/// A 64-bit integer (`int64`, `uint64`): protobuf JSON writes it as a string, and some writers
/// as a number; both are read. `Default` is zero, for fields protobuf JSON leaves out.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Int<T>(pub T);

impl<'de, T> Deserialize<'de> for Int<T>
where
    T: FromStr + Deserialize<'de>,
{
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either<T> {
            Number(T),
            Text(String),
        }
        match Either::<T>::deserialize(d)? {
            Either::Number(n) => Ok(Int(n)),
            Either::Text(s) => s
                .parse()
                .map(Int)
                .map_err(|_| serde::de::Error::custom(format!("{s:?} is not an integer in range"))),
        }
    }
}

/// A TransparencyLogEntry's `inclusionProof`, as the JSON has it (hashes still base64): what
/// Rekor v2 answers and what a Sigstore bundle's `tlogEntries` hold.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InclusionProofJson {
    #[serde(default)]
    pub log_index: Int<u64>,
    #[serde(default)]
    pub root_hash: String,
    #[serde(default)]
    pub tree_size: Int<u64>,
    #[serde(default)]
    pub hashes: Vec<String>,
    pub checkpoint: Option<CheckpointJson>,
}

/// The signed checkpoint (a signed note) an inclusion proof leads to.
#[derive(Debug, Default, Deserialize)]
pub struct CheckpointJson {
    #[serde(default)]
    pub envelope: String,
}

#[cfg(test)]
mod tests {
    use super::Int;

    #[test]
    fn numbers_and_strings_are_read_and_out_of_range_is_refused() {
        let read = |s: &str| serde_json::from_str::<Int<u64>>(s).map(|i| i.0);
        assert_eq!(read("7").unwrap(), 7);
        assert_eq!(read("\"18446744073709551615\"").unwrap(), u64::MAX);
        assert!(read("\"-1\"").is_err());
        assert!(read("-1").is_err());
        assert!(read("\"1e3\"").is_err());
        assert_eq!(serde_json::from_str::<Int<i64>>("\"-5\"").unwrap().0, -5);
    }
}
