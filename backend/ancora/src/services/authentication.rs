//! API-key authentication with an in-process cache, so a request with a known key touches no
//! database.
//!
//! * The cache maps a key's SHA-256 to the authenticated key ([`Auth`]). Only keys that
//!   authenticate enter it: an unknown, revoked or suspended key is looked up every time, so a
//!   flood of random keys costs database lookups (answered 401) but can never evict a real
//!   key. It is bounded ([`CAPACITY`] keys; when full, expired entries go first, then the
//!   oldest) and every entry lives at most [`LIFETIME`].
//! * A committed change that can make a key stop working (revoked, role or hash changed,
//!   deleted, its tenant suspended) is announced by a trigger on a Postgres channel
//!   ([`crate::db::api_keys::CHANGES_CHANNEL`]); [`run`] listens and drops the affected
//!   entries at once, so a revoked key stops working on every process within a second. The
//!   cache is used only while that listener is connected: when it is not (not started,
//!   connection lost), every request is looked up, and the cache is emptied on every
//!   (re)connection, since announcements may have been missed.
//! * A lookup that started before an announcement was processed does not fill the cache
//!   (a generation number, bumped by every invalidation, is compared under the lock).
//! * `last_used_at` is written in the background, at most once a minute per key and
//!   process (the database also refuses to move it sooner).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::db::api_keys::{self, KeyLookup};
use crate::domain::{Role, TenantId};
use crate::services::Services;
use crate::services::authorization::Auth;
use crate::support::Shutdown;

/// Keys kept at most.
pub const CAPACITY: usize = 10_000;
/// Longest an entry is used without a lookup (announcements make revocation much faster).
pub const LIFETIME: Duration = Duration::from_secs(30);
/// How often `last_used_at` is written per key.
pub const TOUCH_EVERY: Duration = Duration::from_secs(60);
/// Wait before reconnecting the listener after a failure.
const RECONNECT: Duration = Duration::from_millis(500);

/// Why a key does not authenticate.
#[derive(Debug, thiserror::Error)]
pub enum AuthenticationError {
    /// No key has this hash.
    #[error("unknown API key")]
    Unknown,
    /// The key was revoked.
    #[error("this API key has been revoked")]
    Revoked,
    /// The key's tenant is suspended.
    #[error("this tenant is suspended")]
    Suspended,
    /// The database could not be asked.
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
    /// A stored key that makes no sense.
    #[error(transparent)]
    Internal(anyhow::Error),
}

/// The cache of authenticated keys, one per process.
#[derive(Debug, Default)]
pub struct KeyCache {
    inner: Mutex<Inner>,
    /// True while the change listener is connected: only then are entries used or added.
    live: AtomicBool,
    /// When each key's `last_used_at` was last written by this process.
    touched: Mutex<HashMap<Uuid, Instant>>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<[u8; 32], Entry>,
    /// Bumped by every invalidation.
    generation: u64,
}

#[derive(Debug, Clone)]
struct Entry {
    auth: Auth,
    at: Instant,
}

impl KeyCache {
    /// Keys cached now.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// True when no key is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True while the change listener is connected (the cache is in use).
    pub fn is_live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, hash: &[u8; 32], now: Instant) -> Option<Auth> {
        if !self.is_live() {
            return None;
        }
        let g = self.lock();
        let e = g.entries.get(hash)?;
        (now.duration_since(e.at) < LIFETIME).then(|| e.auth.clone())
    }

    fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// Adds a key looked up when the cache was at `generation`, unless an invalidation came
    /// since (the lookup may predate it) or the listener is down.
    fn insert(&self, hash: [u8; 32], auth: Auth, generation: u64, now: Instant) {
        if !self.is_live() {
            return;
        }
        let mut g = self.lock();
        if g.generation != generation {
            return;
        }
        if g.entries.len() >= CAPACITY && !g.entries.contains_key(&hash) {
            g.entries.retain(|_, e| now.duration_since(e.at) < LIFETIME);
            if g.entries.len() >= CAPACITY
                && let Some(oldest) = g.entries.iter().min_by_key(|(_, e)| e.at).map(|(h, _)| *h)
            {
                g.entries.remove(&oldest);
            }
        }
        g.entries.insert(hash, Entry { auth, at: now });
    }

    /// Drops what an announcement names: `key:<id>`, `tenant:<id>`; anything else empties
    /// the cache.
    pub fn invalidate(&self, payload: &str) {
        let mut g = self.lock();
        g.generation += 1;
        let target = payload.split_once(':').and_then(|(kind, id)| {
            let id = id.parse::<Uuid>().ok()?;
            matches!(kind, "key" | "tenant").then_some((kind == "key", id))
        });
        match target {
            Some((true, id)) => g.entries.retain(|_, e| e.auth.key_id != id),
            Some((false, id)) => g.entries.retain(|_, e| e.auth.tenant.0 != id),
            None => g.entries.clear(),
        }
    }

    /// Empties the cache and sets whether it is in use.
    fn reset(&self, live: bool) {
        let mut g = self.lock();
        g.generation += 1;
        g.entries.clear();
        self.live.store(live, Ordering::Release);
    }

    /// True when this key's `last_used_at` is due (and marks it written now).
    fn touch_due(&self, key: Uuid, now: Instant) -> bool {
        let mut map = self.touched.lock().unwrap_or_else(|p| p.into_inner());
        if map
            .get(&key)
            .is_some_and(|t| now.duration_since(*t) < TOUCH_EVERY)
        {
            return false;
        }
        if map.len() >= CAPACITY {
            map.retain(|_, t| now.duration_since(*t) < TOUCH_EVERY);
        }
        map.insert(key, now);
        true
    }
}

/// Authenticates a key that has the shape of one: from the cache, else one lookup (which then
/// fills the cache). Schedules the `last_used_at` write when due.
pub async fn authenticate(svc: &Services, key: &str) -> Result<Auth, AuthenticationError> {
    let hash = api_keys::hash_key(key);
    let now = Instant::now();
    let auth = match svc.keys.get(&hash, now) {
        Some(auth) => {
            svc.metrics.api_key_cache_hits.inc();
            auth
        }
        None => {
            svc.metrics.api_key_cache_misses.inc();
            let generation = svc.keys.generation();
            let found = {
                let mut tx = svc.db.system_tx().await?;
                api_keys::authenticate(&mut tx, &hash).await?
            };
            let auth = check(found)?;
            svc.keys.insert(hash, auth.clone(), generation, now);
            auth
        }
    };
    if svc.keys.touch_due(auth.key_id, now) {
        let (svc, auth) = (svc.clone(), auth.clone());
        tokio::spawn(async move { touch(&svc, &auth).await });
    }
    Ok(auth)
}

fn check(found: Option<KeyLookup>) -> Result<Auth, AuthenticationError> {
    let k = found.ok_or(AuthenticationError::Unknown)?;
    if k.revoked {
        return Err(AuthenticationError::Revoked);
    }
    if !k.tenant_active {
        return Err(AuthenticationError::Suspended);
    }
    let role = k.role.parse::<Role>().map_err(|e| {
        AuthenticationError::Internal(anyhow::anyhow!("api key {} has a bad role: {e}", k.prefix))
    })?;
    Ok(Auth {
        tenant: TenantId(k.tenant_id),
        key_id: k.id,
        role,
        prefix: k.prefix,
    })
}

/// Writes `last_used_at`. A failure is logged, never answered: the bookkeeping must not fail
/// a request.
async fn touch(svc: &Services, auth: &Auth) {
    let result = async {
        let mut tx = svc.db.tenant_tx(auth.tenant).await?;
        api_keys::touch(&mut tx, auth.tenant, auth.key_id).await?;
        tx.commit().await
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, key_prefix = %auth.prefix, "cannot update last_used_at");
    }
}

/// Listens for key changes until shutdown and keeps the cache in use while connected; a lost
/// connection takes the cache out of use (and empties it) until the next connection.
pub async fn run(svc: Services, shutdown: Shutdown) {
    while !shutdown.is_triggered() {
        match api_keys::listen_changes(&svc.db).await {
            Ok(mut listener) => {
                // Whatever was announced while nobody listened is unknown: start empty.
                svc.keys.reset(true);
                loop {
                    tokio::select! {
                        msg = listener.try_recv() => match msg {
                            Ok(Some(n)) => svc.keys.invalidate(n.payload()),
                            Ok(None) => {
                                tracing::warn!("the API-key change listener lost its connection");
                                break;
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "the API-key change listener failed");
                                break;
                            }
                        },
                        _ = shutdown.wait() => {
                            svc.keys.reset(false);
                            return;
                        }
                    }
                }
                svc.keys.reset(false);
            }
            Err(e) => tracing::warn!(error = %e, "cannot listen for API-key changes"),
        }
        tokio::select! {
            _ = tokio::time::sleep(RECONNECT) => {}
            _ = shutdown.wait() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(tenant: Uuid, key: Uuid) -> Auth {
        Auth {
            tenant: TenantId(tenant),
            key_id: key,
            role: Role::Submitter,
            prefix: "ak_test".into(),
        }
    }

    #[test]
    fn entries_are_used_only_while_the_listener_is_live_and_within_their_lifetime() {
        let cache = KeyCache::default();
        let now = Instant::now();
        let a = auth(Uuid::from_u128(1), Uuid::from_u128(2));
        cache.insert([1; 32], a.clone(), cache.generation(), now);
        assert!(cache.is_empty(), "nothing is cached while not live");
        cache.reset(true);
        cache.insert([1; 32], a.clone(), cache.generation(), now);
        assert_eq!(cache.get(&[1; 32], now), Some(a.clone()));
        assert_eq!(cache.get(&[1; 32], now + LIFETIME), None);
        cache.reset(false);
        assert_eq!(cache.get(&[1; 32], now), None);
    }

    #[test]
    fn announcements_drop_a_key_or_a_tenant_and_stale_lookups_do_not_refill() {
        let cache = KeyCache::default();
        cache.reset(true);
        let now = Instant::now();
        let (t1, t2) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let gen0 = cache.generation();
        cache.insert([1; 32], auth(t1, Uuid::from_u128(11)), gen0, now);
        cache.insert([2; 32], auth(t1, Uuid::from_u128(12)), gen0, now);
        cache.insert([3; 32], auth(t2, Uuid::from_u128(13)), gen0, now);
        cache.invalidate(&format!("key:{}", Uuid::from_u128(11)));
        assert!(cache.get(&[1; 32], now).is_none());
        assert!(cache.get(&[2; 32], now).is_some());
        // A lookup begun before the announcement must not put the key back.
        cache.insert([1; 32], auth(t1, Uuid::from_u128(11)), gen0, now);
        assert!(cache.get(&[1; 32], now).is_none());
        cache.invalidate(&format!("tenant:{t1}"));
        assert!(cache.get(&[2; 32], now).is_none());
        assert!(cache.get(&[3; 32], now).is_some());
        cache.invalidate("garbage");
        assert!(cache.is_empty());
    }

    #[test]
    fn a_full_cache_drops_its_oldest_entry_and_never_grows() {
        let cache = KeyCache::default();
        cache.reset(true);
        let start = Instant::now();
        for i in 0..CAPACITY + 10 {
            let mut h = [0u8; 32];
            h[..8].copy_from_slice(&(i as u64).to_le_bytes());
            let at = start + Duration::from_micros(i as u64);
            cache.insert(
                h,
                auth(Uuid::nil(), Uuid::from_u128(i as u128)),
                cache.generation(),
                at,
            );
        }
        assert_eq!(cache.len(), CAPACITY);
        let mut first = [0u8; 32];
        first[..8].copy_from_slice(&0u64.to_le_bytes());
        assert!(cache.get(&first, start).is_none(), "the oldest went first");
    }

    #[test]
    fn last_used_is_due_once_a_minute_per_key() {
        let cache = KeyCache::default();
        let now = Instant::now();
        let k = Uuid::from_u128(5);
        assert!(cache.touch_due(k, now));
        assert!(!cache.touch_due(k, now + Duration::from_secs(59)));
        assert!(cache.touch_due(k, now + TOUCH_EVERY));
    }
}
