//! Checkpoints in the C2SP tlog-checkpoint format, signed as C2SP signed notes.
//!
//! ```text
//! <origin>
//! <size, decimal>
//! <root hash, base64 standard with padding>
//! [extension lines…]
//!
//! — <key name> <signature>
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::note::{LogSigner, NoteVerifier, note_text_unverified, open_note};
use crate::Error;
use crate::hash::Hash;

/// What a checkpoint commits to: the log, its size and its root.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    /// The log's origin line, a unique name such as `log.ancora.example/prod`.
    pub origin: String,
    /// Number of leaves.
    pub size: u64,
    /// Root hash of those leaves.
    pub root: Hash,
}

impl Checkpoint {
    /// The checkpoint body (the note text), without extension lines.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root.0)
        )
    }

    /// Parses a checkpoint body (the text of a note). Extension lines after the root are
    /// allowed and ignored. Errors are [`Error::MalformedNote`].
    pub fn parse_body(text: &str) -> Result<Self, Error> {
        let bad = |msg: &str| Error::MalformedNote(format!("checkpoint: {msg}"));
        let mut lines = text.split('\n');
        let origin = lines
            .next()
            .filter(|o| !o.is_empty())
            .ok_or_else(|| bad("no origin line"))?;
        let size = lines.next().ok_or_else(|| bad("no size line"))?;
        let root = lines.next().ok_or_else(|| bad("no root hash line"))?;
        if size.is_empty()
            || !size.bytes().all(|b| b.is_ascii_digit())
            || (size.len() > 1 && size.starts_with('0'))
        {
            return Err(bad(
                "the size must be a decimal number without leading zeros",
            ));
        }
        let size: u64 = size
            .parse()
            .map_err(|_| bad("the size does not fit 64 bits"))?;
        let raw = STANDARD
            .decode(root)
            .map_err(|_| bad("the root hash must be standard base64"))?;
        let root = Hash::from_slice(&raw).map_err(|_| bad("the root hash must be 32 bytes"))?;
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
        })
    }
}

/// Signs a checkpoint: the signed-note text of [`Checkpoint::body`] with one signature line.
pub fn sign_checkpoint(signer: &LogSigner, checkpoint: &Checkpoint) -> Result<String, Error> {
    signer.sign_note(&checkpoint.body())
}

/// Opens a signed checkpoint of the log whose key is `verifier` and whose origin is the key's
/// name (the convention for Ancora's log). See [`open_checkpoint_for_origin`].
pub fn open_checkpoint(text: &str, verifier: &NoteVerifier) -> Result<Checkpoint, Error> {
    open_checkpoint_for_origin(text, verifier, verifier.name())
}

/// Opens a signed checkpoint: the note must carry a valid signature by `verifier` and name
/// `origin`. Errors: [`Error::MalformedNote`], [`Error::UnknownKey`] (not signed by that key),
/// [`Error::BadSignature`] (altered or forged), [`Error::OriginMismatch`].
pub fn open_checkpoint_for_origin(
    text: &str,
    verifier: &NoteVerifier,
    origin: &str,
) -> Result<Checkpoint, Error> {
    let note = open_note(text, std::slice::from_ref(verifier))?;
    let checkpoint = Checkpoint::parse_body(note.text)?;
    if checkpoint.origin != origin {
        return Err(Error::OriginMismatch {
            expected: origin.to_owned(),
            actual: checkpoint.origin,
        });
    }
    Ok(checkpoint)
}

/// What a checkpoint claims, without checking any signature. Never trust the result; it is for
/// reports that show the claim next to a failed signature check.
pub fn parse_checkpoint_unverified(text: &str) -> Result<Checkpoint, Error> {
    Checkpoint::parse_body(note_text_unverified(text)?)
}
