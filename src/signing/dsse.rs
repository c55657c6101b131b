//! DSSE envelopes (https://github.com/secure-systems-lab/dsse, protocol v1).

use serde::{Deserialize, Serialize};

use super::Signer;
use super::base64 as b64;

/// The payload type of in-toto statements.
pub const INTOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// A signed DSSE envelope. Field order is the one go-securesystemslib emits, so the JSON is the
/// same shape Chains stores.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Envelope {
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// Standard base64 (with padding) of the payload bytes.
    pub payload: String,
    pub signatures: Vec<Signature>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Signature {
    pub keyid: String,
    /// Standard base64 of the signature over the PAE.
    pub sig: String,
}

/// The Pre-Authentication Encoding: `DSSEv1 SP len(type) SP type SP len(body) SP body`, with
/// lengths as ASCII decimal.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + payload_type.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

/// Signs `payload` into a one-signature envelope with the signer's Chains-style key id.
pub fn sign(
    signer: &dyn Signer,
    payload_type: &str,
    payload: &[u8],
) -> Result<Envelope, super::SignError> {
    let sig = signer.sign(&pae(payload_type, payload))?;
    Ok(Envelope {
        payload_type: payload_type.to_owned(),
        payload: b64(payload),
        signatures: vec![Signature {
            keyid: signer.key_id(),
            sig: b64(&sig),
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_spec_example() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
    }

    #[test]
    fn pae_of_empty_payload_keeps_the_zero_length() {
        assert_eq!(pae("t", b""), b"DSSEv1 1 t 0 ");
    }
}
