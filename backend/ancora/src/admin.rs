//! `ancora admin …`: tenants, users and API keys from the command line. Reads the same
//! configuration as `serve` and starts or joins the embedded cluster when no DATABASE_URL is set.
//!
//! Output is for scripts: `create-tenant` prints the tenant id alone, `create-api-key` the key
//! alone (shown this once; only its hash is stored). Diagnostics go to stderr.
//!
//! The functions that do the work ([`create_tenant`], [`create_api_key`], [`create_user`])
//! are shared with first start and the tests; each writes its audit-log row in the same
//! transaction.

use std::process::ExitCode;

use anyhow::{Context as _, bail};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::json;
use uuid::Uuid;

use crate::config::{
    ArchiveArgs, BillingArgs, Config, DatabaseArgs, DatabaseConfig, OnOff, ServiceArgs,
};
use crate::db::api_keys::{self, GeneratedKey};
use crate::db::audit::{AuditEntry, record};
use crate::db::{self, Db, is_unique_violation};
use crate::domain::{Role, TenantId};
use crate::services::billing::Billing;

/// Admin subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum AdminCommand {
    /// Create a tenant; prints its id.
    CreateTenant {
        /// The tenant's display name.
        name: String,
    },
    /// Create an API key for a tenant; prints the key (shown once).
    CreateApiKey {
        /// The tenant's id.
        #[arg(long)]
        tenant: TenantId,
        /// owner, admin, auditor, submitter or billing.
        #[arg(long)]
        role: Role,
        /// A name to recognise the key by.
        #[arg(long, default_value = "")]
        name: String,
    },
    /// Create a user with a role in a tenant; the password comes from ANCORA_ADMIN_PASSWORD,
    /// or is generated and printed once.
    CreateUser {
        /// Login email.
        #[arg(long)]
        email: String,
        /// The tenant's id.
        #[arg(long)]
        tenant: TenantId,
        /// owner, admin, auditor, submitter or billing.
        #[arg(long)]
        role: Role,
    },
    /// The service's health at a glance (the figures `/metrics` exports: pending events, job
    /// queue, unproved batches, open anchors, the log and its monitor); exits 1 when something
    /// needs attention. With `--tenant`: that tenant's events, batches, pending count and last
    /// anchor.
    Status {
        /// A tenant's id.
        #[arg(long)]
        tenant: Option<TenantId>,
    },
    /// Write failed Chainweb anchors again (fresh commands); prints each anchor id. Their fast
    /// proofs stay valid meanwhile.
    Reanchor {
        /// One anchor; without it, every failed anchor.
        #[arg(long)]
        anchor: Option<uuid::Uuid>,
    },
    /// Tenants' plans.
    #[command(subcommand)]
    Plan(PlanCommand),
    /// Billing: report usage to Stripe now.
    #[command(subcommand)]
    Billing(BillingCommand),
    /// Retention policies: how long contents stay hot and are kept, and the legal hold.
    #[command(subcommand)]
    Retention(RetentionCommand),
    /// The cold archive.
    #[command(subcommand)]
    Archive(ArchiveCommand),
    /// Disaster recovery: fill an empty, migrated database from the archive and verify every
    /// batch again against its trust point (configure the same log key as before); prints what
    /// was restored.
    RebuildCatalog {
        /// The archive: s3://BUCKET/PREFIX or file:///DIR.
        #[arg(long)]
        from_archive: String,
        #[command(flatten)]
        service: Box<ServiceArgs>,
    },
    /// Destroy a tenant's data key: its contents become unreadable everywhere (hot, archived,
    /// in backups); every proof stays valid. Refused under legal hold. Cannot be undone.
    Shred {
        /// The tenant's id.
        #[arg(long)]
        tenant: TenantId,
        /// Confirms that the contents are to be destroyed for good.
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        archive: ArchiveArgs,
    },
}

/// `ancora admin retention …`.
#[derive(Debug, clap::Subcommand)]
pub enum RetentionCommand {
    /// Set a tenant's retention (what is not given stays). Durations: 0s, 90m, 12h, 30d, 10y.
    Set {
        /// The tenant's id.
        #[arg(long)]
        tenant: TenantId,
        /// How long contents stay hot (in Postgres) after receipt.
        #[arg(long, allow_hyphen_values = true)]
        hot: Option<String>,
        /// How long contents are kept (hot or archived) after receipt, then deleted.
        #[arg(long, allow_hyphen_values = true)]
        keep: Option<String>,
        /// Legal hold: while on, nothing expires and the data key cannot be destroyed.
        #[arg(long, value_enum)]
        legal_hold: Option<OnOff>,
    },
    /// Print a tenant's retention.
    Show {
        /// The tenant's id.
        #[arg(long)]
        tenant: TenantId,
    },
}

/// `ancora admin archive …`.
#[derive(Debug, clap::Subcommand)]
pub enum ArchiveCommand {
    /// Run one archiving pass now (what the worker does every ANCORA_ARCHIVE_INTERVAL_S) and
    /// print what moved.
    Run {
        #[command(flatten)]
        service: Box<ServiceArgs>,
    },
}

/// `ancora admin plan …`.
#[derive(Debug, clap::Subcommand)]
pub enum PlanCommand {
    /// Put a tenant on a plan, optionally linking an existing Stripe customer (as enterprise
    /// contracts do).
    Set {
        /// The tenant's id.
        #[arg(long)]
        tenant: TenantId,
        /// The plan's name (from ANCORA_PLANS_FILE, or free, team, enterprise).
        #[arg(long)]
        plan: String,
        /// An existing Stripe customer (`cus_…`) to bill the tenant's usage to.
        #[arg(long)]
        stripe_customer: Option<String>,
        #[command(flatten)]
        billing: BillingArgs,
    },
}

/// `ancora admin billing …`.
#[derive(Debug, clap::Subcommand)]
pub enum BillingCommand {
    /// Report every billed tenant's unreported usage to Stripe now (what the worker does
    /// every ANCORA_BILLING_REPORT_INTERVAL_S); prints what was sent.
    ReportUsage {
        #[command(flatten)]
        billing: BillingArgs,
    },
}

/// Runs an admin command.
pub async fn run(cmd: AdminCommand, config: &DatabaseConfig) -> anyhow::Result<ExitCode> {
    let database = crate::server::open_database(config).await?;
    database.db.migrate().await?;
    let db = &database.db;
    match cmd {
        AdminCommand::CreateTenant { name } => {
            let id = create_tenant(db, &name, "cli").await?;
            println!("{id}");
        }
        AdminCommand::CreateApiKey { tenant, role, name } => {
            let key = create_api_key(db, tenant, role, &name, "cli").await?;
            println!("{}", key.key.expose_secret());
        }
        AdminCommand::CreateUser {
            email,
            tenant,
            role,
        } => {
            let (password, generated) = match std::env::var("ANCORA_ADMIN_PASSWORD") {
                Ok(p) if !p.is_empty() => (SecretString::from(p), false),
                _ => (generate_password(), true),
            };
            let id = create_user(db, &email, &password, tenant, role, false, "cli").await?;
            println!("{id}");
            if generated {
                println!("password: {}", password.expose_secret());
            }
        }
        AdminCommand::Status {
            tenant: Some(tenant),
        } => print_status(db, tenant).await?,
        AdminCommand::Status { tenant: None } => return print_health(db).await,
        AdminCommand::Plan(PlanCommand::Set {
            tenant,
            plan,
            stripe_customer,
            billing,
        }) => {
            let billing = Billing::new(db.clone(), billing.to_config()?, Default::default());
            billing
                .set_plan(tenant, &plan, stripe_customer.as_deref())
                .await?;
            println!("tenant {tenant} is on plan {plan}");
        }
        AdminCommand::Billing(BillingCommand::ReportUsage { billing }) => {
            let billing = Billing::new(db.clone(), billing.to_config()?, Default::default());
            if !billing.reports_usage() {
                bail!(
                    "Stripe is not configured (no ANCORA_STRIPE_SECRET_KEY): usage stays in Postgres"
                );
            }
            let s = billing.report_usage().await?;
            println!(
                "reported {} meter events ({} units) for {} billed tenants",
                s.reports, s.units, s.tenants
            );
        }
        AdminCommand::Retention(cmd) => retention_command(db, cmd).await?,
        AdminCommand::Archive(ArchiveCommand::Run { service }) => {
            let config = Config::from_args(
                &DatabaseArgs {
                    database_url: config.url.clone(),
                    data_dir: config.data_dir.clone(),
                    db_pool: config.pool,
                    db_acquire_timeout_ms: u64::try_from(config.acquire_timeout.as_millis())
                        .unwrap_or(u64::MAX),
                },
                None,
                &service,
                ([127, 0, 0, 1], 0).into(),
                None,
            )?;
            let svc = crate::services::Services::new(db.clone(), config.settings);
            let report = crate::services::archive::archiver::run_pass(&svc)
                .await
                .with_context(|| format!("archiving to {}", svc.archive.store().url()))?;
            for key in &report.written {
                println!("archived {key}");
            }
            println!("{}", report.summary());
        }
        AdminCommand::RebuildCatalog {
            from_archive,
            mut service,
        } => {
            service.archive.archive_url = Some(from_archive);
            let config = Config::from_args(
                &DatabaseArgs {
                    database_url: config.url.clone(),
                    data_dir: config.data_dir.clone(),
                    db_pool: config.pool,
                    db_acquire_timeout_ms: u64::try_from(config.acquire_timeout.as_millis())
                        .unwrap_or(u64::MAX),
                },
                None,
                &service,
                ([127, 0, 0, 1], 0).into(),
                None,
            )?;
            let svc = crate::services::Services::new(db.clone(), config.settings);
            let report = crate::services::archive::rebuild::rebuild(&svc, svc.archive.store())
                .await
                .with_context(|| format!("rebuilding from {}", svc.archive.store().url()))?;
            println!("{}", report.summary());
        }
        AdminCommand::Shred {
            tenant,
            yes,
            archive,
        } => {
            if !yes {
                bail!(
                    "shredding destroys tenant {tenant}'s contents for good; run again with --yes to confirm"
                );
            }
            let settings = crate::services::Settings {
                archive: archive.to_config(&config.data_dir)?,
                ..crate::services::Settings::default()
            };
            let svc = crate::services::Services::new(db.clone(), settings);
            let done = crate::services::archive::shred::shred(&svc, tenant, "cli").await?;
            if done.key_destroyed_now {
                println!(
                    "tenant {tenant}: data key destroyed, {} hot contents deleted; archived contents are unreadable; proofs stay valid",
                    done.hot_rows_deleted
                );
            } else {
                println!(
                    "tenant {tenant}: data key was already destroyed; archive record rewritten"
                );
            }
        }
        AdminCommand::Reanchor { anchor } => {
            let ids = crate::services::anchoring::confirm::reanchor(db, anchor).await?;
            if ids.is_empty() {
                bail!(
                    "no failed Chainweb anchor{}",
                    match anchor {
                        Some(a) => format!(" {a}"),
                        None => String::new(),
                    }
                );
            }
            for id in ids {
                println!("{id}");
            }
        }
    }
    database.db.pool().close().await;
    Ok(ExitCode::SUCCESS)
}

async fn retention_command(db: &Db, cmd: RetentionCommand) -> anyhow::Result<()> {
    use crate::services::archive::retention::{self, Change, format_duration, parse_duration};
    let p = match cmd {
        RetentionCommand::Set {
            tenant,
            hot,
            keep,
            legal_hold,
        } => {
            let parse = |flag: &str, v: Option<String>| {
                v.map(|t| parse_duration(&t).map_err(|e| anyhow::anyhow!("--{flag}: {e}")))
                    .transpose()
            };
            let change = Change {
                hot_secs: parse("hot", hot)?,
                keep_secs: parse("keep", keep)?,
                legal_hold: legal_hold.map(|h| h == OnOff::On),
            };
            retention::set(db, tenant, change, "cli").await?
        }
        RetentionCommand::Show { tenant } => retention::get(db, tenant).await?,
    };
    println!("hot: {}", format_duration(p.hot_secs));
    println!("keep: {}", format_duration(p.keep_secs));
    println!("legal hold: {}", if p.legal_hold { "on" } else { "off" });
    Ok(())
}

/// Creates a tenant and records `tenant.created`.
pub async fn create_tenant(db: &Db, name: &str, actor: &str) -> anyhow::Result<TenantId> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        bail!("a tenant name is 1 to 200 characters");
    }
    let id = TenantId::new();
    let mut tx = db.tenant_tx(id).await?;
    db::tenants::insert(&mut tx, id, name).await?;
    record(
        &mut tx,
        AuditEntry {
            tenant: Some(id),
            actor,
            action: "tenant.created",
            subject: Some(&id.to_string()),
            details: json!({ "name": name }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Creates an API key for an existing tenant and records `api_key.created` (with its prefix,
/// never the key).
pub async fn create_api_key(
    db: &Db,
    tenant: TenantId,
    role: Role,
    name: &str,
    actor: &str,
) -> anyhow::Result<GeneratedKey> {
    let mut tx = db.tenant_tx(tenant).await?;
    if db::tenants::name(&mut tx, tenant).await?.is_none() {
        bail!("no tenant with id {tenant}");
    }
    let key = api_keys::generate();
    let id = api_keys::insert(&mut tx, tenant, name, role, &key).await?;
    record(
        &mut tx,
        AuditEntry {
            tenant: Some(tenant),
            actor,
            action: "api_key.created",
            subject: Some(&id.to_string()),
            details: json!({ "prefix": key.prefix, "role": role, "name": name }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(key)
}

/// Creates a user with an argon2id password hash and a membership in `tenant`, and records
/// `user.created`.
pub async fn create_user(
    db: &Db,
    email: &str,
    password: &SecretString,
    tenant: TenantId,
    role: Role,
    is_operator: bool,
    actor: &str,
) -> anyhow::Result<Uuid> {
    let email = email.trim();
    if !email.contains('@') || email.len() > 254 {
        bail!("{email:?} is not an email address");
    }
    let hash = hash_password(password)?;
    let mut tx = db.tenant_tx(tenant).await?;
    if db::tenants::name(&mut tx, tenant).await?.is_none() {
        bail!("no tenant with id {tenant}");
    }
    let id = match db::users::insert(&mut tx, email, &hash, is_operator).await {
        Ok(id) => id,
        Err(e) if is_unique_violation(&e, db::users::EMAIL_TAKEN) => {
            bail!("a user with email {email} already exists")
        }
        Err(e) => return Err(e.into()),
    };
    db::users::add_membership(&mut tx, tenant, id, role).await?;
    record(
        &mut tx,
        AuditEntry {
            tenant: Some(tenant),
            actor,
            action: "user.created",
            subject: Some(&id.to_string()),
            details: json!({ "email": email, "role": role, "operator": is_operator }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Hashes a password for storage with [`crate::services::passwords::hash_password`] (argon2id,
/// m=19456 KiB, t=2, p=1).
pub fn hash_password(password: &SecretString) -> anyhow::Result<String> {
    Ok(crate::services::passwords::hash_password(
        password.expose_secret(),
    )?)
}

pub use crate::services::passwords::generate_password;

/// Past these, `admin status` says a figure needs attention.
const ATTENTION_DUE_JOB_SECS: f64 = 30.0;
const ATTENTION_UNPROVED_SECS: f64 = 60.0;

async fn print_health(db: &Db) -> anyhow::Result<ExitCode> {
    let h = crate::db::health::read(db).await?;
    let migrations = db.migrations_applied().await?;
    let s = &h.sampled;
    let list = |v: &[(String, i64)]| {
        if v.is_empty() {
            "none".to_owned()
        } else {
            v.iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let mut attention = Vec::new();
    if !migrations {
        attention.push("migrations pending".to_owned());
    }
    if s.oldest_due_job_age > ATTENTION_DUE_JOB_SECS {
        attention.push(format!(
            "a job has been due {:.0} s (are workers running?)",
            s.oldest_due_job_age
        ));
    }
    if s.oldest_unproved_batch_age > ATTENTION_UNPROVED_SECS {
        attention.push(format!(
            "a batch has waited {:.0} s for its proofs",
            s.oldest_unproved_batch_age
        ));
    }
    if s.failed_anchors > 0 {
        attention.push(format!(
            "{} failed anchor(s) (ancora admin reanchor)",
            s.failed_anchors
        ));
    }
    if h.monitor_alerts > 0 {
        attention.push(format!("{} log monitor alert(s)", h.monitor_alerts));
    }
    println!(
        "database: reachable, migrations {}",
        if migrations { "applied" } else { "pending" }
    );
    println!("pending events: {}", s.pending_events);
    println!(
        "unproved batches: {} (oldest {:.1} s)",
        s.unproved_batches, s.oldest_unproved_batch_age
    );
    println!("job queue (waiting): {}", list(&s.queue_depth));
    println!("jobs running: {}", list(&h.running_jobs));
    println!(
        "oldest due job: {:.1} s; jobs retrying after a failure: {}",
        s.oldest_due_job_age, h.retrying_jobs
    );
    println!(
        "open anchors: {}; failed anchors: {}",
        list(&s.open_anchors),
        s.failed_anchors
    );
    match h.last_anchor_age {
        Some(age) => println!("last anchor: {age:.1} s ago"),
        None => println!("last anchor: never"),
    }
    println!(
        "log: size {}, monitor checked up to {}, monitor alerts {}",
        h.log_size, h.monitor_checked_size, h.monitor_alerts
    );
    if attention.is_empty() {
        println!("health: ok");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("health: needs attention: {}", attention.join("; "));
        Ok(ExitCode::from(1))
    }
}

async fn print_status(db: &Db, tenant: TenantId) -> anyhow::Result<()> {
    let mut tx = db.tenant_tx(tenant).await?;
    let name = db::tenants::name(&mut tx, tenant)
        .await?
        .with_context(|| format!("no tenant with id {tenant}"))?;
    let s = db::tenants::status(&mut tx, tenant).await?;
    let last = match s.last_anchor {
        Some(t) => t.format(&time::format_description::well_known::Rfc3339)?,
        None => "never".to_owned(),
    };
    println!("tenant: {tenant} ({name})");
    println!("events: {}", s.events);
    println!("pending: {}", s.pending);
    println!("batches: {}", s.batches);
    println!("last anchor: {last}");
    Ok(())
}
