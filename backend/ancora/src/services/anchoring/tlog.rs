//! The `tlog` anchor backend: appends anchor roots to Ancora's own transparency log, stored in
//! Postgres, and signs a checkpoint after each append, all inside the anchorer's transaction.
//!
//! The arithmetic is `ancora_proof::tlog`'s, which reads complete-subtree hashes through a
//! fetch function. Here that function is fed in two passes: the first records which nodes the
//! computation asks for (which depends only on sizes and indexes, never on hash values), one
//! query fetches them, the second pass computes (tessera's pattern: a pure core, I/O at the
//! edge).

use std::cell::RefCell;
use std::collections::HashMap;

use ancora_proof::Hash;
use ancora_proof::bundle::TrustPoint;
use ancora_proof::merkle::empty_root;
use ancora_proof::tlog::{self as core, Checkpoint, LogSigner, NoteVerifier, TLOG_ALG};
use anyhow::Context as _;
use secrecy::{ExposeSecret as _, SecretString};
use sqlx::PgConnection;

use super::{AnchorBackend, AnchorRequest, Outcome};
use crate::db;
use crate::db::anchors::Anchor;
use crate::services::settings::LogConfig;

/// The `tlog` backend.
#[derive(Clone, Debug)]
pub struct TlogAnchor {
    origin: String,
    signing_key: Option<SecretString>,
}

impl TlogAnchor {
    /// From the log configuration.
    pub fn from_config(config: &LogConfig) -> Self {
        TlogAnchor {
            origin: config.origin.clone(),
            signing_key: config.signing_key.clone(),
        }
    }

    /// The log's signer: the configured key, else the key kept in the database (created on
    /// first use with the configured origin as its name).
    pub async fn signer(&self, conn: &mut PgConnection) -> anyhow::Result<LogSigner> {
        if let Some(key) = &self.signing_key {
            return LogSigner::from_key_text(key.expose_secret())
                .context("the configured log signing key is not a signed-note private key");
        }
        let fresh: [u8; 32] = rand::random();
        let (origin, seed) = db::tlog::signer_seed(conn, &self.origin, fresh).await?;
        let seed: [u8; 32] = seed
            .as_slice()
            .try_into()
            .context("stored log key is not 32 bytes")?;
        Ok(LogSigner::from_seed(&origin, seed)?)
    }

    /// The verifier key (`<origin>+<hash>+<key>`), what `ancora verify --log-key` takes.
    pub async fn verifier(&self, conn: &mut PgConnection) -> anyhow::Result<NoteVerifier> {
        Ok(self.signer(conn).await?.verifier())
    }

    /// The latest signed checkpoint; for an empty log, a freshly signed one of size 0.
    pub async fn latest_checkpoint(&self, conn: &mut PgConnection) -> anyhow::Result<String> {
        if let Some(cp) = db::tlog::latest_checkpoint(conn).await? {
            return Ok(cp.note);
        }
        let signer = self.signer(conn).await?;
        let empty = Checkpoint {
            origin: signer.name().to_owned(),
            size: 0,
            root: empty_root(TLOG_ALG),
        };
        Ok(core::sign_checkpoint(&signer, &empty)?)
    }
}

/// Runs a pure log computation over the stored nodes (see the module header).
pub async fn with_nodes<T>(
    conn: &mut PgConnection,
    compute: impl Fn(&dyn Fn(u8, u64) -> anyhow::Result<Hash>) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let wanted = {
        let wanted = RefCell::new(Vec::new());
        let record = |level: u8, index: u64| -> anyhow::Result<Hash> {
            wanted.borrow_mut().push((level, index));
            Ok(Hash([0; 32]))
        };
        // A size error shows up again in the second pass; only the wanted keys matter here.
        let _ = compute(&record);
        wanted.into_inner()
    };
    let nodes: HashMap<(u8, u64), Hash> = if wanted.is_empty() {
        HashMap::new()
    } else {
        db::tlog::nodes(conn, &wanted).await?
    };
    let fetch = |level: u8, index: u64| -> anyhow::Result<Hash> {
        nodes
            .get(&(level, index))
            .copied()
            .with_context(|| format!("log node ({level}, {index}) is missing"))
    };
    compute(&fetch)
}

/// Appends an archived leaf at `idx` (which must be the log's size) and stores the nodes it
/// completes: the log replayed by a catalog rebuild.
pub async fn replay_leaf(
    conn: &mut PgConnection,
    idx: i64,
    anchor: uuid::Uuid,
    leaf: &Hash,
) -> anyhow::Result<()> {
    let size = log_size(conn).await?;
    anyhow::ensure!(
        size == u64::try_from(idx)?,
        "log leaf {idx} replayed out of order"
    );
    let leaf = *leaf;
    let created = with_nodes(conn, |node| core::append(size, leaf, node)).await?;
    db::tlog::append(conn, idx, anchor, &leaf, &created).await
}

/// The root of the stored log at `size`.
pub async fn root_at(conn: &mut PgConnection, size: u64) -> anyhow::Result<Hash> {
    with_nodes(conn, |node| core::root(size, node)).await
}

/// Current log size.
pub async fn log_size(conn: &mut PgConnection) -> anyhow::Result<u64> {
    Ok(u64::try_from(db::tlog::size(conn).await?)?)
}

/// The RFC 6962 consistency proof between sizes `from` and `to` of the stored log.
pub async fn consistency(conn: &mut PgConnection, from: u64, to: u64) -> anyhow::Result<Vec<Hash>> {
    with_nodes(conn, |node| core::consistency_proof(from, to, node)).await
}

impl AnchorBackend for TlogAnchor {
    fn kind(&self) -> &'static str {
        "tlog"
    }

    async fn record(
        &self,
        conn: &mut PgConnection,
        request: &AnchorRequest,
    ) -> anyhow::Result<Outcome> {
        db::tlog::lock_for_append(conn).await?;
        let size = log_size(conn).await?;
        let leaf = request.root;
        let created = with_nodes(conn, |node| core::append(size, leaf, node)).await?;
        let index = i64::try_from(size)?;
        db::tlog::append(conn, index, request.id, &leaf, &created).await?;
        let new_size = size + 1;
        let root = with_nodes(conn, |node| core::root(new_size, node)).await?;
        let signer = self.signer(conn).await?;
        let checkpoint = Checkpoint {
            origin: signer.name().to_owned(),
            size: new_size,
            root,
        };
        let note = core::sign_checkpoint(&signer, &checkpoint)?;
        let new_size = i64::try_from(new_size)?;
        db::tlog::insert_checkpoint(conn, new_size, &root, &note).await?;
        db::anchors::set_log_position(conn, request.id, index, new_size).await?;
        Ok(Outcome::Final)
    }

    async fn trust_point(
        &self,
        conn: &mut PgConnection,
        anchor: &Anchor,
    ) -> anyhow::Result<TrustPoint> {
        let (Some(index), Some(size)) = (anchor.log_index, anchor.checkpoint_size) else {
            anyhow::bail!("tlog anchor {} has no log position", anchor.id);
        };
        let stored = db::tlog::checkpoint_at(conn, size)
            .await?
            .with_context(|| format!("no checkpoint of size {size}"))?;
        let claimed = core::checkpoint::parse_checkpoint_unverified(&stored.note)?;
        let (index, size) = (u64::try_from(index)?, u64::try_from(size)?);
        let proof = with_nodes(conn, |node| core::inclusion_proof(index, size, node)).await?;
        Ok(TrustPoint::tlog(
            &claimed.origin,
            index,
            size,
            &proof,
            &stored.note,
        ))
    }
}
