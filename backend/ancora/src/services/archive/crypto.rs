//! Encryption of contents at rest: a data key per tenant (AES-256-GCM), stored wrapped by the
//! master key, so that destroying one tenant's wrapped key shreds every copy of its contents
//! (hot in Postgres and cold in the archive) at once.
//!
//! Formats (version byte first, so that a later scheme can be told apart):
//! * wrapped data key: `nonce (12) ‖ AES-256-GCM(master, data key, aad = "ancora-dk-v1" ‖
//!   tenant id)` — 60 bytes;
//! * content: `0x01 ‖ nonce (12) ‖ AES-256-GCM(data key, content, aad = "ancora-content-v1" ‖
//!   tenant id ‖ event id)`: a ciphertext moved to another tenant or event does not decrypt.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

use crate::domain::TenantId;

const CONTENT_VERSION: u8 = 1;
const NONCE: usize = 12;

/// Why a key or a content could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The data key was wrapped by another master key than the configured one.
    #[error(
        "the configured master key (id {configured}) is not the one that wrapped this tenant's data key (id {stored}); set ANCORA_MASTER_KEY or ANCORA_MASTER_KEY_FILE to the key in use"
    )]
    WrongMasterKey {
        /// The configured key's id (hex).
        configured: String,
        /// The id stored with the wrapped key (hex).
        stored: String,
    },
    /// A ciphertext that does not decrypt (altered, or moved from another event).
    #[error("{0} does not decrypt: it was altered or belongs elsewhere")]
    Corrupt(&'static str),
}

/// The master key (32 bytes). Its `Debug` prints only its id.
#[derive(Clone)]
pub struct MasterKey {
    key: [u8; 32],
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey(id {})", hex::encode(self.id()))
    }
}

impl MasterKey {
    /// A key from its 32 bytes.
    pub fn from_bytes(key: [u8; 32]) -> Self {
        MasterKey { key }
    }

    /// A fresh random key.
    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        MasterKey { key }
    }

    /// Parses 64 hex digits or the base64 of 32 bytes (surrounding whitespace ignored).
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let bytes = if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(t).map_err(|e| e.to_string())?
        } else {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(t)
                .map_err(|_| "a master key is 64 hex digits or the base64 of 32 bytes".to_owned())?
        };
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "a master key is 32 bytes (64 hex digits)".to_owned())?;
        Ok(MasterKey { key })
    }

    /// Reads the key file at `path`, or when it does not exist creates it (0600) with a fresh
    /// key: the embedded default, in the data directory.
    pub fn load_or_create(path: &Path) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text)
                .map_err(|e| anyhow::anyhow!("master key file {}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("creating {}", dir.display()))?;
                }
                let key = Self::generate();
                write_private(path, &hex::encode(key.key))
                    .with_context(|| format!("writing the master key to {}", path.display()))?;
                Ok(key)
            }
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// The key's id: the first 8 bytes of its SHA-256 (stored beside what it wraps).
    pub fn id(&self) -> [u8; 8] {
        let d = Sha256::digest(self.key);
        let mut id = [0u8; 8];
        id.copy_from_slice(&d[..8]);
        id
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new((&self.key).into())
    }
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

/// A tenant's data key, unwrapped (in memory only).
#[derive(Clone)]
pub struct DataKey {
    key: [u8; 32],
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey([REDACTED])")
    }
}

fn wrap_aad(tenant: TenantId) -> Vec<u8> {
    let mut aad = b"ancora-dk-v1".to_vec();
    aad.extend_from_slice(&tenant.bytes());
    aad
}

fn content_aad(tenant: TenantId, event_id: &str) -> Vec<u8> {
    let mut aad = b"ancora-content-v1".to_vec();
    aad.extend_from_slice(&tenant.bytes());
    aad.extend_from_slice(event_id.as_bytes());
    aad
}

fn nonce() -> [u8; NONCE] {
    let mut n = [0u8; NONCE];
    rand::rngs::OsRng.fill_bytes(&mut n);
    n
}

impl DataKey {
    /// A fresh random data key.
    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        DataKey { key }
    }

    /// Wraps the key with `master` for `tenant` (60 bytes).
    pub fn wrap(&self, master: &MasterKey, tenant: TenantId) -> Vec<u8> {
        let n = nonce();
        let sealed = master
            .cipher()
            .encrypt(
                Nonce::from_slice(&n),
                Payload {
                    msg: &self.key,
                    aad: &wrap_aad(tenant),
                },
            )
            .unwrap_or_default();
        [n.as_slice(), &sealed].concat()
    }

    /// Unwraps a stored key; `stored_id` is the id of the master key that wrapped it.
    pub fn unwrap(
        master: &MasterKey,
        tenant: TenantId,
        wrapped: &[u8],
        stored_id: &[u8],
    ) -> Result<Self, CryptoError> {
        if stored_id != master.id() {
            return Err(CryptoError::WrongMasterKey {
                configured: hex::encode(master.id()),
                stored: hex::encode(stored_id),
            });
        }
        if wrapped.len() != NONCE + 48 {
            return Err(CryptoError::Corrupt("the wrapped data key"));
        }
        let (n, sealed) = wrapped.split_at(NONCE);
        let key = master
            .cipher()
            .decrypt(
                Nonce::from_slice(n),
                Payload {
                    msg: sealed,
                    aad: &wrap_aad(tenant),
                },
            )
            .map_err(|_| CryptoError::Corrupt("the wrapped data key"))?;
        let key: [u8; 32] = key
            .try_into()
            .map_err(|_| CryptoError::Corrupt("the wrapped data key"))?;
        Ok(DataKey { key })
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new((&self.key).into())
    }

    /// Encrypts one event's content.
    pub fn encrypt(&self, tenant: TenantId, event_id: &str, content: &[u8]) -> Vec<u8> {
        let n = nonce();
        let sealed = self
            .cipher()
            .encrypt(
                Nonce::from_slice(&n),
                Payload {
                    msg: content,
                    aad: &content_aad(tenant, event_id),
                },
            )
            .unwrap_or_default();
        let mut out = Vec::with_capacity(1 + NONCE + sealed.len());
        out.push(CONTENT_VERSION);
        out.extend_from_slice(&n);
        out.extend_from_slice(&sealed);
        out
    }

    /// Decrypts one event's content.
    pub fn decrypt(
        &self,
        tenant: TenantId,
        event_id: &str,
        sealed: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        if sealed.len() < 1 + NONCE + 16 || sealed[0] != CONTENT_VERSION {
            return Err(CryptoError::Corrupt("the stored content"));
        }
        let (n, body) = sealed[1..].split_at(NONCE);
        self.cipher()
            .decrypt(
                Nonce::from_slice(n),
                Payload {
                    msg: body,
                    aad: &content_aad(tenant, event_id),
                },
            )
            .map_err(|_| CryptoError::Corrupt("the stored content"))
    }
}

/// The master key and a cache of unwrapped data keys, keyed by tenant and wrapped bytes: a
/// key is unwrapped once per process, but every use first reads the wrapped key from the
/// database, so a shredded key stops working in every process at once.
#[derive(Debug)]
pub struct Keyring {
    master: MasterKey,
    cache: Mutex<HashMap<(TenantId, Vec<u8>), DataKey>>,
}

impl Keyring {
    /// A keyring over `master`.
    pub fn new(master: MasterKey) -> Self {
        Keyring {
            master,
            cache: Mutex::default(),
        }
    }

    /// The master key.
    pub fn master(&self) -> &MasterKey {
        &self.master
    }

    /// The data key that `wrapped` (as stored, with its master key id) holds.
    pub fn data_key(
        &self,
        tenant: TenantId,
        wrapped: &[u8],
        master_id: &[u8],
    ) -> Result<DataKey, CryptoError> {
        let k = (tenant, wrapped.to_vec());
        if let Some(dk) = self.cache.lock().unwrap_or_else(|p| p.into_inner()).get(&k) {
            return Ok(dk.clone());
        }
        let dk = DataKey::unwrap(&self.master, tenant, wrapped, master_id)?;
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(k, dk.clone());
        Ok(dk)
    }

    /// Forgets every cached key of `tenant` (after a shred).
    pub fn forget(&self, tenant: TenantId) {
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(t, _), _| *t != tenant);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_round_trips_and_is_bound_to_its_tenant_and_event() {
        let (master, t) = (MasterKey::generate(), TenantId::new());
        let dk = DataKey::generate();
        let wrapped = dk.wrap(&master, t);
        assert_eq!(wrapped.len(), 60);
        let back = DataKey::unwrap(&master, t, &wrapped, &master.id()).expect("unwraps");
        let sealed = dk.encrypt(t, "e1", b"secret invoice");
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert_eq!(
            back.decrypt(t, "e1", &sealed).expect("decrypts"),
            b"secret invoice"
        );
        assert!(back.decrypt(t, "e2", &sealed).is_err());
        assert!(back.decrypt(TenantId::new(), "e1", &sealed).is_err());
    }

    #[test]
    fn a_wrong_master_key_is_named_as_such() {
        let t = TenantId::new();
        let wrapped = DataKey::generate().wrap(&MasterKey::generate(), t);
        let other = MasterKey::generate();
        let err = DataKey::unwrap(&other, t, &wrapped, &[0; 8]).expect_err("refused");
        assert!(err.to_string().contains("master key"), "{err}");
    }

    #[test]
    fn master_keys_parse_from_hex_or_base64_and_never_print() {
        let hex64 = "00".repeat(32);
        assert!(MasterKey::parse(&hex64).is_ok());
        assert!(MasterKey::parse("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").is_ok());
        assert!(MasterKey::parse("short").is_err());
        assert!(!format!("{:?}", MasterKey::parse(&hex64).expect("key")).contains(&hex64));
    }
}
