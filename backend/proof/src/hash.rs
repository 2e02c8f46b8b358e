//! Hash values and the two Merkle hash algorithms Chainweb knows.
//!
//! Chainweb's main tree uses SHA-512/256 (FIPS 180-4, its own IV — *not* SHA-512 cut to
//! 32 bytes); Keccak-256 (original 0x01 padding, not SHA3-256) appears only in new-format
//! payload proofs. Both produce 32-byte digests.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::Digest as _;

use crate::Error;

/// Length in bytes of every hash this crate handles.
pub const HASH_LEN: usize = 32;

/// A Merkle hash algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum HashAlgorithm {
    /// SHA-512/256, Chainweb's `SHA512t_256`.
    #[serde(rename = "SHA512t_256")]
    Sha512_256,
    /// Keccak-256, Chainweb's `Keccak_256`.
    #[serde(rename = "Keccak_256")]
    Keccak256,
}

impl HashAlgorithm {
    /// The name Chainweb uses in JSON (`"SHA512t_256"`, `"Keccak_256"`).
    pub fn name(self) -> &'static str {
        match self {
            HashAlgorithm::Sha512_256 => "SHA512t_256",
            HashAlgorithm::Keccak256 => "Keccak_256",
        }
    }

    /// Parses a Chainweb algorithm name; any other string is [`Error::UnknownAlgorithm`].
    pub fn from_name(name: &str) -> Result<Self, Error> {
        match name {
            "SHA512t_256" => Ok(HashAlgorithm::Sha512_256),
            "Keccak_256" => Ok(HashAlgorithm::Keccak256),
            other => Err(Error::UnknownAlgorithm(other.to_owned())),
        }
    }

    /// Hashes the concatenation of `parts`.
    pub fn digest(self, parts: &[&[u8]]) -> Hash {
        match self {
            HashAlgorithm::Sha512_256 => {
                let mut h = sha2::Sha512_256::new();
                for p in parts {
                    h.update(p);
                }
                Hash(h.finalize().into())
            }
            HashAlgorithm::Keccak256 => {
                let mut h = sha3::Keccak256::new();
                for p in parts {
                    h.update(p);
                }
                Hash(h.finalize().into())
            }
        }
    }
}

impl fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A 32-byte hash. Displays, serializes and parses as base64url without padding, the
/// encoding Chainweb uses everywhere.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; HASH_LEN]);

impl Hash {
    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; HASH_LEN] {
        &self.0
    }

    /// Builds a hash from a slice that must be exactly 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, Error> {
        <[u8; HASH_LEN]>::try_from(bytes)
            .map(Hash)
            .map_err(|_| Error::BadLength {
                what: "hash",
                expected: HASH_LEN,
                actual: bytes.len(),
            })
    }

    /// Parses base64url without padding (padding is tolerated).
    pub fn from_b64url(s: &str) -> Result<Self, Error> {
        Self::from_slice(&b64url_decode(s)?)
    }

    /// Parses lowercase or uppercase hex.
    pub fn from_hex(s: &str) -> Result<Self, Error> {
        let bytes = hex::decode(s).map_err(|e| Error::BadEncoding(format!("hex: {e}")))?;
        Self::from_slice(&bytes)
    }

    /// Base64url without padding.
    pub fn to_b64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_b64url())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_b64url())
    }
}

impl serde::Serialize for Hash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_b64url())
    }
}

impl<'de> serde::Deserialize<'de> for Hash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Hash::from_b64url(&s).map_err(serde::de::Error::custom)
    }
}

/// Decodes base64url, with or without padding. Errors are [`Error::BadEncoding`].
pub fn b64url_decode(s: &str) -> Result<Vec<u8>, Error> {
    URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|e| Error::BadEncoding(format!("base64url: {e}")))
}

/// Encodes base64url without padding.
pub fn b64url_encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha512_256_is_not_truncated_sha512() {
        // FIPS 180-4 SHA-512/256 of "abc".
        let h = HashAlgorithm::Sha512_256.digest(&[b"abc"]);
        assert_eq!(
            h.to_hex(),
            "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23"
        );
    }

    #[test]
    fn keccak256_uses_original_padding() {
        let h = HashAlgorithm::Keccak256.digest(&[b""]);
        assert_eq!(
            h.to_hex(),
            "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
        );
    }

    #[test]
    fn a_hash_of_the_wrong_length_is_rejected() {
        assert!(matches!(
            Hash::from_slice(&[0u8; 31]),
            Err(Error::BadLength { actual: 31, .. })
        ));
        assert!(Hash::from_b64url("!!").is_err());
    }
}
