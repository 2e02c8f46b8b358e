//! Ed25519 secret keys for signing Pact commands.
//!
//! A key is 32 bytes (the seed, as Kadena tools write it: 64 hex characters). It prints as
//! `SecretKey(<redacted>, public: …)`; error messages say what is wrong with a key file
//! without quoting it. The bytes are wiped on drop (ed25519-dalek's `zeroize`).

use std::fmt;
use std::path::Path;

use ed25519_dalek::{Signer as _, SigningKey};

use crate::Error;

/// An Ed25519 secret key. `Debug` never shows the secret.
#[derive(Clone)]
pub struct SecretKey(SigningKey);

impl SecretKey {
    /// Parses 64 hex characters (surrounding whitespace ignored).
    pub fn from_hex(text: &str) -> Result<Self, Error> {
        let t = text.trim();
        if t.len() != 64 {
            return Err(Error::Key(format!(
                "a secret key must be 64 hex characters, this one has {}",
                t.chars().count()
            )));
        }
        let mut seed = [0u8; 32];
        hex::decode_to_slice(t, &mut seed)
            .map_err(|_| Error::Key("a secret key must be hex (0-9, a-f)".to_owned()))?;
        Ok(SecretKey(SigningKey::from_bytes(&seed)))
    }

    /// The key from its 32 raw bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        SecretKey(SigningKey::from_bytes(bytes))
    }

    /// Reads a file holding the key as 64 hex characters (whitespace around it ignored).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_hex(&text).map_err(|e| match e {
            Error::Key(m) => Error::Key(format!("key file {}: {m}", path.display())),
            other => other,
        })
    }

    /// Reads the key from environment variable `var` (64 hex characters).
    pub fn from_env(var: &str) -> Result<Self, Error> {
        let text = std::env::var(var)
            .map_err(|_| Error::Key(format!("environment variable {var} is not set")))?;
        Self::from_hex(&text).map_err(|e| match e {
            Error::Key(m) => Error::Key(format!("environment variable {var}: {m}")),
            other => other,
        })
    }

    /// The public key, as Pact writes it: 64 lowercase hex characters.
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.0.verifying_key().as_bytes())
    }

    /// Signs `msg` (for Pact: the 32 raw bytes of the command hash); the signature as
    /// 128 lowercase hex characters.
    pub fn sign_hex(&self, msg: &[u8]) -> String {
        hex::encode(self.0.sign(msg).to_bytes())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SecretKey(<redacted>, public: {})",
            self.public_key_hex()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "8693e641ae2bbe9ea802c736f42027b03f86afe63cae315e7169c9c496c17332";

    #[test]
    fn debug_shows_the_public_key_and_never_the_secret() {
        let key = SecretKey::from_hex(&format!("  {SECRET}\n")).expect("valid key");
        let shown = format!("{key:?}");
        assert!(!shown.contains(SECRET), "{shown}");
        assert!(shown.contains("ba54b224d1924dd98403f5c751abdd10de6cd81b0121800bf7bdbdcfaec7388d"));
    }

    #[test]
    fn bad_keys_are_rejected_without_echoing_them() {
        for bad in ["", "abc", &SECRET[..63], &format!("{}zz", &SECRET[..62])] {
            let err = SecretKey::from_hex(bad).expect_err("must fail").to_string();
            assert!(bad.is_empty() || !err.contains(bad), "{err}");
        }
    }
}
