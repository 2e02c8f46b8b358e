//! The Redis backend of the shared proof cache (`ANCORA_REDIS_URL`): one key a final bundle,
//! `ancora:proof:v1:{tenant}:{event}` (the version names the value's format: a bundle's JSON
//! as served), written with `SET … EX ttl` so that bundles nobody reads any more expire.
//!
//! The connection is a `redis` connection manager: one multiplexed connection, opened on the
//! first call (a Redis that is down at start-up does not stop the process) and reopened with
//! backoff when it breaks.

use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use secrecy::{ExposeSecret as _, SecretString};
use tokio::sync::OnceCell;
use uuid::Uuid;

use super::shared::SharedProofCache;

/// Where the shared cache is and how it is used.
#[derive(Clone, Debug)]
pub struct RedisConfig {
    /// `redis://[:PASSWORD@]HOST[:PORT][/DB]` (`ANCORA_REDIS_URL`); a secret, since it may
    /// carry a password.
    pub url: SecretString,
    /// How long an entry lives (`ANCORA_REDIS_TTL_S`).
    pub ttl: Duration,
    /// How long a read waits for Redis before it asks the database
    /// (`ANCORA_REDIS_TIMEOUT_MS`).
    pub timeout: Duration,
    /// What every key starts with (tests give each their own).
    pub key_prefix: String,
}

impl RedisConfig {
    /// Default entry lifetime, seconds: a day.
    pub const DEFAULT_TTL_S: u64 = 86_400;
    /// Default wait for an answer, milliseconds: well under a database read under load, far
    /// over a Redis round trip on the same network.
    pub const DEFAULT_TIMEOUT_MS: u64 = 50;
    /// The keys' prefix; `v1` is the value's format.
    pub const KEY_PREFIX: &'static str = "ancora:proof:v1:";

    /// The section for `url` with the default lifetime, timeout and prefix.
    pub fn new(url: SecretString) -> Self {
        RedisConfig {
            url,
            ttl: Duration::from_secs(Self::DEFAULT_TTL_S),
            timeout: Duration::from_millis(Self::DEFAULT_TIMEOUT_MS),
            key_prefix: Self::KEY_PREFIX.to_owned(),
        }
    }

    /// Checks that the URL is one the client can use (without connecting); the message never
    /// repeats the URL, which may hold a password.
    pub fn check(&self) -> anyhow::Result<()> {
        redis::Client::open(self.url.expose_secret()).map_err(|e| {
            anyhow::anyhow!(
                "ANCORA_REDIS_URL: not a usable Redis URL (redis://HOST[:PORT][/DB]): {}",
                e.detail().unwrap_or(e.category())
            )
        })?;
        Ok(())
    }
}

/// The shared proof cache in Redis.
pub struct RedisProofCache {
    client: redis::Client,
    conn: OnceCell<redis::aio::ConnectionManager>,
    ttl_s: u64,
    timeout: Duration,
    prefix: String,
}

impl std::fmt::Debug for RedisProofCache {
    /// Without the URL (it may hold a password).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisProofCache")
            .field("prefix", &self.prefix)
            .field("ttl_s", &self.ttl_s)
            .field("connected", &self.conn.initialized())
            .finish_non_exhaustive()
    }
}

impl RedisProofCache {
    /// A cache on `config` (fails on a URL [`RedisConfig::check`] refuses); connects on first
    /// use.
    pub fn new(config: &RedisConfig) -> anyhow::Result<Self> {
        config.check()?;
        Ok(RedisProofCache {
            client: redis::Client::open(config.url.expose_secret())?,
            conn: OnceCell::new(),
            ttl_s: config.ttl.as_secs().max(1),
            timeout: config.timeout,
            prefix: config.key_prefix.clone(),
        })
    }

    /// The key of `(tenant, event_id)`. The tenant is a fixed-width UUID, so the event id
    /// after it needs no escaping.
    pub fn key(prefix: &str, tenant: Uuid, event_id: &str) -> String {
        format!("{prefix}{tenant}:{event_id}")
    }

    async fn conn(&self) -> anyhow::Result<redis::aio::ConnectionManager> {
        let conn = self
            .conn
            .get_or_try_init(|| async {
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_response_timeout(Some(self.timeout))
                    .set_connection_timeout(Some(self.timeout.max(Duration::from_millis(500))))
                    .set_max_delay(Duration::from_secs(2));
                redis::aio::ConnectionManager::new_lazy_with_config(self.client.clone(), config)
            })
            .await?;
        Ok(conn.clone())
    }
}

impl SharedProofCache for RedisProofCache {
    fn get<'a>(
        &'a self,
        tenant: Uuid,
        event_id: &'a str,
    ) -> BoxFuture<'a, anyhow::Result<Option<Bytes>>> {
        Box::pin(async move {
            let mut conn = self.conn().await?;
            let found: Option<Vec<u8>> = redis::cmd("GET")
                .arg(Self::key(&self.prefix, tenant, event_id))
                .query_async(&mut conn)
                .await?;
            Ok(found.map(Bytes::from))
        })
    }

    fn put<'a>(
        &'a self,
        tenant: Uuid,
        event_id: &'a str,
        json: Bytes,
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let mut conn = self.conn().await?;
            let () = redis::cmd("SET")
                .arg(Self::key(&self.prefix, tenant, event_id))
                .arg(json.as_ref())
                .arg("EX")
                .arg(self.ttl_s)
                .query_async(&mut conn)
                .await?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_that_is_no_redis_url_is_refused_without_repeating_it() {
        for bad in ["", "http://127.0.0.1:6379", "not a url", "redis://h:x/0"] {
            let c = RedisConfig::new(SecretString::from(bad));
            let e = c.check().expect_err(bad).to_string();
            assert!(e.starts_with("ANCORA_REDIS_URL: "), "{e}");
            assert!(!e.contains('\n'), "one line: {e}");
        }
        let secret = RedisConfig::new(SecretString::from("redis://:hunter2@127.0.0.1:notaport"));
        let e = secret.check().expect_err("bad port").to_string();
        assert!(!e.contains("hunter2"), "{e}");
        for good in [
            "redis://127.0.0.1:6379",
            "redis://127.0.0.1",
            "redis://:pw@127.0.0.1:6379/3",
        ] {
            RedisConfig::new(SecretString::from(good))
                .check()
                .expect(good);
        }
        assert_eq!(
            RedisProofCache::key(RedisConfig::KEY_PREFIX, Uuid::nil(), "a:b"),
            "ancora:proof:v1:00000000-0000-0000-0000-000000000000:a:b"
        );
    }
}
