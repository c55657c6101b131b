//! Reading a tile-backed log (c2sp.org/tlog-tiles, what Rekor v2 serves): its checkpoint, an
//! entry by index, and an RFC 6962 inclusion proof computed from the hash tiles. Used when a v2
//! log answers 409 for an entry it already has (chainlet's ECDSA signatures are deterministic,
//! so a re-run logs the very same entry): the entry is read back and checked like a new one.
//!
//! Layout: `<base>/checkpoint`; `<base>/tile/<L>/<N>` holds up to 256 node hashes at height
//! 8·L (tile N covers nodes 256·N …); `<base>/tile/entries/<N>` the entries themselves, each
//! with a two-byte big-endian length; a tile not yet full is `<path>.p/<width>`. `N` is written
//! in groups of three digits, all but the last prefixed with `x` (`x001/x234/067`).

use std::collections::HashMap;
use std::sync::Mutex;

use sha2::{Digest as _, Sha256};

use crate::net::{Policy, Request, Transport};

/// Hashes per full tile.
const WIDTH: u64 = 256;
/// A tile is at most 256 entries; entries are small (a hashedrekord is under 2 KiB, a
/// certificate's a little more).
const MAX_TILE: u64 = 8 << 20;

/// A reader of one log's tiles, caching what it fetched.
pub struct Tiles<'a> {
    transport: &'a Transport,
    base: String,
    size: u64,
    cache: Mutex<HashMap<(u8, u64), Vec<u8>>>,
}

impl<'a> Tiles<'a> {
    /// Tiles of the log at `base` for the tree of `size` entries (from a checked checkpoint).
    pub fn new(transport: &'a Transport, base: &str, size: u64) -> Self {
        Self {
            transport,
            base: base.trim_end_matches('/').to_owned(),
            size,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// `GET <base>/checkpoint`: the note text.
    pub fn checkpoint(transport: &Transport, base: &str) -> Result<String, String> {
        let url = format!("{}/checkpoint", base.trim_end_matches('/'));
        let body = get(transport, &url, "GET checkpoint")?;
        String::from_utf8(body).map_err(|_| format!("{url}: the checkpoint is not UTF-8"))
    }

    /// The entry at `index`, as the log stored it (its canonicalized body).
    pub fn entry(&self, index: u64) -> Result<Vec<u8>, String> {
        if index >= self.size {
            return Err(format!(
                "entry {index} is past the tree's {} entries",
                self.size
            ));
        }
        let tile = index / WIDTH;
        let width = (self.size - tile * WIDTH).min(WIDTH);
        let path = format!("tile/entries/{}", tile_name(tile, width));
        let bytes = get_tile(self.transport, &self.base, &path, width, "GET entry tile")?;
        let mut rest = bytes.as_slice();
        let want = index % WIDTH;
        for i in 0..=want {
            let (len, tail) = rest
                .split_first_chunk::<2>()
                .ok_or_else(|| format!("{path}: ends before entry {i}"))?;
            let len = usize::from(u16::from_be_bytes(*len));
            if tail.len() < len {
                return Err(format!("{path}: entry {i} is cut short"));
            }
            let (entry, tail) = tail.split_at(len);
            if i == want {
                return Ok(entry.to_vec());
            }
            rest = tail;
        }
        Err(format!("{path}: no entry {want}"))
    }

    /// The inclusion proof of leaf `index` in the tree (RFC 6962 §2.1.1 PATH), leaf side first.
    pub fn inclusion_proof(&self, index: u64) -> Result<Vec<[u8; 32]>, String> {
        if index >= self.size {
            return Err(format!(
                "entry {index} is past the tree's {} entries",
                self.size
            ));
        }
        let mut out = Vec::new();
        self.path(index, 0, self.size, &mut out)?;
        Ok(out)
    }

    /// The root of the whole tree, from the tiles (to compare with the checkpoint's).
    pub fn root(&self) -> Result<[u8; 32], String> {
        self.mth(0, self.size)
    }

    fn path(&self, m: u64, a: u64, b: u64, out: &mut Vec<[u8; 32]>) -> Result<(), String> {
        let n = b - a;
        if n <= 1 {
            return Ok(());
        }
        let k = split(n);
        if m - a < k {
            self.path(m, a, a + k, out)?;
            out.push(self.mth(a + k, b)?);
        } else {
            self.path(m, a + k, b, out)?;
            out.push(self.mth(a, a + k)?);
        }
        Ok(())
    }

    /// The Merkle tree hash of leaves `[a, b)`, where `a` starts a subtree as RFC 6962's
    /// recursion makes it.
    fn mth(&self, a: u64, b: u64) -> Result<[u8; 32], String> {
        let n = b - a;
        if n.is_power_of_two() && a.is_multiple_of(n) {
            return self.subtree(n.trailing_zeros(), a / n);
        }
        let k = split(n);
        Ok(node(&self.mth(a, a + k)?, &self.mth(a + k, b)?))
    }

    /// The hash of the complete subtree of height `h` at position `k`.
    fn subtree(&self, h: u32, k: u64) -> Result<[u8; 32], String> {
        let level = h / 8;
        let r = h % 8;
        if r == 0 {
            return self.node_at(level, k);
        }
        // 2^r nodes at height 8·level, hashed up.
        let mut layer: Vec<[u8; 32]> = ((k << r)..((k + 1) << r))
            .map(|i| self.node_at(level, i))
            .collect::<Result<_, _>>()?;
        while layer.len() > 1 {
            layer = layer.chunks(2).map(|p| node(&p[0], &p[1])).collect();
        }
        layer
            .first()
            .copied()
            .ok_or_else(|| "an empty subtree".into())
    }

    /// Node `i` at height 8·`level`, from its tile.
    fn node_at(&self, level: u32, i: u64) -> Result<[u8; 32], String> {
        let level8 = u8::try_from(level).map_err(|_| "a tile level past 255".to_owned())?;
        let nodes = self.size >> (8 * level).min(63);
        if i >= nodes {
            return Err(format!("node {i} at level {level} is past the tree"));
        }
        let tile = i / WIDTH;
        let key = (level8, tile);
        let mut cache = self
            .cache
            .lock()
            .map_err(|_| "a tile cache poisoned".to_owned())?;
        let bytes = match cache.entry(key) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(slot) => {
                let width = (nodes - tile * WIDTH).min(WIDTH);
                let path = format!("tile/{level}/{}", tile_name(tile, width));
                let url = format!("{}/{path}", self.base);
                let mut bytes =
                    get_tile(self.transport, &self.base, &path, width, "GET hash tile")?;
                if width < WIDTH && bytes.len() as u64 == WIDTH * 32 {
                    // The full tile, read because the partial one is gone: its first hashes.
                    bytes.truncate(usize::try_from(width * 32).unwrap_or(0));
                }
                if bytes.len() as u64 != width * 32 {
                    return Err(format!(
                        "{url}: {} bytes, not the {} of {width} hashes",
                        bytes.len(),
                        width * 32
                    ));
                }
                slot.insert(bytes)
            }
        };
        let at = usize::try_from((i % WIDTH) * 32).map_err(|_| "a tile offset overflows")?;
        bytes
            .get(at..at + 32)
            .and_then(|h| <[u8; 32]>::try_from(h).ok())
            .ok_or_else(|| format!("tile {level}/{tile} has no node {i}"))
    }
}

/// The largest power of two below `n` (n ≥ 2).
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

fn node(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// A tile's path name: its index in groups of three digits, and `.p/<width>` when not full.
pub fn tile_name(index: u64, width: u64) -> String {
    let digits = index.to_string();
    let pad = (3 - digits.len() % 3) % 3;
    let padded = format!("{}{digits}", "0".repeat(pad));
    let groups: Vec<&str> = (0..padded.len())
        .step_by(3)
        .map(|i| &padded[i..i + 3])
        .collect();
    let mut name = String::new();
    for (i, g) in groups.iter().enumerate() {
        if i + 1 < groups.len() {
            name.push('x');
            name.push_str(g);
            name.push('/');
        } else {
            name.push_str(g);
        }
    }
    if width < WIDTH {
        name.push_str(&format!(".p/{width}"));
    }
    name
}

/// A tile; a partial one that is gone (the tree grew past it) is read as the full tile.
fn get_tile(
    transport: &Transport,
    base: &str,
    path: &str,
    width: u64,
    what: &'static str,
) -> Result<Vec<u8>, String> {
    match get(transport, &format!("{base}/{path}"), what) {
        Err(e) if width < WIDTH && e.ends_with("answered 404") => {
            let full = path.split(".p/").next().unwrap_or(path);
            get(transport, &format!("{base}/{full}"), what)
        }
        other => other,
    }
}

fn get(transport: &Transport, url: &str, what: &'static str) -> Result<Vec<u8>, String> {
    let answer = transport
        .send(
            &Request::new("GET", url.to_owned(), what)
                .policy(Policy::idempotent())
                .max_body(MAX_TILE),
        )
        .map_err(|e| e.to_string())?;
    if answer.status != 200 {
        return Err(format!("{url} answered {}", answer.status));
    }
    Ok(answer.body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_names_are_three_digit_groups() {
        assert_eq!(tile_name(0, 256), "000");
        assert_eq!(tile_name(0, 1), "000.p/1");
        assert_eq!(tile_name(67, 256), "067");
        assert_eq!(tile_name(1234067, 256), "x001/x234/067");
        assert_eq!(tile_name(1000, 5), "x001/000.p/5");
    }

    #[test]
    fn split_is_the_largest_power_of_two_below() {
        for (n, k) in [(2, 1), (3, 2), (4, 2), (5, 4), (8, 4), (9, 8), (257, 256)] {
            assert_eq!(split(n), k, "{n}");
        }
    }
}
