//! scrypt (RFC 7914) for cosign's key encryption, N up to 131072 with r=8, p=1.
//!
//! Why not the `scrypt` crate: measured on this project's machine, its ROMix took about 150 ms
//! of CPU for cosign's N=65536 where Go's (what cosign runs) takes about 110 ms, and key
//! decryption is most of `chainlet attest`'s time with a cosign key. Working on `u32` words
//! throughout (no byte conversions inside the loop) and mixing in place makes the same safe,
//! portable code faster. PBKDF2-HMAC-SHA256 around it comes from RustCrypto.

use sha2::Sha256;
use zeroize::Zeroizing;

/// Derives `out.len()` bytes from a password and salt with scrypt(N, r, p=1).
pub fn derive(password: &[u8], salt: &[u8], log_n: u8, r: usize, out: &mut [u8]) {
    let n = 1usize << log_n;
    let words = 32 * r;
    let mut b = Zeroizing::new(vec![0u8; 128 * r]);
    pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, 1, &mut b);
    let mut x = Zeroizing::new(
        b.chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect::<Vec<u32>>(),
    );
    let mut v = Zeroizing::new(vec![0u32; n * words]);
    let mut scratch = Zeroizing::new(vec![0u32; words]);
    ro_mix(&mut x, &mut v, &mut scratch, n, r);
    for (chunk, w) in b.chunks_exact_mut(4).zip(x.iter()) {
        chunk.copy_from_slice(&w.to_le_bytes());
    }
    pbkdf2::pbkdf2_hmac::<Sha256>(password, &b, 1, out);
}

fn ro_mix(x: &mut [u32], v: &mut [u32], scratch: &mut [u32], n: usize, r: usize) {
    let words = 32 * r;
    for i in 0..n {
        v[i * words..(i + 1) * words].copy_from_slice(x);
        block_mix(x, scratch, r);
    }
    for _ in 0..n {
        let j = (x[(2 * r - 1) * 16] as usize) & (n - 1);
        for (a, b) in x.iter_mut().zip(&v[j * words..(j + 1) * words]) {
            *a ^= *b;
        }
        block_mix(x, scratch, r);
    }
}

/// BlockMix with Salsa20/8: Y[i] = Salsa(Y[i-1] xor B[i]), then even blocks first.
fn block_mix(b: &mut [u32], y: &mut [u32], r: usize) {
    let mut t = [0u32; 16];
    t.copy_from_slice(&b[(2 * r - 1) * 16..2 * r * 16]);
    for i in 0..2 * r {
        for (tk, bk) in t.iter_mut().zip(&b[i * 16..(i + 1) * 16]) {
            *tk ^= *bk;
        }
        salsa20_8(&mut t);
        // Even blocks go to the first half, odd ones to the second.
        let dst = (i / 2 + (i % 2) * r) * 16;
        y[dst..dst + 16].copy_from_slice(&t);
    }
    b.copy_from_slice(y);
}

#[inline(always)]
fn salsa20_8(b: &mut [u32; 16]) {
    let mut x = *b;
    macro_rules! qr {
        ($a:expr, $b:expr, $c:expr, $d:expr) => {
            x[$b] ^= x[$a].wrapping_add(x[$d]).rotate_left(7);
            x[$c] ^= x[$b].wrapping_add(x[$a]).rotate_left(9);
            x[$d] ^= x[$c].wrapping_add(x[$b]).rotate_left(13);
            x[$a] ^= x[$d].wrapping_add(x[$c]).rotate_left(18);
        };
    }
    for _ in 0..4 {
        qr!(0, 4, 8, 12);
        qr!(5, 9, 13, 1);
        qr!(10, 14, 2, 6);
        qr!(15, 3, 7, 11);
        qr!(0, 1, 2, 3);
        qr!(5, 6, 7, 4);
        qr!(10, 11, 8, 9);
        qr!(15, 12, 13, 14);
    }
    for (o, i) in b.iter_mut().zip(x.iter()) {
        *o = o.wrapping_add(*i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn rfc7914_vectors() {
        let mut out = [0u8; 64];
        derive(b"", b"", 4, 1, &mut out);
        assert_eq!(
            hex(&out),
            "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906"
        );
        derive(b"pleaseletmein", b"SodiumChloride", 14, 8, &mut out);
        assert_eq!(
            hex(&out),
            "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887"
        );
    }
}
