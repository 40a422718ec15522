//! LZ4 blocks with a dictionary, through the C library that `lz4-sys` builds: a record of
//! ~1 KB compresses in about a quarter of zstd's time at level -1 (which rebuilds its entropy
//! tables for every small input), to a size within 10% of zstd's with the same dictionary.
//!
//! The dictionary is digested once into its own stream and attached to a work stream for
//! each record (`LZ4_attach_dictionary`), so a record does not pay for hashing the
//! dictionary. A stored block is `[content length: u32 LE][LZ4 block]`; decompression is
//! the bounds-checked `LZ4_decompress_safe_usingDict`, which never reads or writes outside
//! the buffers it is given, whatever the stored bytes are.

use std::os::raw::{c_char, c_int};

// the C library these declarations link to (the crate's own bindings lack the dictionary
// attachment)
use lz4_sys as _;

/// `LZ4_stream_t`, opaque here.
#[repr(C)]
struct RawStream {
    _opaque: [u8; 0],
}

// SAFETY (for every call below): the functions are lz4 1.10's stable and static-linking
// API, compiled into this binary by lz4-sys.
unsafe extern "C" {
    fn LZ4_createStream() -> *mut RawStream;
    fn LZ4_freeStream(stream: *mut RawStream) -> c_int;
    fn LZ4_loadDict(stream: *mut RawStream, dict: *const c_char, size: c_int) -> c_int;
    fn LZ4_resetStream_fast(stream: *mut RawStream);
    fn LZ4_attach_dictionary(work: *mut RawStream, dict: *const RawStream);
    fn LZ4_compress_fast_continue(
        stream: *mut RawStream,
        src: *const c_char,
        dst: *mut c_char,
        src_size: c_int,
        dst_capacity: c_int,
        acceleration: c_int,
    ) -> c_int;
    fn LZ4_compressBound(size: c_int) -> c_int;
    fn LZ4_decompress_safe_usingDict(
        src: *const c_char,
        dst: *mut c_char,
        src_size: c_int,
        dst_capacity: c_int,
        dict: *const c_char,
        dict_size: c_int,
    ) -> c_int;
}

/// Largest content a block holds (LZ4's own limit is a little under 2 GB).
const MAX_INPUT: usize = 0x7E00_0000;

/// One owned `LZ4_stream_t`.
struct Stream(*mut RawStream);

impl Stream {
    fn new() -> std::io::Result<Stream> {
        // SAFETY: no preconditions; a null result is an allocation failure.
        let p = unsafe { LZ4_createStream() };
        if p.is_null() {
            return Err(std::io::Error::other("lz4: cannot allocate a stream"));
        }
        Ok(Stream(p))
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        // SAFETY: the pointer came from LZ4_createStream and is freed once, here.
        unsafe { LZ4_freeStream(self.0) };
    }
}

/// A compressor and decompressor for one dictionary (possibly empty).
pub(super) struct Lz4Dict {
    /// The dictionary's bytes: `dict_stream` points into them, so they are never changed
    /// or dropped before it (a `Box<[u8]>` does not move its heap buffer).
    dict: Box<[u8]>,
    dict_stream: Stream,
    work: Stream,
}

// SAFETY: the streams are owned by this value alone and only used through `&mut self`
// (compression) or not at all (decompression reads `dict` only); lz4 keeps no thread-local
// state, so the value may move to another thread.
unsafe impl Send for Lz4Dict {}

impl Lz4Dict {
    /// A codec over `dict` (its last 64 KB are what LZ4 can refer to).
    pub(super) fn new(dict: &[u8]) -> std::io::Result<Lz4Dict> {
        let dict: Box<[u8]> = dict[dict.len().saturating_sub(64 * 1024)..].into();
        let dict_stream = Stream::new()?;
        // SAFETY: `dict` is valid for its length (≤ 64 KB fits c_int) and outlives the
        // stream (both are fields of the value returned, and `dict` is never mutated).
        unsafe { LZ4_loadDict(dict_stream.0, dict.as_ptr().cast(), dict.len() as c_int) };
        Ok(Lz4Dict {
            dict,
            dict_stream,
            work: Stream::new()?,
        })
    }

    /// `content` as a stored block.
    pub(super) fn compress(&mut self, content: &[u8]) -> std::io::Result<Vec<u8>> {
        if content.len() > MAX_INPUT {
            return Err(std::io::Error::other("lz4: record too large"));
        }
        let n = content.len() as c_int;
        // SAFETY: no preconditions for a size within MAX_INPUT.
        let bound = unsafe { LZ4_compressBound(n) };
        let bound = usize::try_from(bound).unwrap_or(0);
        let mut out: Vec<u8> = Vec::with_capacity(4 + bound);
        out.extend_from_slice(&(content.len() as u32).to_le_bytes());
        // SAFETY: the work stream is reset and attached to the dictionary stream, which
        // stays alive (a field of self); `content` is valid for `n` bytes, and the spare
        // capacity of `out` after the length is `bound` writable bytes, which is what LZ4
        // writes at most.
        let written = unsafe {
            LZ4_resetStream_fast(self.work.0);
            LZ4_attach_dictionary(self.work.0, self.dict_stream.0);
            LZ4_compress_fast_continue(
                self.work.0,
                content.as_ptr().cast(),
                out.as_mut_ptr().add(4).cast(),
                n,
                bound as c_int,
                1,
            )
        };
        let written = usize::try_from(written)
            .ok()
            .filter(|w| *w > 0 || content.is_empty())
            .ok_or_else(|| std::io::Error::other("lz4: compression failed"))?;
        // SAFETY: LZ4 initialised `written` ≤ `bound` bytes after the 4 already there.
        unsafe { out.set_len(4 + written) };
        Ok(out)
    }

    /// The content of a stored block, at most `max` bytes; the error says what is wrong.
    pub(super) fn decompress(&self, block: &[u8], max: usize) -> Result<Vec<u8>, String> {
        let (len, body) = block
            .split_first_chunk::<4>()
            .ok_or("lz4 block shorter than its header")?;
        let len = u32::from_le_bytes(*len) as usize;
        if len > max.min(MAX_INPUT) || body.len() > MAX_INPUT {
            return Err(format!("lz4 block claims {len} bytes"));
        }
        let mut out: Vec<u8> = Vec::with_capacity(len);
        // SAFETY: `body` and `dict` are valid for their lengths; `out` has `len` writable
        // bytes, and the safe decoder writes no more than the capacity it is given.
        let n = unsafe {
            LZ4_decompress_safe_usingDict(
                body.as_ptr().cast(),
                out.as_mut_ptr().cast(),
                body.len() as c_int,
                len as c_int,
                self.dict.as_ptr().cast(),
                self.dict.len() as c_int,
            )
        };
        if usize::try_from(n).ok() != Some(len) {
            return Err(format!("lz4 block does not decode to its {len} bytes"));
        }
        // SAFETY: the decoder initialised exactly `len` bytes.
        unsafe { out.set_len(len) };
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(i: usize) -> Vec<u8> {
        format!(r#"{{"id":"cand-{i:08}","first_name":"First{i}","email":"user{i}@example.com","tags":["rust","python"]}}"#).into_bytes()
    }

    #[test]
    fn blocks_round_trip_with_and_without_a_dictionary() {
        let dict: Vec<u8> = (0..20).flat_map(sample).collect();
        for d in [&dict[..], &[][..]] {
            let mut c = Lz4Dict::new(d).unwrap();
            for content in [sample(7), sample(123_456), Vec::new(), vec![b'x'; 100_000]] {
                let block = c.compress(&content).unwrap();
                assert_eq!(c.decompress(&block, 1 << 20).unwrap(), content);
            }
        }
        // the dictionary is what makes a small record small
        let with = Lz4Dict::new(&dict).unwrap().compress(&sample(99)).unwrap();
        let without = Lz4Dict::new(&[]).unwrap().compress(&sample(99)).unwrap();
        assert!(
            with.len() < without.len(),
            "{} vs {}",
            with.len(),
            without.len()
        );
    }

    #[test]
    fn damaged_blocks_are_errors() {
        let mut c = Lz4Dict::new(b"some dictionary text").unwrap();
        let block = c.compress(&sample(1)).unwrap();
        assert!(c.decompress(&block[..2], 1 << 20).is_err());
        assert!(c.decompress(&block[..block.len() - 3], 1 << 20).is_err());
        let mut big = block.clone();
        big[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(c.decompress(&big, 1 << 20).is_err());
        assert!(c.decompress(&block, 3).is_err(), "longer than allowed");
        let mut noise = block.clone();
        for b in &mut noise[4..] {
            *b = b.wrapping_mul(31).wrapping_add(7);
        }
        // garbage decodes to an error or to other bytes, never out of bounds
        if let Ok(v) = c.decompress(&noise, 1 << 20) {
            assert_ne!(v, sample(1));
        }
    }
}
