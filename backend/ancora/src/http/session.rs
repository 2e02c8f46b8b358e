//! Browser sessions: tower-sessions over Postgres (`tower_sessions.session`, created by
//! migration 20261126000004). The cookie is HttpOnly, SameSite=Lax, and Secure unless the
//! service is reached over plain http on localhost. The session holds the user id and the
//! CSRF token, nothing else; the id is rotated at sign-in and the session deleted at sign-out.
//! A session is stored only once it holds something (at sign-in): a visitor who only looks at
//! the sign-in page leaves no row (tower-sessions saves a session only when it was modified).
//! Sessions that expire without a sign-out are deleted by [`delete_expired_periodically`],
//! which `ancora serve` runs beside the HTTP server.

use std::time::Duration;

use tower_sessions::cookie::SameSite;
use tower_sessions::{ExpiredDeletion as _, Expiry, Session, SessionManagerLayer};
use tower_sessions_sqlx_store::PostgresStore;
use uuid::Uuid;

use super::AppState;
use crate::db::Db;
use crate::support::Shutdown;

/// How often [`delete_expired_periodically`] runs.
pub const CLEANUP_EVERY: Duration = Duration::from_secs(15 * 60);

/// The session cookie's name.
pub const COOKIE: &str = "ancora_session";
const USER: &str = "uid";
const CSRF: &str = "csrf";

/// Session errors (the store failed); answered as 500.
pub type SessionError = tower_sessions::session::Error;

/// The session layer for the portal's routes.
pub fn layer(state: &AppState) -> SessionManagerLayer<PostgresStore> {
    let store = PostgresStore::new(state.db.pool().clone());
    SessionManagerLayer::new(store)
        .with_name(COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(secure_cookies(&state.settings.public_url))
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(time::Duration::hours(8)))
}

/// Cookies are Secure everywhere except plain http on a loopback host (local development and
/// the e2e tests), where a browser would drop them.
pub fn secure_cookies(public_url: &str) -> bool {
    let Some(rest) = public_url.strip_prefix("http://") else {
        return true;
    };
    let host = rest.split(['/', '?']).next().unwrap_or("");
    let host = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.chars().all(|c| c.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    !matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}

/// The signed-in user's id, if any.
pub async fn user_id(session: &Session) -> Result<Option<Uuid>, SessionError> {
    session.get::<Uuid>(USER).await
}

/// Signs `user` in: a new session id (so a planted id is worthless), the user id, and a fresh
/// CSRF token.
pub async fn sign_in(session: &Session, user: Uuid) -> Result<(), SessionError> {
    session.cycle_id().await?;
    session.insert(USER, user).await?;
    session.insert(CSRF, new_token()).await
}

/// Signs out: the session row is deleted and the cookie cleared.
pub async fn sign_out(session: &Session) -> Result<(), SessionError> {
    session.flush().await
}

/// The CSRF token of a signed-in session (issued at sign-in); `None` for a visitor, whose
/// forms carry the anonymous token of [`crate::http::portal::csrf`] instead. Never creates
/// one: reading a session never stores it.
pub async fn existing_csrf_token(session: &Session) -> Result<Option<String>, SessionError> {
    session.get::<String>(CSRF).await
}

/// Deletes every session whose expiry has passed (one `DELETE … WHERE expiry_date < now()`).
pub async fn delete_expired(db: &Db) -> Result<(), tower_sessions::session_store::Error> {
    PostgresStore::new(db.pool().clone()).delete_expired().await
}

/// Deletes expired sessions now and every `every` after, until `shutdown`. A failed round is
/// logged and retried at the next one.
pub async fn delete_expired_periodically(
    db: Db,
    every: Duration,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    loop {
        if let Err(e) = delete_expired(&db).await {
            tracing::warn!(error = %e, "deleting expired sessions failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.wait() => return Ok(()),
        }
    }
}

/// A fresh random token (32 bytes, base64url).
pub fn new_token() -> String {
    use base64::Engine as _;
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::secure_cookies;

    #[test]
    fn cookies_are_secure_except_on_plain_http_localhost() {
        assert!(!secure_cookies("http://127.0.0.1:8080"));
        assert!(!secure_cookies("http://localhost"));
        assert!(secure_cookies("https://localhost:8443"));
        assert!(secure_cookies("http://ancora.example.com"));
        assert!(secure_cookies("http://localhost.evil.test"));
    }
}
