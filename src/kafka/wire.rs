//! The Kafka protocol's primitive types: big-endian integers, length-prefixed strings and
//! arrays, zig-zag varints (record fields), and the CRC-32C that guards a record batch.
//!
//! [`Reader`] parses broker answers, which are untrusted: every read checks the bytes left, and
//! an array's count is checked against the bytes left before anything is allocated, so a lying
//! length ends in [`WireError`], never in a panic or a huge allocation.

/// Builds a request body.
#[derive(Debug, Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn i8(&mut self, v: i8) -> &mut Self {
        self.buf.push(v as u8);
        self
    }

    pub fn i16(&mut self, v: i16) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub fn i32(&mut self, v: i32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub fn bool(&mut self, v: bool) -> &mut Self {
        self.buf.push(v as u8);
        self
    }

    /// A `STRING`: i16 length, then UTF-8 bytes. Callers keep names under 32 KiB.
    pub fn string(&mut self, s: &str) -> &mut Self {
        self.i16(s.len() as i16);
        self.buf.extend_from_slice(s.as_bytes());
        self
    }

    /// A `NULLABLE_STRING` that is null.
    pub fn null_string(&mut self) -> &mut Self {
        self.i16(-1)
    }

    /// `BYTES`/`RECORDS`: i32 length, then the bytes.
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.i32(b.len() as i32);
        self.buf.extend_from_slice(b);
        self
    }

    /// A zig-zag `VARINT` (record fields).
    pub fn varint(&mut self, v: i32) -> &mut Self {
        self.varlong(v as i64)
    }

    /// A zig-zag `VARLONG`.
    pub fn varlong(&mut self, v: i64) -> &mut Self {
        let mut z = ((v << 1) ^ (v >> 63)) as u64;
        loop {
            let byte = (z & 0x7f) as u8;
            z >>= 7;
            if z == 0 {
                self.buf.push(byte);
                return self;
            }
            self.buf.push(byte | 0x80);
        }
    }

    /// Varint-length-prefixed bytes inside a record; `None` is length -1.
    pub fn varbytes(&mut self, b: Option<&[u8]>) -> &mut Self {
        match b {
            None => self.varint(-1),
            Some(b) => {
                self.varint(b.len() as i32);
                self.buf.extend_from_slice(b);
                self
            }
        }
    }
}

/// A broker answer that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("the answer ends early (reading {what})")]
    Short { what: &'static str },
    #[error("the answer has a negative or impossible length {len} for {what}")]
    BadLength { what: &'static str, len: i64 },
    #[error("the answer has {count} {what}, more than its {left} remaining bytes can hold")]
    TooMany {
        what: &'static str,
        count: i64,
        left: usize,
    },
    #[error("the answer has a {what} that is not UTF-8")]
    NotUtf8 { what: &'static str },
    #[error("the answer has {left} bytes after its last field")]
    Trailing { left: usize },
}

/// Reads an answer, checking every length against the bytes left.
#[derive(Debug)]
pub struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    pub fn left(&self) -> usize {
        self.data.len()
    }

    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], WireError> {
        if self.data.len() < n {
            return Err(WireError::Short { what });
        }
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], WireError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    pub fn i8(&mut self, what: &'static str) -> Result<i8, WireError> {
        Ok(i8::from_be_bytes(self.array(what)?))
    }

    pub fn i16(&mut self, what: &'static str) -> Result<i16, WireError> {
        Ok(i16::from_be_bytes(self.array(what)?))
    }

    pub fn i32(&mut self, what: &'static str) -> Result<i32, WireError> {
        Ok(i32::from_be_bytes(self.array(what)?))
    }

    pub fn i64(&mut self, what: &'static str) -> Result<i64, WireError> {
        Ok(i64::from_be_bytes(self.array(what)?))
    }

    pub fn bool(&mut self, what: &'static str) -> Result<bool, WireError> {
        Ok(self.i8(what)? != 0)
    }

    /// A `NULLABLE_STRING` (a `STRING` read the same way; null is `None`).
    pub fn nullable_string(&mut self, what: &'static str) -> Result<Option<String>, WireError> {
        let len = self.i16(what)?;
        if len < 0 {
            return if len == -1 {
                Ok(None)
            } else {
                Err(WireError::BadLength {
                    what,
                    len: len.into(),
                })
            };
        }
        let bytes = self.take(len as usize, what)?;
        String::from_utf8(bytes.to_vec())
            .map(Some)
            .map_err(|_| WireError::NotUtf8 { what })
    }

    /// A `STRING`; a null one reads as empty.
    pub fn string(&mut self, what: &'static str) -> Result<String, WireError> {
        Ok(self.nullable_string(what)?.unwrap_or_default())
    }

    /// An array's element count (i32; -1 is a null array, read as empty), checked against the
    /// bytes left given the smallest size one element can have.
    pub fn count(&mut self, what: &'static str, min_size: usize) -> Result<usize, WireError> {
        let n = self.i32(what)?;
        if n == -1 {
            return Ok(0);
        }
        if n < 0 {
            return Err(WireError::BadLength {
                what,
                len: n.into(),
            });
        }
        let n = n as usize;
        if n.saturating_mul(min_size.max(1)) > self.left() {
            return Err(WireError::TooMany {
                what,
                count: n as i64,
                left: self.left(),
            });
        }
        Ok(n)
    }

    /// An array of i32 (replica lists); only its length matters to chainlet.
    pub fn skip_i32_array(&mut self, what: &'static str) -> Result<(), WireError> {
        let n = self.count(what, 4)?;
        self.take(n * 4, what)?;
        Ok(())
    }

    /// A zig-zag `VARLONG`, at most 10 bytes.
    pub fn varlong(&mut self, what: &'static str) -> Result<i64, WireError> {
        let mut z: u64 = 0;
        for i in 0..10 {
            let byte = self.i8(what)? as u8;
            z |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok((z >> 1) as i64 ^ -((z & 1) as i64));
            }
        }
        Err(WireError::BadLength { what, len: -1 })
    }

    /// A zig-zag `VARINT`, at most 5 bytes' worth.
    pub fn varint(&mut self, what: &'static str) -> Result<i32, WireError> {
        let v = self.varlong(what)?;
        i32::try_from(v).map_err(|_| WireError::BadLength { what, len: v })
    }

    /// Varint-length-prefixed bytes in a record; length -1 is `None`.
    pub fn varbytes(&mut self, what: &'static str) -> Result<Option<&'a [u8]>, WireError> {
        match self.varint(what)? {
            -1 => Ok(None),
            n if n < 0 => Err(WireError::BadLength {
                what,
                len: n.into(),
            }),
            n => self.take(n as usize, what).map(Some),
        }
    }

    /// Fails unless every byte was read.
    pub fn finish(&self) -> Result<(), WireError> {
        match self.left() {
            0 => Ok(()),
            left => Err(WireError::Trailing { left }),
        }
    }
}

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of a v2 record batch.
/// A table-driven loop: the batches chainlet sends are a few kilobytes, once per run.
pub fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc = CRC32C_TABLE[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

const CRC32C_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0x82F6_3B78 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_matches_the_published_check_value() {
        // The "check" value of CRC-32C (RFC 3720, appendix B.4 lists the same polynomial).
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(b""), 0);
    }

    #[test]
    fn varints_are_zig_zag_and_round_trip() {
        for (v, bytes) in [
            (0i64, &[0x00][..]),
            (-1, &[0x01]),
            (1, &[0x02]),
            (63, &[0x7e]),
            (-64, &[0x7f]),
            (64, &[0x80, 0x01]),
            (300, &[0xd8, 0x04]),
        ] {
            let mut w = Writer::default();
            w.varlong(v);
            assert_eq!(w.buf, bytes, "{v}");
            assert_eq!(Reader::new(bytes).varlong("v").unwrap(), v);
        }
        for v in [i64::MIN, i64::MAX, i32::MIN as i64, i32::MAX as i64] {
            let mut w = Writer::default();
            w.varlong(v);
            assert_eq!(Reader::new(&w.buf).varlong("v").unwrap(), v);
        }
    }

    #[test]
    fn an_array_count_larger_than_the_answer_is_refused_before_allocating() {
        let mut r = Reader::new(&[0x7f, 0xff, 0xff, 0xff, 0, 0]);
        assert!(matches!(
            r.count("brokers", 8),
            Err(WireError::TooMany { .. })
        ));
    }
}
