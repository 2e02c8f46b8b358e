//! C2SP signed notes with Ed25519 keys: key texts, signing, opening.
//!
//! A note is UTF-8 text ending in a newline, then a blank line, then one signature line per
//! signer: `— <key name> <base64(key hash ‖ signature)>` (an em dash, U+2014). The key hash
//! is the first 4 bytes of `SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key)`; the signature is
//! Ed25519 over the note text including its final newline. Key texts:
//!
//! * verifier: `<name>+<key hash, 8 hex>+<base64(0x01 ‖ public key)>`
//! * signer: `PRIVATE+KEY+<name>+<key hash, 8 hex>+<base64(0x01 ‖ seed)>`
//!
//! Base64 here is the standard alphabet with padding, as in the Go `note` package.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use sha2::Digest as _;

use crate::Error;

/// The algorithm byte of an Ed25519 key.
const ALG_ED25519: u8 = 0x01;
/// Longest note accepted, as in the Go implementation.
pub const MAX_NOTE_LEN: usize = 1 << 20;
/// Most signature lines accepted, as in the Go implementation.
pub const MAX_SIGNATURES: usize = 100;
/// What opens a signature line: an em dash and a space.
const SIG_PREFIX: &str = "\u{2014} ";

fn malformed(msg: impl Into<String>) -> Error {
    Error::MalformedNote(msg.into())
}

/// Checks a key name: non-empty, no Unicode white space, no `+`.
fn check_name(name: &str) -> Result<(), Error> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '+') {
        return Err(malformed(format!(
            "key name {name:?} must be non-empty, without spaces or '+'"
        )));
    }
    Ok(())
}

fn key_hash(name: &str, public: &[u8; 32]) -> u32 {
    let mut h = sha2::Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', ALG_ED25519]);
    h.update(public);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// Checks a note text: non-empty, ends in a newline, no control characters other than
/// newline, and no blank line (which would be taken for the signature separator).
fn check_text(text: &str) -> Result<(), Error> {
    if text.is_empty() || !text.ends_with('\n') {
        return Err(malformed(
            "note text must be non-empty and end with a newline",
        ));
    }
    if text.chars().any(|c| c.is_ascii_control() && c != '\n') {
        return Err(malformed(
            "note text must not contain control characters other than newline",
        ));
    }
    if text.contains("\n\n") || text.starts_with('\n') {
        return Err(malformed("note text must not contain a blank line"));
    }
    Ok(())
}

/// A public key that checks signatures on notes.
#[derive(Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    hash: u32,
    key: VerifyingKey,
}

impl NoteVerifier {
    /// The key name (for a log, by convention its origin).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 4-byte key hash.
    pub fn key_hash(&self) -> u32 {
        self.hash
    }

    /// The verifier key text `<name>+<hash>+<base64(0x01 ‖ key)>`.
    pub fn to_key_text(&self) -> String {
        let mut k = vec![ALG_ED25519];
        k.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.hash, STANDARD.encode(k))
    }

    fn label(&self) -> String {
        format!("{}+{:08x}", self.name, self.hash)
    }
}

impl fmt::Debug for NoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NoteVerifier({})", self.to_key_text())
    }
}

/// Parses a verifier key text, tolerating surrounding white space (a key pasted from a file).
/// Rejects a wrong hash, an unknown algorithm or a malformed key with [`Error::MalformedNote`].
pub fn parse_verifier_key(text: &str) -> Result<NoteVerifier, Error> {
    let text = text.trim();
    let mut parts = text.splitn(3, '+');
    let (Some(name), Some(hash), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(malformed(
            "verifier key must look like <name>+<8 hex>+<base64 key>",
        ));
    };
    check_name(name)?;
    let hash = parse_hash_hex(hash)?;
    let raw = STANDARD
        .decode(key)
        .map_err(|e| malformed(format!("verifier key: base64: {e}")))?;
    let public: [u8; 32] = match raw.split_first() {
        Some((&ALG_ED25519, rest)) => rest
            .try_into()
            .map_err(|_| malformed("verifier key: an Ed25519 key is 32 bytes"))?,
        Some((alg, _)) => {
            return Err(malformed(format!(
                "verifier key: unsupported algorithm {alg:#04x} (only Ed25519, 0x01)"
            )));
        }
        None => return Err(malformed("verifier key: empty key")),
    };
    if key_hash(name, &public) != hash {
        return Err(malformed(
            "verifier key: the key hash does not match the name and key",
        ));
    }
    let key = VerifyingKey::from_bytes(&public)
        .map_err(|_| malformed("verifier key: not a valid Ed25519 public key"))?;
    Ok(NoteVerifier {
        name: name.to_owned(),
        hash,
        key,
    })
}

fn parse_hash_hex(s: &str) -> Result<u32, Error> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(malformed("key hash must be 8 hex characters"));
    }
    u32::from_str_radix(s, 16).map_err(|_| malformed("key hash must be 8 hex characters"))
}

/// An Ed25519 signing key for notes. Built from 32 bytes the caller draws from its own RNG,
/// so this crate stays pure. `Debug` never shows the seed.
#[derive(Clone)]
pub struct LogSigner {
    name: String,
    hash: u32,
    key: SigningKey,
}

impl fmt::Debug for LogSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "LogSigner({}+{:08x}, seed redacted)",
            self.name, self.hash
        )
    }
}

impl LogSigner {
    /// A signer named `name` (for a log, its origin) from a 32-byte Ed25519 seed.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, Error> {
        check_name(name)?;
        let key = SigningKey::from_bytes(&seed);
        Ok(LogSigner {
            name: name.to_owned(),
            hash: key_hash(name, key.verifying_key().as_bytes()),
            key,
        })
    }

    /// Parses a signer key text `PRIVATE+KEY+<name>+<hash>+<base64(0x01 ‖ seed)>`.
    pub fn from_key_text(text: &str) -> Result<Self, Error> {
        let rest = text
            .trim()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(|| malformed("signer key must start with PRIVATE+KEY+"))?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(hash), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(malformed(
                "signer key must look like PRIVATE+KEY+<name>+<8 hex>+<base64>",
            ));
        };
        let hash = parse_hash_hex(hash)?;
        let raw = STANDARD
            .decode(key)
            .map_err(|e| malformed(format!("signer key: base64: {e}")))?;
        let seed: [u8; 32] = match raw.split_first() {
            Some((&ALG_ED25519, rest)) => rest
                .try_into()
                .map_err(|_| malformed("signer key: an Ed25519 seed is 32 bytes"))?,
            _ => return Err(malformed("signer key: only Ed25519 (0x01) is supported")),
        };
        let signer = Self::from_seed(name, seed)?;
        if signer.hash != hash {
            return Err(malformed(
                "signer key: the key hash does not match the name and key",
            ));
        }
        Ok(signer)
    }

    /// The signer key text. It holds the secret seed: store it as a secret.
    pub fn to_key_text(&self) -> String {
        let mut k = vec![ALG_ED25519];
        k.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.hash,
            STANDARD.encode(k)
        )
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The matching verifier.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            hash: self.hash,
            key: self.key.verifying_key(),
        }
    }

    /// The signature line `— <name> <base64(hash ‖ sig)>` (with its newline) over `text`.
    pub fn signature_line(&self, text: &str) -> Result<String, Error> {
        check_text(text)?;
        let sig = self.key.sign(text.as_bytes());
        let mut raw = self.hash.to_be_bytes().to_vec();
        raw.extend_from_slice(&sig.to_bytes());
        Ok(format!(
            "{SIG_PREFIX}{} {}\n",
            self.name,
            STANDARD.encode(raw)
        ))
    }

    /// Signs `text` (which must end in a newline and hold no blank line) into a signed note.
    pub fn sign_note(&self, text: &str) -> Result<String, Error> {
        let line = self.signature_line(text)?;
        Ok(format!("{text}\n{line}"))
    }
}

/// A note whose signatures were checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenedNote<'a> {
    /// The signed text, ending in a newline.
    pub text: &'a str,
    /// The keys (`name+hash`) whose signatures verified.
    pub verified_by: Vec<String>,
}

/// Opens a signed note: checks its shape, then every signature by one of `verifiers`.
///
/// * [`Error::MalformedNote`] — not a signed note (no blank line, a bad signature line…);
/// * [`Error::BadSignature`] — a signature by a known key does not verify;
/// * [`Error::UnknownKey`] — no signature by any of `verifiers`.
///
/// Signatures by other keys are ignored, as the specification asks.
pub fn open_note<'a>(note: &'a str, verifiers: &[NoteVerifier]) -> Result<OpenedNote<'a>, Error> {
    if note.len() > MAX_NOTE_LEN {
        return Err(malformed(format!(
            "note is longer than {MAX_NOTE_LEN} bytes"
        )));
    }
    let split = note
        .rfind("\n\n")
        .ok_or_else(|| malformed("no blank line between the text and the signatures"))?;
    let (text, sigs) = (&note[..=split], &note[split + 2..]);
    check_text(text)?;
    if sigs.is_empty() || !sigs.ends_with('\n') {
        return Err(malformed("the signature lines must end with a newline"));
    }
    let lines: Vec<&str> = sigs[..sigs.len() - 1].split('\n').collect();
    if lines.len() > MAX_SIGNATURES {
        return Err(malformed(format!(
            "more than {MAX_SIGNATURES} signature lines"
        )));
    }
    let mut verified_by: Vec<String> = Vec::new();
    let mut signers: Vec<String> = Vec::new();
    for line in lines {
        let (name, hash, sig) = parse_signature_line(line)?;
        signers.push(format!("{name}+{hash:08x}"));
        let Some(v) = verifiers.iter().find(|v| v.name == name && v.hash == hash) else {
            continue;
        };
        if verified_by.contains(&v.label()) {
            continue;
        }
        let ok = ed25519_dalek::Signature::from_slice(&sig)
            .is_ok_and(|s| v.key.verify_strict(text.as_bytes(), &s).is_ok());
        if !ok {
            return Err(Error::BadSignature(v.label()));
        }
        verified_by.push(v.label());
    }
    if verified_by.is_empty() {
        let known: Vec<String> = verifiers.iter().map(NoteVerifier::label).collect();
        return Err(Error::UnknownKey {
            signers: signers.join(", "),
            known: if known.is_empty() {
                "no key".into()
            } else {
                known.join(", ")
            },
        });
    }
    Ok(OpenedNote { text, verified_by })
}

fn parse_signature_line(line: &str) -> Result<(&str, u32, Vec<u8>), Error> {
    let bad = || malformed(format!("bad signature line {line:?}"));
    let rest = line.strip_prefix(SIG_PREFIX).ok_or_else(bad)?;
    let (name, b64) = rest.rsplit_once(' ').ok_or_else(bad)?;
    check_name(name).map_err(|_| bad())?;
    let raw = STANDARD.decode(b64).map_err(|_| bad())?;
    if raw.len() < 5 {
        return Err(bad());
    }
    let hash = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
    Ok((name, hash, raw[4..].to_vec()))
}

/// The shape-only part of [`open_note`]: the text of a note, without checking signatures.
/// For reports that show what an unverifiable note claims; never trust its content.
pub fn note_text_unverified(note: &str) -> Result<&str, Error> {
    let split = note
        .rfind("\n\n")
        .ok_or_else(|| malformed("no blank line between the text and the signatures"))?;
    let text = &note[..=split];
    check_text(text)?;
    Ok(text)
}
