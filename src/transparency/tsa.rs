//! RFC 3161 timestamps, for a log that gives no integrated time (Rekor v2): the time comes
//! from a timestamp authority's signed token over the artifact signature.
//!
//! What is timestamped is the signature bytes: the request's message imprint is SHA-256 of
//! them, as sigstore-go's `pkg/sign/timestamping.go` (`GetTimestamp`) asks and as its verifier
//! (`pkg/root/timestamping_authority.go`, through timestamp-authority's
//! `VerifyTimestampResponse`) checks. A Sigstore bundle's
//! `rfc3161Timestamps[].signedTimestamp` carries the whole `TimeStampResp` as the authority
//! answered (sigstore-go stores the HTTP body), not only the token inside it:
//! [`Timestamp::signed_timestamp`].
//!
//! The CMS (RFC 5652) and TSP (RFC 3161) structures are read with `der`'s strict DER reader,
//! one element at a time, so that the signed attributes are checked over the bytes as they
//! came; certificates are `x509-cert`'s.

use der::asn1::{AnyRef, ObjectIdentifier};
use der::{Decode as _, Encode as _, Reader as _, Tag, Tagged as _};
use sha2::{Digest as _, Sha256};
use x509_cert::Certificate;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TsaError {
    #[error("timestamp {part}: {problem}")]
    Malformed { part: &'static str, problem: String },
    #[error("timestamp authority did not grant the request: status {status}{text}")]
    NotGranted { status: String, text: String },
    #[error("timestamp: {0}")]
    Mismatch(String),
    #[error("timestamp: {0} is not supported")]
    Unsupported(String),
    #[error("timestamp authority's certificate chain: {0}")]
    Chain(String),
    #[error("timestamp: the {0} signature does not verify")]
    BadSignature(&'static str),
}

fn malformed(part: &'static str, problem: impl std::fmt::Display) -> TsaError {
    TsaError::Malformed {
        part,
        problem: problem.to_string(),
    }
}

/// A verified timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timestamp {
    /// The DER `TimeStampResp`: what a Sigstore bundle's `signedTimestamp` carries. For a bare
    /// token, the token wrapped in a response with status granted.
    pub signed_timestamp: Vec<u8>,
    /// The DER `TimeStampToken` (a CMS `ContentInfo` holding `SignedData`).
    pub token_der: Vec<u8>,
    /// The token's `genTime`, in seconds since the epoch (fractions dropped).
    pub gen_time: i64,
}

/// A timestamp request and the nonce it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The DER `TimeStampReq`, the body of a POST with `Content-Type:
    /// application/timestamp-query`.
    pub der: Vec<u8>,
    /// The random nonce the response must repeat.
    pub nonce: u64,
}

const SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const RSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const RSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const RSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");

use crate::pki::{CertKey, Hash};

fn hash_of(oid: ObjectIdentifier) -> Result<Hash, TsaError> {
    Hash::from_oid(oid).ok_or_else(|| TsaError::Unsupported(format!("digest algorithm {oid}")))
}

impl From<crate::pki::ChainError> for TsaError {
    fn from(e: crate::pki::ChainError) -> Self {
        match e {
            crate::pki::ChainError::Chain(m) => TsaError::Chain(m),
            crate::pki::ChainError::Unsupported(m) => TsaError::Unsupported(m),
        }
    }
}

/// The chain: the leaf may stamp time (timeStamping EKU) and is valid at `at`; each certificate
/// is signed by the next, which is a CA valid at `at`; the last (the root) is the anchor.
fn check_chain(chain: &[(Certificate, &[u8])], at: i64) -> Result<(), TsaError> {
    Ok(crate::pki::check_chain(
        chain,
        at,
        TIME_STAMPING,
        "timeStamping",
    )?)
}

/// The elements of one constructed DER value, read in order.
struct Elements<'a> {
    reader: der::SliceReader<'a>,
    part: &'static str,
}

impl<'a> Elements<'a> {
    /// The elements inside `any`, which must have tag `tag`.
    fn of(any: AnyRef<'a>, tag: Tag, part: &'static str) -> Result<Self, TsaError> {
        if any.tag() != tag {
            return Err(malformed(
                part,
                format!("{} where {tag} was expected", any.tag()),
            ));
        }
        Ok(Self {
            reader: der::SliceReader::new(any.value()).map_err(|e| malformed(part, e))?,
            part,
        })
    }

    /// The elements of the single DER value that is all of `bytes`.
    fn parse(bytes: &'a [u8], tag: Tag, part: &'static str) -> Result<Self, TsaError> {
        let any = AnyRef::from_der(bytes).map_err(|e| malformed(part, e))?;
        Self::of(any, tag, part)
    }

    fn next(&mut self, what: &str) -> Result<AnyRef<'a>, TsaError> {
        if self.reader.is_finished() {
            return Err(malformed(self.part, format!("{what} is missing")));
        }
        AnyRef::decode(&mut self.reader).map_err(|e| malformed(self.part, format!("{what}: {e}")))
    }

    fn next_tagged(&mut self, tag: Tag, what: &str) -> Result<AnyRef<'a>, TsaError> {
        let any = self.next(what)?;
        if any.tag() != tag {
            return Err(malformed(
                self.part,
                format!("{what} is {} where {tag} was expected", any.tag()),
            ));
        }
        Ok(any)
    }

    /// The next element when it has tag `tag`.
    fn optional(&mut self, tag: Tag) -> Result<Option<AnyRef<'a>>, TsaError> {
        match Tag::peek(&self.reader) {
            Ok(t) if t == tag && !self.reader.is_finished() => self.next("an element").map(Some),
            _ => Ok(None),
        }
    }

    fn oid(&mut self, what: &str) -> Result<ObjectIdentifier, TsaError> {
        let any = self.next_tagged(Tag::ObjectIdentifier, what)?;
        any.decode_as::<ObjectIdentifier>()
            .map_err(|e| malformed(self.part, format!("{what}: {e}")))
    }

    /// The algorithm OID of an AlgorithmIdentifier (its parameters are not read).
    fn algorithm(&mut self, what: &str) -> Result<ObjectIdentifier, TsaError> {
        let any = self.next_tagged(Tag::Sequence, what)?;
        Elements::of(any, Tag::Sequence, self.part)?.oid(what)
    }

    fn rest(&mut self) -> Result<Vec<AnyRef<'a>>, TsaError> {
        let mut all = Vec::new();
        while !self.reader.is_finished() {
            all.push(self.next("an element")?);
        }
        Ok(all)
    }

    fn end(&self) -> Result<(), TsaError> {
        if self.reader.is_finished() {
            Ok(())
        } else {
            Err(malformed(self.part, "unexpected data after the last field"))
        }
    }
}

fn context(number: u32, constructed: bool) -> Tag {
    Tag::ContextSpecific {
        constructed,
        number: der::TagNumber(number),
    }
}

/// The full DER of an element (tag, length and value).
fn der_of(any: AnyRef<'_>, part: &'static str) -> Result<Vec<u8>, TsaError> {
    any.to_der().map_err(|e| malformed(part, e))
}

fn u64_integer(n: u64) -> Vec<u8> {
    // A u64 encodes as an INTEGER; this cannot fail.
    n.to_der().unwrap_or_default()
}

/// A `TimeStampReq` for `signature` with a fresh random nonce: version 1, message imprint
/// SHA-256 of the signature bytes, certReq true.
pub fn request(signature: &[u8]) -> Result<Request, getrandom::Error> {
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce)?;
    let nonce = u64::from_be_bytes(nonce);
    Ok(Request {
        der: request_with_nonce(signature, nonce),
        nonce,
    })
}

/// The `TimeStampReq` of [`request`] with a given nonce.
pub fn request_with_nonce(signature: &[u8], nonce: u64) -> Vec<u8> {
    fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = value.len();
        if len < 0x80 {
            out.push(len as u8);
        } else {
            let bytes = len.to_be_bytes();
            let skip = bytes.iter().take_while(|b| **b == 0).count();
            out.push(0x80 | (bytes.len() - skip) as u8);
            out.extend(bytes.iter().skip(skip));
        }
        out.extend_from_slice(value);
        out
    }
    let sha256_alg = tlv(
        0x30,
        &[
            tlv(
                0x06,
                &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01],
            ),
            vec![0x05, 0x00],
        ]
        .concat(),
    );
    let imprint = tlv(
        0x30,
        &[sha256_alg, tlv(0x04, &Sha256::digest(signature))].concat(),
    );
    let body = [
        vec![0x02, 0x01, 0x01], // version v1
        imprint,
        u64_integer(nonce),
        vec![0x01, 0x01, 0xff], // certReq TRUE
    ]
    .concat();
    tlv(0x30, &body)
}

/// Verifies a timestamp authority's answer to [`request`]: status granted, the token over
/// `signature` with `nonce`, signed by the leaf of `chain` (DER certificates, leaf first,
/// root last, as a trusted root's `certChain` lists them).
pub fn verify_response<C: AsRef<[u8]>>(
    resp_der: &[u8],
    signature: &[u8],
    nonce: u64,
    chain: &[C],
) -> Result<Timestamp, TsaError> {
    let token = response_token(resp_der)?;
    let gen_time = verify(&token, signature, Some(nonce), chain)?;
    Ok(Timestamp {
        signed_timestamp: resp_der.to_vec(),
        token_der: token,
        gen_time,
    })
}

/// Verifies a timestamp read back (from a bundle): `token_der` is a `TimeStampResp` (what a
/// bundle's `signedTimestamp` carries) or a bare `TimeStampToken`. No nonce is checked.
pub fn verify_token<C: AsRef<[u8]>>(
    token_der: &[u8],
    signature: &[u8],
    chain: &[C],
) -> Result<Timestamp, TsaError> {
    let (response, token) = split(token_der)?;
    let gen_time = verify(&token, signature, None, chain)?;
    Ok(Timestamp {
        signed_timestamp: response,
        token_der: token,
        gen_time,
    })
}

/// A `TimeStampResp` and the token inside it, from either.
fn split(der: &[u8]) -> Result<(Vec<u8>, Vec<u8>), TsaError> {
    let mut outer = Elements::parse(der, Tag::Sequence, "token")?;
    let first = outer.next("the first field")?;
    if first.tag() == Tag::Sequence {
        return Ok((der.to_vec(), response_token(der)?));
    }
    // A bare ContentInfo: wrapped as the response with status granted.
    let mut body = vec![0x30, 0x03, 0x02, 0x01, 0x00];
    body.extend_from_slice(der);
    let any = AnyRef::new(Tag::Sequence, &body[..]).map_err(|e| malformed("token", e))?;
    Ok((der_of(any, "token")?, der.to_vec()))
}

/// The token inside a `TimeStampResp` whose status is granted (0) or granted with mods (1).
fn response_token(resp_der: &[u8]) -> Result<Vec<u8>, TsaError> {
    const PART: &str = "response";
    let mut resp = Elements::parse(resp_der, Tag::Sequence, PART)?;
    let status_info = resp.next_tagged(Tag::Sequence, "the status")?;
    let mut status = Elements::of(status_info, Tag::Sequence, PART)?;
    let code = status.next_tagged(Tag::Integer, "the status")?;
    let text = status
        .optional(Tag::Sequence)?
        .map(|s| {
            let strings = Elements::of(s, Tag::Sequence, PART)
                .and_then(|mut e| e.rest())
                .unwrap_or_default();
            let words: Vec<String> = strings
                .iter()
                .map(|a| String::from_utf8_lossy(a.value()).into_owned())
                .collect();
            format!(" ({})", words.join("; "))
        })
        .unwrap_or_default();
    if !matches!(code.value(), [0] | [1]) {
        let status = match code.value() {
            [n] => n.to_string(),
            other => format!("{other:02x?}"),
        };
        return Err(TsaError::NotGranted {
            status,
            text: text.split_whitespace().collect::<Vec<_>>().join(" "),
        });
    }
    let token = resp.next_tagged(Tag::Sequence, "the time stamp token")?;
    resp.end()?;
    // DER has one encoding of a header, so this is the token's bytes as they came.
    der_of(token, PART)
}

/// What a verified `TSTInfo` said.
struct TstInfo {
    gen_time: i64,
}

/// Checks a `TimeStampToken` and returns its genTime.
fn verify<C: AsRef<[u8]>>(
    token: &[u8],
    signature: &[u8],
    nonce: Option<u64>,
    chain: &[C],
) -> Result<i64, TsaError> {
    let signed = signed_data(token)?;
    let info = tst_info(signed.econtent, signature, nonce)?;
    let chain: Vec<(Certificate, &[u8])> = chain
        .iter()
        .enumerate()
        .map(|(i, der)| {
            let der = der.as_ref();
            Certificate::from_der(der)
                .map(|c| (c, der))
                .map_err(|e| TsaError::Chain(format!("certificate {i} is not X.509 DER: {e}")))
        })
        .collect::<Result<_, _>>()?;
    let (leaf, _) = chain
        .first()
        .ok_or_else(|| TsaError::Chain("no certificates given".into()))?;
    let signer = &signed.signer;
    let leaf_serial = leaf.tbs_certificate().serial_number().as_bytes();
    let leaf_issuer = leaf
        .tbs_certificate()
        .issuer()
        .to_der()
        .map_err(|e| TsaError::Chain(e.to_string()))?;
    if signer.serial != leaf_serial || signer.issuer != leaf_issuer {
        return Err(TsaError::Chain(format!(
            "the token's signer (serial {}) is not the chain's leaf (serial {})",
            hex(signer.serial),
            hex(leaf_serial)
        )));
    }
    // The signer's attributes: content type TSTInfo and the digest of the TSTInfo.
    let econtent_digest = signer.digest.digest(signed.econtent);
    if signer.content_type != TST_INFO {
        return Err(TsaError::Mismatch(format!(
            "the signed content type is {}, not TSTInfo",
            signer.content_type
        )));
    }
    if signer.message_digest != econtent_digest.as_slice() {
        return Err(TsaError::Mismatch(
            "the signed message digest is not the digest of the TSTInfo".into(),
        ));
    }
    let key = CertKey::of(leaf, "the signer's").map_err(TsaError::from)?;
    let hash = signature_hash(signer.signature_algorithm, signer.digest)?;
    key.verify(hash, &signer.signed_attrs, signer.signature)
        .map_err(|crate::pki::BadSignature| TsaError::BadSignature("token"))?;
    check_chain(&chain, info.gen_time)?;
    Ok(info.gen_time)
}

use crate::registry::hex;

struct SignedData<'a> {
    econtent: &'a [u8],
    signer: SignerInfo<'a>,
}

struct SignerInfo<'a> {
    issuer: Vec<u8>,
    serial: &'a [u8],
    digest: Hash,
    /// The DER of the signed attributes with the SET OF tag: what is signed.
    signed_attrs: Vec<u8>,
    content_type: ObjectIdentifier,
    message_digest: &'a [u8],
    signature_algorithm: ObjectIdentifier,
    signature: &'a [u8],
}

/// Reads ContentInfo → SignedData with one SignerInfo over a TSTInfo.
fn signed_data(token: &[u8]) -> Result<SignedData<'_>, TsaError> {
    const PART: &str = "token";
    let mut info = Elements::parse(token, Tag::Sequence, PART)?;
    if info.oid("the content type")? != SIGNED_DATA {
        return Err(malformed(PART, "the content is not SignedData"));
    }
    let explicit = info.next_tagged(context(0, true), "the content")?;
    info.end()?;
    let mut inner = Elements::of(explicit, context(0, true), PART)?;
    let sd = inner.next_tagged(Tag::Sequence, "SignedData")?;
    inner.end()?;
    let mut sd = Elements::of(sd, Tag::Sequence, "SignedData")?;
    sd.next_tagged(Tag::Integer, "the version")?;
    sd.next_tagged(Tag::Set, "the digest algorithms")?;
    let encap = sd.next_tagged(Tag::Sequence, "the encapsulated content")?;
    let mut encap = Elements::of(encap, Tag::Sequence, "SignedData")?;
    if encap.oid("the encapsulated content type")? != TST_INFO {
        return Err(malformed("SignedData", "the content is not a TSTInfo"));
    }
    let econtent = encap.next_tagged(context(0, true), "the TSTInfo")?;
    encap.end()?;
    let mut econtent = Elements::of(econtent, context(0, true), "SignedData")?;
    let octets = econtent.next_tagged(Tag::OctetString, "the TSTInfo")?;
    econtent.end()?;
    // certificates [0] and crls [1] (IMPLICIT) are not needed: the chain is given.
    sd.optional(context(0, true))?;
    sd.optional(context(1, true))?;
    let signers = sd.next_tagged(Tag::Set, "the signer infos")?;
    sd.end()?;
    let mut signers = Elements::of(signers, Tag::Set, "SignedData")?;
    let signer = signers.next_tagged(Tag::Sequence, "the signer info")?;
    if !signers.rest()?.is_empty() {
        return Err(TsaError::Unsupported(
            "a token with more than one signer".into(),
        ));
    }
    Ok(SignedData {
        econtent: octets.value(),
        signer: signer_info(signer)?,
    })
}

fn signer_info(any: AnyRef<'_>) -> Result<SignerInfo<'_>, TsaError> {
    const PART: &str = "signer info";
    let mut si = Elements::of(any, Tag::Sequence, PART)?;
    si.next_tagged(Tag::Integer, "the version")?;
    let sid = si.next("the signer identifier")?;
    if sid.tag() != Tag::Sequence {
        return Err(TsaError::Unsupported(
            "a signer named by subject key identifier".into(),
        ));
    }
    let mut sid = Elements::of(sid, Tag::Sequence, PART)?;
    let issuer = der_of(sid.next_tagged(Tag::Sequence, "the signer's issuer")?, PART)?;
    let serial = sid
        .next_tagged(Tag::Integer, "the signer's serial")?
        .value();
    sid.end()?;
    let digest = hash_of(si.algorithm("the digest algorithm")?)?;
    let attrs = si
        .optional(context(0, true))?
        .ok_or_else(|| malformed(PART, "no signed attributes"))?;
    let signed_attrs = der_of(
        AnyRef::new(Tag::Set, attrs.value()).map_err(|e| malformed(PART, e))?,
        PART,
    )?;
    let mut content_type = None;
    let mut message_digest = None;
    let mut list = Elements::of(attrs, context(0, true), PART)?;
    for attr in list.rest()? {
        let mut attr = Elements::of(attr, Tag::Sequence, PART)?;
        let kind = attr.oid("an attribute type")?;
        let values = attr.next_tagged(Tag::Set, "an attribute's values")?;
        attr.end()?;
        let mut values = Elements::of(values, Tag::Set, PART)?;
        let value = values.next("an attribute value")?;
        let single = values.rest()?.is_empty();
        let slot = match kind {
            CONTENT_TYPE => {
                let oid = value
                    .decode_as::<ObjectIdentifier>()
                    .map_err(|e| malformed(PART, format!("content type: {e}")))?;
                content_type.replace(oid).is_none()
            }
            MESSAGE_DIGEST if value.tag() == Tag::OctetString => {
                message_digest.replace(value.value()).is_none()
            }
            MESSAGE_DIGEST => {
                return Err(malformed(PART, "the message digest is not an OCTET STRING"));
            }
            _ => true,
        };
        if !slot || !single {
            return Err(malformed(PART, format!("attribute {kind} is given twice")));
        }
    }
    let signature_algorithm = si.algorithm("the signature algorithm")?;
    let signature = si.next_tagged(Tag::OctetString, "the signature")?.value();
    si.optional(context(1, true))?;
    si.end()?;
    Ok(SignerInfo {
        issuer,
        serial,
        digest,
        signed_attrs,
        content_type: content_type.ok_or_else(|| malformed(PART, "no content type attribute"))?,
        message_digest: message_digest
            .ok_or_else(|| malformed(PART, "no message digest attribute"))?,
        signature_algorithm,
        signature,
    })
}

/// Reads a TSTInfo and checks its imprint (over `signature`) and nonce.
fn tst_info(der: &[u8], signature: &[u8], nonce: Option<u64>) -> Result<TstInfo, TsaError> {
    const PART: &str = "TSTInfo";
    let mut info = Elements::parse(der, Tag::Sequence, PART)?;
    let version = info.next_tagged(Tag::Integer, "the version")?;
    if version.value() != [1] {
        return Err(TsaError::Unsupported(format!(
            "TSTInfo version {}",
            hex(version.value())
        )));
    }
    info.oid("the policy")?;
    let imprint = info.next_tagged(Tag::Sequence, "the message imprint")?;
    let mut imprint = Elements::of(imprint, Tag::Sequence, PART)?;
    let hash = hash_of(imprint.algorithm("the imprint's hash algorithm")?)?;
    let hashed = imprint.next_tagged(Tag::OctetString, "the hashed message")?;
    imprint.end()?;
    if hashed.value() != hash.digest(signature).as_slice() {
        return Err(TsaError::Mismatch(
            "the token's message imprint is not the hash of this signature".into(),
        ));
    }
    info.next_tagged(Tag::Integer, "the serial number")?;
    let gen_time = info.next_tagged(Tag::GeneralizedTime, "the time")?;
    let gen_time = generalized_time(gen_time.value())
        .ok_or_else(|| malformed(PART, "genTime is not YYYYMMDDHHMMSS[.f]Z"))?;
    info.optional(Tag::Sequence)?; // accuracy
    info.optional(Tag::Boolean)?; // ordering
    let got_nonce = info.optional(Tag::Integer)?;
    if let Some(want) = nonce {
        let got = got_nonce.map(|n| der_of(n, PART)).transpose()?;
        if got.as_deref() != Some(u64_integer(want).as_slice()) {
            return Err(TsaError::Mismatch(
                "the token's nonce is not the request's".into(),
            ));
        }
    }
    info.optional(context(0, true))?; // tsa
    info.optional(context(1, true))?; // extensions
    info.end()?;
    Ok(TstInfo { gen_time })
}

/// Seconds since the epoch of a DER GeneralizedTime `YYYYMMDDHHMMSS[.f+]Z`.
fn generalized_time(bytes: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(bytes).ok()?;
    let text = text.strip_suffix('Z')?;
    let (whole, fraction) = match text.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (text, None),
    };
    if let Some(f) = fraction
        && (f.is_empty() || f.ends_with('0') || !f.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    if whole.len() != 14 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| whole.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, s) = (num(8..10)?, num(10..12)?, num(12..14)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 59 {
        return None;
    }
    // Days from the civil date (proleptic Gregorian), after H. Hinnant's well-known method.
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    Some(days * 86400 + h * 3600 + mi * 60 + s)
}

/// The hash a SignerInfo's signature algorithm signs with.
fn signature_hash(alg: ObjectIdentifier, digest: Hash) -> Result<Hash, TsaError> {
    match alg {
        ECDSA_SHA256 | RSA_SHA256 => Ok(Hash::Sha256),
        ECDSA_SHA384 | RSA_SHA384 => Ok(Hash::Sha384),
        ECDSA_SHA512 | RSA_SHA512 => Ok(Hash::Sha512),
        // The bare key algorithms: the digest algorithm says which hash.
        EC_PUBLIC_KEY | RSA => Ok(digest),
        other => Err(TsaError::Unsupported(format!(
            "signature algorithm {other}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

    use crate::test_support::fixtures;

    fn json(path: &std::path::Path) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    }

    /// The managed-key bundle's timestamp and the signature it stamps.
    fn bundle_timestamp(dir: &std::path::Path) -> (Vec<u8>, Vec<u8>) {
        let b = json(&dir.join("bundles/managed-key-happy-path/bundle.sigstore.json"));
        let ts = b["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][0]
            ["signedTimestamp"]
            .as_str()
            .unwrap();
        let sig = b["messageSignature"]["signature"].as_str().unwrap();
        (B64.decode(ts).unwrap(), B64.decode(sig).unwrap())
    }

    fn public_good_tsa_chain(dir: &std::path::Path) -> Vec<Vec<u8>> {
        let root = json(&dir.join("rekor/trusted-root-public-good.json"));
        root["timestampAuthorities"][0]["certChain"]["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| B64.decode(c["rawBytes"].as_str().unwrap()).unwrap())
            .collect()
    }

    /// The bundle's token is over the signature bytes (SHA-256 of the `messageSignature`
    /// signature), its signed attributes hold the TSTInfo's digest, and its genTime is the
    /// entry's integrated time. Its signer is sigstore's own TSA (`CN=sigstore-tsa`, issued by
    /// `CN=sigstore-tsa-selfsigned`), whose chain the fixtures' older public-good trusted root
    /// (GitHub's TSA) does not have, and the token embeds no certificate: against that chain it
    /// is refused as signed by someone else.
    #[test]
    fn public_good_bundle_token() {
        let Some(dir) = fixtures() else { return };
        let (ts, sig) = bundle_timestamp(&dir);
        let (response, token) = split(&ts).unwrap();
        assert_eq!(response, ts);
        let signed = signed_data(&token).unwrap();
        assert_eq!(
            tst_info(signed.econtent, &sig, None).unwrap().gen_time,
            1766077479
        );
        assert_eq!(signed.signer.content_type, TST_INFO);
        assert_eq!(
            signed.signer.message_digest,
            Sha256::digest(signed.econtent).as_slice()
        );
        let mut other = sig.clone();
        other[9] ^= 1;
        assert!(matches!(
            tst_info(signed.econtent, &other, None),
            Err(TsaError::Mismatch(_))
        ));
        // A bare token is wrapped into the very response the bundle carries.
        assert_eq!(split(&token).unwrap(), (ts.clone(), token.clone()));

        let chain = public_good_tsa_chain(&dir);
        let e = verify_token(&ts, &sig, &chain).unwrap_err();
        assert!(e.to_string().contains("is not the chain's leaf"), "{e}");
        let e = verify_token(&ts, &other, &chain).unwrap_err();
        assert!(matches!(e, TsaError::Mismatch(_)), "{e}");
        assert!(verify_response(&ts, &sig, 7, &chain).is_err());
        assert!(verify_token::<Vec<u8>>(&ts, &sig, &[]).is_err());
    }

    /// The chain checks on the real public-good (GitHub) TSA chain: each certificate verifies
    /// by the next, inside its validity; outside it, or out of order, it does not.
    #[test]
    fn public_good_tsa_chain_checks() {
        let Some(dir) = fixtures() else { return };
        let ders = public_good_tsa_chain(&dir);
        let certs: Vec<(Certificate, &[u8])> = ders
            .iter()
            .map(|d| (Certificate::from_der(d).unwrap(), &d[..]))
            .collect();
        let inside = generalized_time(b"20230601000000Z").unwrap();
        check_chain(&certs, inside).unwrap();
        let after = generalized_time(b"20240501000000Z").unwrap();
        assert!(check_chain(&certs, after).is_err());
        let reordered = [certs[1].clone(), certs[0].clone(), certs[2].clone()];
        assert!(check_chain(&reordered, inside).is_err());
        // Without the intermediate the leaf is not issued by the root.
        let skipped = [certs[0].clone(), certs[2].clone()];
        assert!(check_chain(&skipped, inside).is_err());
        // A CA is not a timestamping leaf.
        assert!(check_chain(&certs[1..], inside).is_err());
        // A flipped signature byte in the intermediate.
        let mut bad = ders[1].clone();
        let n = bad.len();
        bad[n - 3] ^= 1;
        if let Ok(c) = Certificate::from_der(&bad) {
            let edited = [certs[0].clone(), (c, &bad[..]), certs[2].clone()];
            assert!(check_chain(&edited, inside).is_err());
        }
    }

    #[test]
    fn request_der() {
        let der = request_with_nonce(b"sig", 0x8000_0000_0000_0001);
        let mut req = Elements::parse(&der, Tag::Sequence, "request").unwrap();
        assert_eq!(req.next("version").unwrap().value(), [1]);
        let imprint = req.next_tagged(Tag::Sequence, "imprint").unwrap();
        let mut imprint = Elements::of(imprint, Tag::Sequence, "imprint").unwrap();
        assert_eq!(imprint.algorithm("alg").unwrap(), crate::pki::SHA256);
        assert_eq!(
            imprint.next("hash").unwrap().value(),
            Sha256::digest(b"sig").as_slice()
        );
        let nonce = req.next_tagged(Tag::Integer, "nonce").unwrap();
        assert_eq!(nonce.value(), [0, 0x80, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(
            req.next_tagged(Tag::Boolean, "certReq").unwrap().value(),
            [0xff]
        );
        req.end().unwrap();
        let a = request(b"sig").unwrap();
        let b = request(b"sig").unwrap();
        assert_ne!(a.nonce, b.nonce);
        assert_eq!(a.der, request_with_nonce(b"sig", a.nonce));
    }

    #[test]
    fn generalized_times() {
        assert_eq!(generalized_time(b"19700101000000Z"), Some(0));
        assert_eq!(generalized_time(b"20251218170439Z"), Some(1766077479));
        assert_eq!(generalized_time(b"20251218170439.25Z"), Some(1766077479));
        assert_eq!(generalized_time(b"20000229235959Z"), Some(951868799));
        for bad in [
            &b"20251218170439"[..],
            b"20251218170439.Z",
            b"20251218170439.50Z",
            b"2025121817043Z",
            b"20251318170439Z",
            b"2025121817043\xffZ",
            b"+0251218170439Z",
        ] {
            assert_eq!(generalized_time(bad), None, "{bad:?}");
        }
    }
}
