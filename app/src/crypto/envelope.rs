//! The dataset envelope: a 40-byte header, then the file in fixed-size chunks, each sealed with
//! AES-256-GCM under the STREAM construction (aead's `StreamBE32`), with the header as every
//! chunk's associated data. Layout and rationale: `docs/envelope.md`.

use aes_gcm::aead::stream::{DecryptorBE32, EncryptorBE32};
use aes_gcm::aead::{KeyInit, Payload};
use aes_gcm::Aes256Gcm;
use zeroize::Zeroizing;

use super::{CryptoError, DataKey};

pub const MAGIC: [u8; 8] = *b"CFENVLP\0";
pub const VERSION: u8 = 1;
/// AES-256-GCM, STREAM with a 7-byte nonce prefix, 32-bit big-endian counter and last-chunk flag.
pub const ALG_AES256GCM_STREAM_BE32: u8 = 1;
pub const HEADER_LEN: usize = 40;
pub const TAG_LEN: usize = 16;
pub const NONCE_PREFIX_LEN: usize = 7;
/// 1 MiB: large enough that per-chunk overhead (16 bytes, one WebCrypto call) is noise,
/// small enough that a browser worker holds only a few of them at once.
pub const DEFAULT_CHUNK_SIZE: u32 = 1 << 20;
pub const MIN_CHUNK_SIZE: u32 = 1 << 10;
pub const MAX_CHUNK_SIZE: u32 = 1 << 24;

/// The envelope header. Its 40 bytes are the associated data of every chunk, so changing
/// any field (the dataset id above all) makes every chunk fail to open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub chunk_size: u32,
    pub dataset_id: [u8; 16],
    pub nonce_prefix: [u8; NONCE_PREFIX_LEN],
}

impl Header {
    /// A header with a fresh random nonce prefix. The prefix need not be secret, only never
    /// reused with the same key; each dataset has its own key, so randomness is belt and braces.
    pub fn new(dataset_id: [u8; 16], chunk_size: u32) -> Result<Header, CryptoError> {
        check_chunk_size(chunk_size)?;
        let mut nonce_prefix = [0u8; NONCE_PREFIX_LEN];
        getrandom::fill(&mut nonce_prefix).map_err(|_| CryptoError::Random)?;
        Ok(Header { chunk_size, dataset_id, nonce_prefix })
    }

    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..8].copy_from_slice(&MAGIC);
        out[8] = VERSION;
        out[9] = ALG_AES256GCM_STREAM_BE32;
        // 10..12 reserved, zero.
        out[12..16].copy_from_slice(&self.chunk_size.to_be_bytes());
        out[16..32].copy_from_slice(&self.dataset_id);
        out[32..39].copy_from_slice(&self.nonce_prefix);
        // 39 reserved, zero.
        out
    }

    pub fn parse(bytes: &[u8]) -> Result<Header, CryptoError> {
        if bytes.len() < HEADER_LEN {
            return Err(CryptoError::Truncated(format!("the header needs {HEADER_LEN} bytes, got {}", bytes.len())));
        }
        if bytes[..8] != MAGIC {
            return Err(CryptoError::BadMagic);
        }
        if bytes[8] != VERSION {
            return Err(CryptoError::UnsupportedVersion(bytes[8]));
        }
        if bytes[9] != ALG_AES256GCM_STREAM_BE32 {
            return Err(CryptoError::UnsupportedAlgorithm(bytes[9]));
        }
        if bytes[10..12] != [0, 0] || bytes[39] != 0 {
            return Err(CryptoError::BadHeader("reserved bytes must be zero".into()));
        }
        let chunk_size = u32::from_be_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]);
        check_chunk_size(chunk_size)?;
        let mut dataset_id = [0u8; 16];
        dataset_id.copy_from_slice(&bytes[16..32]);
        let mut nonce_prefix = [0u8; NONCE_PREFIX_LEN];
        nonce_prefix.copy_from_slice(&bytes[32..39]);
        Ok(Header { chunk_size, dataset_id, nonce_prefix })
    }

    pub fn dataset_id_hex(&self) -> String {
        hex::encode(self.dataset_id)
    }

    /// The 12-byte AES-GCM nonce of chunk `index`: prefix ‖ BE32(index) ‖ last-flag.
    /// Exposed so the browser can run the bulk cipher in WebCrypto with the same nonces.
    pub fn nonce(&self, index: u32, last: bool) -> [u8; 12] {
        let mut n = [0u8; 12];
        n[..7].copy_from_slice(&self.nonce_prefix);
        n[7..11].copy_from_slice(&index.to_be_bytes());
        n[11] = last as u8;
        n
    }

    /// Number of chunks for a plaintext: at least one, so an empty file still has its last chunk.
    pub fn chunk_count(&self, plaintext_len: u64) -> u64 {
        plaintext_len.div_ceil(self.chunk_size as u64).max(1)
    }

    /// Exact envelope length for a plaintext length; the server checks uploads against it.
    pub fn envelope_len(&self, plaintext_len: u64) -> u64 {
        HEADER_LEN as u64 + plaintext_len + self.chunk_count(plaintext_len) * TAG_LEN as u64
    }
}

fn check_chunk_size(size: u32) -> Result<(), CryptoError> {
    if (MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&size) {
        Ok(())
    } else {
        Err(CryptoError::BadHeader(format!("chunk size {size} is outside {MIN_CHUNK_SIZE}..={MAX_CHUNK_SIZE} bytes")))
    }
}

fn cipher(key: &DataKey) -> Aes256Gcm {
    Aes256Gcm::new(key.as_bytes().into())
}

/// Seals a file chunk by chunk; the caller says which chunk is the last.
pub struct Sealer {
    header: Header,
    aad: [u8; HEADER_LEN],
    stream: Option<EncryptorBE32<Aes256Gcm>>,
    index: u64,
}

impl Sealer {
    pub fn new(key: &DataKey, header: Header) -> Sealer {
        let stream = EncryptorBE32::from_aead(cipher(key), (&header.nonce_prefix).into());
        Sealer { aad: header.to_bytes(), header, stream: Some(stream), index: 0 }
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    pub fn header_bytes(&self) -> [u8; HEADER_LEN] {
        self.aad
    }

    /// Seals the next chunk. Every chunk but the last must be exactly `chunk_size` bytes.
    pub fn seal_chunk(&mut self, chunk: &[u8], last: bool) -> Result<Vec<u8>, CryptoError> {
        let expected = self.header.chunk_size as usize;
        if chunk.len() > expected || (!last && chunk.len() != expected) {
            return Err(CryptoError::ChunkSize { index: self.index, len: chunk.len(), expected });
        }
        let payload = Payload { msg: chunk, aad: &self.aad };
        let failed = CryptoError::ChunkFailed { index: self.index };
        let out = if last {
            self.stream.take().ok_or(failed.clone())?.encrypt_last(payload)
        } else {
            self.stream.as_mut().ok_or(failed.clone())?.encrypt_next(payload)
        };
        self.index += 1;
        out.map_err(|_| failed)
    }
}

/// Opens chunks in order; a wrong order, a missing last chunk or any change fails.
pub struct Opener {
    header: Header,
    aad: [u8; HEADER_LEN],
    stream: Option<DecryptorBE32<Aes256Gcm>>,
    index: u64,
}

impl Opener {
    pub fn new(key: &DataKey, header: Header) -> Opener {
        let stream = DecryptorBE32::from_aead(cipher(key), (&header.nonce_prefix).into());
        Opener { aad: header.to_bytes(), header, stream: Some(stream), index: 0 }
    }

    pub fn open_chunk(&mut self, sealed: &[u8], last: bool) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let failed = CryptoError::ChunkFailed { index: self.index };
        let payload = Payload { msg: sealed, aad: &self.aad };
        let out = if last {
            self.stream.take().ok_or(failed.clone())?.decrypt_last(payload)
        } else {
            self.stream.as_mut().ok_or(failed.clone())?.decrypt_next(payload)
        };
        self.index += 1;
        out.map(Zeroizing::new).map_err(|_| failed)
    }

    pub fn header(&self) -> &Header {
        &self.header
    }
}

/// Seals a whole buffer: what the tests, the Python interop check and small uploads use.
pub fn seal(key: &DataKey, header: Header, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let mut out = Vec::with_capacity(header.envelope_len(plaintext.len() as u64) as usize);
    let mut sealer = Sealer::new(key, header);
    out.extend_from_slice(&sealer.header_bytes());
    let size = sealer.header().chunk_size as usize;
    let chunks = sealer.header().chunk_count(plaintext.len() as u64) as usize;
    for i in 0..chunks {
        let end = ((i + 1) * size).min(plaintext.len());
        out.extend(sealer.seal_chunk(&plaintext[i * size..end], i + 1 == chunks)?);
    }
    Ok(out)
}

/// Opens a whole envelope that must belong to `dataset_id`.
pub fn open(key: &DataKey, dataset_id: &[u8; 16], envelope: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let mut opener = StreamOpener::new(key.clone(), *dataset_id, envelope.len() as u64);
    let mut out = Zeroizing::new(Vec::with_capacity(envelope.len()));
    opener.feed(envelope, &mut out)?;
    opener.finish()?;
    Ok(out)
}

/// Opens an envelope that arrives in pieces of any size (an object-store stream), knowing its
/// total length up front; that is what tells the last chunk apart, so truncation cannot hide.
pub struct StreamOpener {
    key: DataKey,
    dataset_id: [u8; 16],
    total: u64,
    consumed: u64,
    buf: Zeroizing<Vec<u8>>,
    opener: Option<Opener>,
    done: bool,
}

impl StreamOpener {
    pub fn new(key: DataKey, dataset_id: [u8; 16], total_len: u64) -> StreamOpener {
        StreamOpener { key, dataset_id, total: total_len, consumed: 0, buf: Zeroizing::new(Vec::new()), opener: None, done: false }
    }

    /// Appends the plaintext of every chunk completed by `piece` to `out`.
    pub fn feed(&mut self, piece: &[u8], out: &mut Vec<u8>) -> Result<(), CryptoError> {
        if self.done && !piece.is_empty() {
            return Err(CryptoError::BadHeader("data after the last chunk".into()));
        }
        self.buf.extend_from_slice(piece);
        loop {
            let Some(opener) = self.opener.as_mut() else {
                if self.buf.len() < HEADER_LEN {
                    return Ok(());
                }
                let header = Header::parse(&self.buf[..HEADER_LEN])?;
                if header.dataset_id != self.dataset_id {
                    return Err(CryptoError::WrongDataset { expected: hex::encode(self.dataset_id), found: header.dataset_id_hex() });
                }
                if self.total < (HEADER_LEN + TAG_LEN) as u64 {
                    return Err(CryptoError::Truncated("no chunk follows the header".into()));
                }
                self.buf.drain(..HEADER_LEN);
                self.consumed = HEADER_LEN as u64;
                self.opener = Some(Opener::new(&self.key, header));
                continue;
            };
            let full = opener.header().chunk_size as u64 + TAG_LEN as u64;
            let remaining = self.total - self.consumed;
            let this = full.min(remaining) as usize;
            if this == 0 || self.buf.len() < this {
                return Ok(());
            }
            let last = this as u64 == remaining;
            if last && this < TAG_LEN {
                return Err(CryptoError::Truncated("the last chunk is shorter than its tag".into()));
            }
            let plain = opener.open_chunk(&self.buf[..this], last)?;
            out.extend_from_slice(&plain);
            self.buf.drain(..this);
            self.consumed += this as u64;
            if last {
                self.done = true;
                if !self.buf.is_empty() {
                    return Err(CryptoError::BadHeader("data after the last chunk".into()));
                }
                return Ok(());
            }
        }
    }

    /// Fails unless the last chunk was opened: a stream that ended early is truncated.
    pub fn finish(self) -> Result<(), CryptoError> {
        if self.done {
            Ok(())
        } else {
            Err(CryptoError::Truncated(format!(
                "expected {} bytes, the stream ended after {}",
                self.total,
                self.consumed + self.buf.len() as u64
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: [u8; 16] = [7; 16];

    fn sealed(len: usize) -> (DataKey, Vec<u8>, Vec<u8>) {
        let key = DataKey::generate().unwrap();
        let plain: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        let env = seal(&key, Header::new(ID, MIN_CHUNK_SIZE).unwrap(), &plain).unwrap();
        (key, plain, env)
    }

    #[test]
    fn round_trips_at_chunk_boundaries() {
        for len in [0, 1, 1023, 1024, 1025, 2048, 5000] {
            let (key, plain, env) = sealed(len);
            let header = Header::parse(&env).unwrap();
            assert_eq!(env.len() as u64, header.envelope_len(len as u64), "len {len}");
            assert_eq!(open(&key, &ID, &env).unwrap().as_slice(), plain.as_slice(), "len {len}");
        }
    }

    #[test]
    fn streaming_open_accepts_any_piece_size() {
        let (key, plain, env) = sealed(4000);
        for piece in [1, 7, 40, 1040, 3000, env.len()] {
            let mut o = StreamOpener::new(key.clone(), ID, env.len() as u64);
            let mut out = Vec::new();
            for p in env.chunks(piece) {
                o.feed(p, &mut out).unwrap();
            }
            o.finish().unwrap();
            assert_eq!(out, plain, "piece {piece}");
        }
    }

    #[test]
    fn every_kind_of_tampering_fails() {
        let (key, _, env) = sealed(3000); // chunks of 1040, 1040, 968 sealed bytes
        let c = 1024 + TAG_LEN;
        // A flipped bit in a chunk, and in the header's dataset id (the associated data).
        for pos in [HEADER_LEN + 5, HEADER_LEN + c + 100, env.len() - 1] {
            let mut bad = env.clone();
            bad[pos] ^= 1;
            assert!(matches!(open(&key, &ID, &bad), Err(CryptoError::ChunkFailed { .. })), "pos {pos}");
        }
        let mut foreign_id = env.clone();
        foreign_id[20] ^= 1;
        assert!(matches!(open(&key, &ID, &foreign_id), Err(CryptoError::WrongDataset { .. })));
        // Reordered chunks.
        let mut swapped = env[..HEADER_LEN].to_vec();
        swapped.extend_from_slice(&env[HEADER_LEN + c..HEADER_LEN + 2 * c]);
        swapped.extend_from_slice(&env[HEADER_LEN..HEADER_LEN + c]);
        swapped.extend_from_slice(&env[HEADER_LEN + 2 * c..]);
        assert_eq!(open(&key, &ID, &swapped), Err(CryptoError::ChunkFailed { index: 0 }));
        // Truncated at a chunk boundary: the new last chunk was not sealed as last.
        let cut = &env[..HEADER_LEN + 2 * c];
        assert_eq!(open(&key, &ID, cut), Err(CryptoError::ChunkFailed { index: 1 }));
        // Truncated mid-stream while the reader still expects more.
        let mut o = StreamOpener::new(key.clone(), ID, env.len() as u64);
        o.feed(&env[..env.len() - 10], &mut Vec::new()).unwrap();
        assert!(matches!(o.finish(), Err(CryptoError::Truncated(_))));
        // A chunk from another dataset sealed under the same key and prefix.
        let other = seal(&key, Header { dataset_id: [9; 16], ..Header::parse(&env).unwrap() }, &[0u8; 3000]).unwrap();
        let mut mixed = env.clone();
        mixed[HEADER_LEN + c..HEADER_LEN + 2 * c].copy_from_slice(&other[HEADER_LEN + c..HEADER_LEN + 2 * c]);
        assert_eq!(open(&key, &ID, &mixed), Err(CryptoError::ChunkFailed { index: 1 }));
        // The wrong key.
        assert_eq!(open(&DataKey::generate().unwrap(), &ID, &env), Err(CryptoError::ChunkFailed { index: 0 }));
    }

    #[test]
    fn header_layout_is_fixed() {
        let h = Header { chunk_size: 0x0010_0000, dataset_id: [0xAB; 16], nonce_prefix: [1, 2, 3, 4, 5, 6, 7] };
        let b = h.to_bytes();
        assert_eq!(&b[..8], b"CFENVLP\0");
        assert_eq!(b[8..16], [1, 1, 0, 0, 0x00, 0x10, 0x00, 0x00]);
        assert_eq!(h.nonce(0x0102_0304, true), [1, 2, 3, 4, 5, 6, 7, 1, 2, 3, 4, 1]);
        assert_eq!(Header::parse(&b).unwrap(), h);
        let mut v2 = b;
        v2[8] = 2;
        assert_eq!(Header::parse(&v2), Err(CryptoError::UnsupportedVersion(2)));
        assert_eq!(Header::parse(b"nonsense that is long enough to be a header"), Err(CryptoError::BadMagic));
    }

    #[test]
    fn chunks_of_the_wrong_size_are_refused() {
        let key = DataKey::generate().unwrap();
        let mut s = Sealer::new(&key, Header::new(ID, MIN_CHUNK_SIZE).unwrap());
        assert!(matches!(s.seal_chunk(&[0; 10], false), Err(CryptoError::ChunkSize { .. })));
        assert!(matches!(s.seal_chunk(&[0; 2000], true), Err(CryptoError::ChunkSize { .. })));
    }
}
