//! SQL the portal needs beyond the other aggregates' files: people and sign-in, throttling,
//! invitations and the outbox, and the read models of the pages (dashboard, catalog, batch,
//! audit log, members, keys). Tenant queries run in the caller's tenant transaction and name
//! the tenant explicitly as well; row-level security is the second wall.

use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::TenantId;

/// A user as sign-in sees it.
#[derive(Debug, Clone)]
pub struct UserRow {
    /// Id.
    pub id: Uuid,
    /// Email as registered.
    pub email: String,
    /// PHC argon2id string; `None` until the person sets a password.
    pub password_hash: Option<String>,
    /// Platform operator.
    pub is_operator: bool,
    /// Disabled accounts cannot sign in.
    pub disabled: bool,
}

/// The user with this email (case-insensitive).
pub async fn user_by_email(conn: &mut PgConnection, email: &str) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as!(
        UserRow,
        r#"SELECT id, email, password_hash, is_operator, disabled_at IS NOT NULL AS "disabled!"
           FROM users WHERE lower(email) = lower($1)"#,
        email
    )
    .fetch_optional(conn)
    .await
}

/// The user with this id.
pub async fn user_by_id(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as!(
        UserRow,
        r#"SELECT id, email, password_hash, is_operator, disabled_at IS NOT NULL AS "disabled!"
           FROM users WHERE id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await
}

/// `(tenant id, tenant name, role)` of every membership of `user`, by tenant name.
pub async fn memberships(
    conn: &mut PgConnection,
    user: Uuid,
) -> sqlx::Result<Vec<(Uuid, String, String)>> {
    let rows = sqlx::query!(
        r#"SELECT tenant_id AS "tenant_id!", tenant_name AS "tenant_name!", role AS "role!"
           FROM ancora_user_memberships($1)"#,
        user
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.tenant_id, r.tenant_name, r.role))
        .collect())
}

/// Stores a new password hash.
pub async fn set_password(conn: &mut PgConnection, user: Uuid, phc: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE users SET password_hash = $2 WHERE id = $1",
        user,
        phc
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Failed sign-ins for `(scope, key)` in the last `window_secs` seconds.
pub async fn recent_failures(
    conn: &mut PgConnection,
    scope: &str,
    key: &str,
    window_secs: f64,
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM login_failures
           WHERE scope = $1 AND key = $2 AND at > now() - make_interval(secs => $3)"#,
        scope,
        key,
        window_secs
    )
    .fetch_one(conn)
    .await
}

/// Records one failed sign-in and forgets failures older than a day.
pub async fn record_failure(conn: &mut PgConnection, scope: &str, key: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO login_failures (scope, key) VALUES ($1, $2)",
        scope,
        key
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!("DELETE FROM login_failures WHERE at < now() - interval '1 day'")
        .execute(conn)
        .await?;
    Ok(())
}

/// Forgets an account's failures after a successful sign-in.
pub async fn clear_failures(conn: &mut PgConnection, account: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "DELETE FROM login_failures WHERE scope = 'account' AND key = $1",
        account
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A new single-use link.
#[derive(Debug)]
pub struct NewInvitation<'a> {
    /// `invite` or `reset`.
    pub kind: &'a str,
    /// The tenant (invitations only).
    pub tenant: Option<TenantId>,
    /// Who it is for.
    pub email: &'a str,
    /// The role granted (invitations only).
    pub role: Option<&'a str>,
    /// SHA-256 of the token.
    pub token_hash: &'a [u8],
    /// Who made it (`user:<email>`).
    pub invited_by: &'a str,
    /// When it stops working.
    pub expires_at: OffsetDateTime,
}

/// Stores an invitation (in the tenant's transaction) or a reset (in a system transaction).
pub async fn insert_invitation(
    conn: &mut PgConnection,
    i: NewInvitation<'_>,
) -> sqlx::Result<Uuid> {
    let id = Uuid::now_v7();
    sqlx::query!(
        "INSERT INTO invitations (id, kind, tenant_id, email, role, token_hash, invited_by, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        id,
        i.kind,
        i.tenant.map(|t| t.0),
        i.email,
        i.role,
        i.token_hash,
        i.invited_by,
        i.expires_at
    )
    .execute(conn)
    .await?;
    Ok(id)
}

/// A link found by its token.
#[derive(Debug, Clone)]
pub struct FoundInvitation {
    /// Id.
    pub id: Uuid,
    /// `invite` or `reset`.
    pub kind: String,
    /// The tenant (invitations).
    pub tenant_id: Option<Uuid>,
    /// The tenant's name (invitations).
    pub tenant_name: Option<String>,
    /// Who it is for.
    pub email: String,
    /// The role (invitations).
    pub role: Option<String>,
    /// Expiry.
    pub expires_at: OffsetDateTime,
    /// When used, if it was.
    pub used_at: Option<OffsetDateTime>,
}

/// The link whose token hashes to `hash` (before any tenant is known).
pub async fn find_invitation(
    conn: &mut PgConnection,
    hash: &[u8],
) -> sqlx::Result<Option<FoundInvitation>> {
    sqlx::query_as!(
        FoundInvitation,
        r#"SELECT id AS "id!", kind AS "kind!", tenant_id, tenant_name, email AS "email!", role,
                  expires_at AS "expires_at!", used_at
           FROM ancora_find_invitation($1)"#,
        hash
    )
    .fetch_optional(conn)
    .await
}

/// Marks a link used; false when it was already used or has expired (first caller wins).
pub async fn use_invitation(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<bool> {
    let v = sqlx::query_scalar!(r#"SELECT ancora_use_invitation($1) AS "ok!""#, id)
        .fetch_one(conn)
        .await?;
    Ok(v)
}

/// A pending invitation as listed on the members page.
#[derive(Debug, Clone)]
pub struct PendingInvitation {
    /// Email.
    pub email: String,
    /// Role.
    pub role: Option<String>,
    /// Expiry.
    pub expires_at: OffsetDateTime,
}

/// The tenant's invitations not yet used or expired.
pub async fn pending_invitations(
    conn: &mut PgConnection,
    tenant: TenantId,
) -> sqlx::Result<Vec<PendingInvitation>> {
    sqlx::query_as!(
        PendingInvitation,
        "SELECT email, role, expires_at FROM invitations \
         WHERE tenant_id = $1 AND kind = 'invite' AND used_at IS NULL AND expires_at > now() \
         ORDER BY created_at DESC LIMIT 200",
        tenant.0
    )
    .fetch_all(conn)
    .await
}

/// Queues a mail message.
pub async fn queue_mail(
    conn: &mut PgConnection,
    to: &str,
    subject: &str,
    body: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO outbox (to_email, subject, body) VALUES ($1, $2, $3)",
        to,
        subject,
        body
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The user for `email`, created without a password when new; returns the id.
pub async fn ensure_user(conn: &mut PgConnection, email: &str) -> sqlx::Result<Uuid> {
    let id = Uuid::now_v7();
    sqlx::query_scalar!(
        r#"WITH ins AS (
               INSERT INTO users (id, email) VALUES ($1, $2)
               ON CONFLICT (lower(email)) DO NOTHING RETURNING id)
           SELECT id AS "id!" FROM ins
           UNION ALL SELECT id FROM users WHERE lower(email) = lower($2)
           LIMIT 1"#,
        id,
        email
    )
    .fetch_one(conn)
    .await
}

/// Grants `role` in `tenant` (tenant transaction), replacing any earlier role.
pub async fn upsert_membership(
    conn: &mut PgConnection,
    tenant: TenantId,
    user: Uuid,
    role: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, $2, $3) \
         ON CONFLICT (tenant_id, user_id) DO UPDATE SET role = EXCLUDED.role",
        tenant.0,
        user,
        role
    )
    .execute(conn)
    .await?;
    Ok(())
}
