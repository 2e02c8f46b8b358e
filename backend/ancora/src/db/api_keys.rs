//! API keys: generation, storage of their SHA-256, authentication, `last_used_at`.
//!
//! A key reads `ak_<8-char prefix>_<43-char base64url secret>`: the prefix is 8 random
//! lowercase letters and digits (shown to people, stored as `ak_<prefix>`), the secret is 32
//! random bytes. Only the SHA-256 of the whole key text is stored: the secret has 256 bits of
//! entropy, so a fast hash is the right tool (argon2 is for passwords).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng as _;
use rand::RngCore as _;
use secrecy::SecretString;
use sha2::Digest as _;
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::{Role, TenantId};

const PREFIX_LEN: usize = 8;
const SECRET_LEN: usize = 43;
/// `ak_` + prefix + `_` + secret.
const KEY_LEN: usize = 3 + PREFIX_LEN + 1 + SECRET_LEN;

/// A freshly generated key: the text (shown once), its visible prefix and its hash.
#[derive(Debug)]
pub struct GeneratedKey {
    /// The whole key; never stored, never logged.
    pub key: SecretString,
    /// `ak_<8 chars>`.
    pub prefix: String,
    /// SHA-256 of the whole key text.
    pub hash: [u8; 32],
}

/// Generates a key from the operating system's random source.
pub fn generate() -> GeneratedKey {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rngs::OsRng;
    let prefix: String = (0..PREFIX_LEN)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect();
    let mut secret = [0u8; 32];
    rng.fill_bytes(&mut secret);
    let key = format!("ak_{prefix}_{}", URL_SAFE_NO_PAD.encode(secret));
    GeneratedKey {
        hash: hash_key(&key),
        prefix: format!("ak_{prefix}"),
        key: SecretString::from(key),
    }
}

/// SHA-256 of the key text, as stored in `api_keys.key_hash`.
pub fn hash_key(key: &str) -> [u8; 32] {
    sha2::Sha256::digest(key.as_bytes()).into()
}

/// True when `key` has the shape of an Ancora API key (checked before any database work).
pub fn has_key_shape(key: &str) -> bool {
    let b = key.as_bytes();
    b.len() == KEY_LEN
        && key.starts_with("ak_")
        && b[3..3 + PREFIX_LEN]
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && b[3 + PREFIX_LEN] == b'_'
        && b[4 + PREFIX_LEN..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_')
}

/// What the authentication function returns for one key hash.
#[derive(Debug)]
pub struct KeyLookup {
    /// Key id.
    pub id: Uuid,
    /// Its tenant.
    pub tenant_id: Uuid,
    /// Its role, as stored.
    pub role: String,
    /// Its visible prefix.
    pub prefix: String,
    /// True once revoked.
    pub revoked: bool,
    /// False when the tenant is suspended.
    pub tenant_active: bool,
}

/// Looks a key up by hash, across tenants, through the SECURITY DEFINER function.
pub async fn authenticate(
    conn: &mut PgConnection,
    hash: &[u8; 32],
) -> sqlx::Result<Option<KeyLookup>> {
    sqlx::query_as!(
        KeyLookup,
        r#"SELECT id AS "id!", tenant_id AS "tenant_id!", role AS "role!", prefix AS "prefix!",
                  revoked AS "revoked!", tenant_active AS "tenant_active!"
           FROM ancora_authenticate_api_key($1)"#,
        hash.as_slice()
    )
    .fetch_optional(conn)
    .await
}

/// The channel on which a committed change that can make a key stop working is announced
/// (migration `api_key_changes`): payload `key:<key id>` or `tenant:<tenant id>`.
pub const CHANGES_CHANNEL: &str = "ancora_api_keys";

/// A session listening on [`CHANGES_CHANNEL`] (its own connection, outside the pool's count).
pub async fn listen_changes(db: &crate::db::Db) -> sqlx::Result<sqlx::postgres::PgListener> {
    let mut listener = sqlx::postgres::PgListener::connect_with(db.pool()).await?;
    listener.listen(CHANGES_CHANNEL).await?;
    Ok(listener)
}

/// Moves `last_used_at` to now unless it moved less than a minute ago.
pub async fn touch(conn: &mut PgConnection, tenant: TenantId, id: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE api_keys SET last_used_at = now() \
         WHERE tenant_id = $1 AND id = $2 \
           AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
        tenant.0,
        id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Stores a generated key for `tenant` (in a tenant transaction); returns its id.
pub async fn insert(
    conn: &mut PgConnection,
    tenant: TenantId,
    name: &str,
    role: Role,
    key: &GeneratedKey,
) -> sqlx::Result<Uuid> {
    let id = Uuid::now_v7();
    sqlx::query!(
        "INSERT INTO api_keys (id, tenant_id, name, prefix, key_hash, role) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        id,
        tenant.0,
        name,
        key.prefix,
        key.hash.as_slice(),
        role.as_str()
    )
    .execute(conn)
    .await?;
    Ok(id)
}

/// One key as listed (no hash).
#[derive(Debug)]
pub struct ApiKeyRow {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Visible prefix.
    pub prefix: String,
    /// Role.
    pub role: String,
    /// Last authenticated use (to the minute).
    pub last_used_at: Option<OffsetDateTime>,
    /// When revoked.
    pub revoked_at: Option<OffsetDateTime>,
}

/// One key of `tenant` by id.
pub async fn get(
    conn: &mut PgConnection,
    tenant: TenantId,
    id: Uuid,
) -> sqlx::Result<Option<ApiKeyRow>> {
    sqlx::query_as!(
        ApiKeyRow,
        "SELECT id, name, prefix, role, last_used_at, revoked_at FROM api_keys \
         WHERE tenant_id = $1 AND id = $2",
        tenant.0,
        id
    )
    .fetch_optional(conn)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret as _;

    #[test]
    fn generated_keys_have_the_documented_shape_and_hash() {
        let k = generate();
        let text = k.key.expose_secret();
        assert!(has_key_shape(text), "{}", k.prefix);
        assert!(text.starts_with(&format!("{}_", k.prefix)));
        assert_eq!(k.hash, hash_key(text));
    }

    #[test]
    fn strings_that_are_not_keys_are_refused_before_any_lookup() {
        assert!(!has_key_shape(""));
        assert!(!has_key_shape(
            "ak_ABCDEFGH_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        ));
        assert!(!has_key_shape("ak_abcdefgh_short"));
        assert!(!has_key_shape(
            "ak_abcdefgh_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!"
        ));
    }
}
