//! People: users (argon2id password hashes) and their tenant memberships.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::{Role, TenantId};

/// The unique index on lower(email).
pub const EMAIL_TAKEN: &str = "users_email_key";

/// Creates a user; fails with a unique violation on [`EMAIL_TAKEN`] when the email is used.
pub async fn insert(
    conn: &mut PgConnection,
    email: &str,
    password_hash: &str,
    is_operator: bool,
) -> sqlx::Result<Uuid> {
    let id = Uuid::now_v7();
    sqlx::query!(
        "INSERT INTO users (id, email, password_hash, is_operator) VALUES ($1, $2, $3, $4)",
        id,
        email,
        password_hash,
        is_operator
    )
    .execute(conn)
    .await?;
    Ok(id)
}

/// Gives `user` a role in `tenant` (in that tenant's transaction).
pub async fn add_membership(
    conn: &mut PgConnection,
    tenant: TenantId,
    user: Uuid,
    role: Role,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, $2, $3)",
        tenant.0,
        user,
        role.as_str()
    )
    .execute(conn)
    .await?;
    Ok(())
}
