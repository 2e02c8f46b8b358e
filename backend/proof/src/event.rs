//! Ancora's event leaf: the canonical, versioned bytes that stand for one event in a batch tree.
//!
//! Ancora never needs an event's content to prove it: the leaf binds the tenant, the event id,
//! the digest of the content the tenant keeps, the submitter and the time Ancora received it.
//!
//! ## Encoding, version 1
//!
//! All integers big-endian; strings UTF-8 with a `u16` length prefix.
//!
//! | bytes | field |
//! |---|---|
//! | 2 | tag `0xA7E1` ("Ancora event leaf"), in the spirit of Chainweb's 2-byte leaf tags |
//! | 1 | version, `0x01` |
//! | 16 | tenant id (UUID bytes) |
//! | 2 + n | event id, 1–256 bytes |
//! | 1 | digest algorithm: `0x01` SHA-256, `0x02` SHA-512/256 |
//! | 32 | digest |
//! | 2 + n | submitter (API key prefix or device id), 0–256 bytes |
//! | 8 | received time, signed microseconds since the Unix epoch |
//!
//! The leaf enters the batch tree as an input leaf, so its node hash is
//! `SHA-512/256(0x00 ‖ encoding)`.

use std::fmt;
use std::str::FromStr;

use crate::Error;
use crate::hash::{Hash, HashAlgorithm};
use crate::merkle::leaf_hash;

/// The 2-byte tag that opens every event leaf.
pub const EVENT_LEAF_TAG: u16 = 0xA7E1;
/// The current encoding version.
pub const EVENT_LEAF_VERSION: u8 = 1;
/// Longest event id or submitter, in bytes.
pub const MAX_ID_LEN: usize = 256;

/// The algorithm of a content digest a tenant submits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DigestAlgorithm {
    /// SHA-256.
    Sha256,
    /// SHA-512/256.
    Sha512_256,
}

impl DigestAlgorithm {
    /// The prefix used in the text form (`sha256`, `sha512_256`).
    pub fn prefix(self) -> &'static str {
        match self {
            DigestAlgorithm::Sha256 => "sha256",
            DigestAlgorithm::Sha512_256 => "sha512_256",
        }
    }

    /// The algorithm named by its text prefix (`sha256`, `sha512_256`).
    pub fn from_prefix(prefix: &str) -> Option<Self> {
        match prefix {
            "sha256" => Some(DigestAlgorithm::Sha256),
            "sha512_256" => Some(DigestAlgorithm::Sha512_256),
            _ => None,
        }
    }

    fn code(self) -> u8 {
        match self {
            DigestAlgorithm::Sha256 => 1,
            DigestAlgorithm::Sha512_256 => 2,
        }
    }

    fn from_code(code: u8) -> Result<Self, Error> {
        match code {
            1 => Ok(DigestAlgorithm::Sha256),
            2 => Ok(DigestAlgorithm::Sha512_256),
            other => Err(Error::Invalid(format!(
                "unknown digest algorithm code {other}"
            ))),
        }
    }
}

/// A content digest, written `"sha256:<64 hex>"` or `"sha512_256:<64 hex>"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ContentDigest {
    /// The algorithm.
    pub algorithm: DigestAlgorithm,
    /// The 32 digest bytes.
    pub bytes: [u8; 32],
}

impl ContentDigest {
    /// The SHA-256 digest of `content`.
    pub fn sha256_of(content: &[u8]) -> Self {
        use sha2::Digest as _;
        ContentDigest {
            algorithm: DigestAlgorithm::Sha256,
            bytes: sha2::Sha256::digest(content).into(),
        }
    }
}

impl fmt::Display for ContentDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut hex = [0u8; 64];
        // 32 bytes always fit 64 hex digits; the digits are ASCII.
        hex::encode_to_slice(self.bytes, &mut hex).map_err(|_| fmt::Error)?;
        f.write_str(self.algorithm.prefix())?;
        f.write_str(":")?;
        f.write_str(std::str::from_utf8(&hex).map_err(|_| fmt::Error)?)
    }
}

impl FromStr for ContentDigest {
    type Err = Error;

    /// Parses `"sha256:<hex>"` or `"sha512_256:<hex>"`; the hex must be 64 characters.
    fn from_str(s: &str) -> Result<Self, Error> {
        let (alg, hex_part) = s.split_once(':').ok_or_else(|| {
            Error::Invalid("digest must look like \"sha256:<64 hex characters>\"".into())
        })?;
        let algorithm = DigestAlgorithm::from_prefix(alg).ok_or_else(|| {
            Error::Invalid(format!(
                "unknown digest algorithm {alg:?} (use sha256 or sha512_256)"
            ))
        })?;
        let raw =
            hex::decode(hex_part).map_err(|e| Error::BadEncoding(format!("digest hex: {e}")))?;
        let bytes = <[u8; 32]>::try_from(raw.as_slice()).map_err(|_| Error::BadLength {
            what: "digest",
            expected: 32,
            actual: raw.len(),
        })?;
        Ok(ContentDigest { algorithm, bytes })
    }
}

impl serde::Serialize for ContentDigest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for ContentDigest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One event as it is bound into a batch tree.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EventLeaf {
    /// The tenant's UUID, as 16 bytes (hex in JSON).
    #[serde(with = "hex16")]
    pub tenant_id: [u8; 16],
    /// The event id, unique per tenant.
    pub event_id: String,
    /// Digest of the content the tenant keeps.
    pub digest: ContentDigest,
    /// Who submitted it (API key prefix or device id).
    pub submitter: String,
    /// When Ancora received it, microseconds since the Unix epoch.
    pub received_at_micros: i64,
}

mod hex16 {
    use serde::Deserialize as _;

    pub fn serialize<S: serde::Serializer>(v: &[u8; 16], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<[u8; 16], D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let raw = hex::decode(s.replace('-', "")).map_err(serde::de::Error::custom)?;
        <[u8; 16]>::try_from(raw.as_slice())
            .map_err(|_| serde::de::Error::custom("tenant id must be 16 bytes"))
    }
}

impl EventLeaf {
    /// The canonical version-1 encoding. Fails only when the event id is empty or longer than
    /// [`MAX_ID_LEN`], or the submitter is longer than that.
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        if self.event_id.is_empty() || self.event_id.len() > MAX_ID_LEN {
            return Err(Error::Invalid(format!(
                "event id must be 1 to {MAX_ID_LEN} bytes, got {}",
                self.event_id.len()
            )));
        }
        if self.submitter.len() > MAX_ID_LEN {
            return Err(Error::Invalid(format!(
                "submitter must be at most {MAX_ID_LEN} bytes"
            )));
        }
        let mut out = Vec::with_capacity(2 + 1 + 16 + 2 + 1 + 32 + 2 + 8 + 64);
        out.extend_from_slice(&EVENT_LEAF_TAG.to_be_bytes());
        out.push(EVENT_LEAF_VERSION);
        out.extend_from_slice(&self.tenant_id);
        out.extend_from_slice(&(self.event_id.len() as u16).to_be_bytes());
        out.extend_from_slice(self.event_id.as_bytes());
        out.push(self.digest.algorithm.code());
        out.extend_from_slice(&self.digest.bytes);
        out.extend_from_slice(&(self.submitter.len() as u16).to_be_bytes());
        out.extend_from_slice(self.submitter.as_bytes());
        out.extend_from_slice(&self.received_at_micros.to_be_bytes());
        Ok(out)
    }

    /// Decodes a version-1 encoding; rejects any other tag, version, length or trailing bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        let mut r = Reader(bytes);
        let tag = u16::from_be_bytes(r.take::<2>()?);
        if tag != EVENT_LEAF_TAG {
            return Err(Error::WrongTag {
                expected: EVENT_LEAF_TAG,
                actual: tag,
            });
        }
        let [version] = r.take::<1>()?;
        if version != EVENT_LEAF_VERSION {
            return Err(Error::Invalid(format!(
                "unsupported event leaf version {version}"
            )));
        }
        let tenant_id = r.take::<16>()?;
        let event_id = r.string()?;
        let [alg] = r.take::<1>()?;
        let digest = ContentDigest {
            algorithm: DigestAlgorithm::from_code(alg)?,
            bytes: r.take::<32>()?,
        };
        let submitter = r.string()?;
        let received_at_micros = i64::from_be_bytes(r.take::<8>()?);
        if !r.0.is_empty() {
            return Err(Error::Invalid("trailing bytes after event leaf".into()));
        }
        let leaf = EventLeaf {
            tenant_id,
            event_id,
            digest,
            submitter,
            received_at_micros,
        };
        leaf.encode()?; // re-checks the length limits
        Ok(leaf)
    }

    /// The leaf's node hash in a batch tree: `SHA-512/256(0x00 ‖ encoding)`.
    pub fn leaf_hash(&self) -> Result<Hash, Error> {
        Ok(leaf_hash(HashAlgorithm::Sha512_256, &self.encode()?))
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let (head, rest) = self.0.split_first_chunk::<N>().ok_or(Error::Truncated)?;
        self.0 = rest;
        Ok(*head)
    }

    fn string(&mut self) -> Result<String, Error> {
        let len = u16::from_be_bytes(self.take::<2>()?) as usize;
        if self.0.len() < len {
            return Err(Error::Truncated);
        }
        let (s, rest) = self.0.split_at(len);
        self.0 = rest;
        String::from_utf8(s.to_vec()).map_err(|_| Error::BadEncoding("string is not UTF-8".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> EventLeaf {
        EventLeaf {
            tenant_id: [7; 16],
            event_id: "inv-2026-0001".into(),
            digest: "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
                .parse()
                .expect("valid digest"),
            submitter: "ak_live_ab12".into(),
            received_at_micros: 1_764_160_000_000_000,
        }
    }

    #[test]
    fn an_event_leaf_round_trips_through_its_encoding() {
        let leaf = sample();
        let bytes = leaf.encode().expect("encodes");
        assert_eq!(&bytes[..3], &[0xA7, 0xE1, 0x01]);
        assert_eq!(EventLeaf::decode(&bytes).expect("decodes"), leaf);
        for cut in 0..bytes.len() {
            assert!(EventLeaf::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn digests_of_the_wrong_length_or_algorithm_are_rejected() {
        assert!("sha256:abcd".parse::<ContentDigest>().is_err());
        assert!(
            "md5:9f86d081884c7d659a2feaa0c55ad015"
                .parse::<ContentDigest>()
                .is_err()
        );
        assert!("sha256:zz".parse::<ContentDigest>().is_err());
        let d = ContentDigest::sha256_of(b"test");
        assert_eq!(
            d.to_string().parse::<ContentDigest>().expect("round trip"),
            d
        );
    }
}
