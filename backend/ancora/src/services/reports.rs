//! Verification reports, the same documents for the portal (a signed-in person) and the API
//! (an API key): an event's report (PDF, JSON), and a batch's or a time range's report
//! (streamed, PDF or JSON). Every report is verified with this server's own trust
//! ([`proofs::server_trust`]), metered (one report of the month's quota) and written to the
//! tenant's audit log as `report.downloaded`. The interfaces only check the caller's role and
//! translate [`ReportError`].

use std::io::Write as _;

use ancora_proof::bundle::{Bundle, Report, Trust, verify_bundle};
use ancora_reports::{RangeEntry, RangeFormat, RangeHeader, RangeReportWriter};
use futures_util::StreamExt as _;
use serde::Deserialize as _;
use time::OffsetDateTime;
use time::macros::format_description;
use uuid::Uuid;

use crate::db::{audit, batches, portal_pages as q};
use crate::domain::TenantId;
use crate::services::Services;
use crate::services::billing::{BillingError, Metric, QuotaExceeded};
use crate::services::proofs::{self, ProofError};

/// The largest range one report covers (events are streamed; this bounds the work).
pub const MAX_RANGE_EVENTS: usize = 100_000;

/// Why a report cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// No such event or batch in the tenant, or the event is not proved yet.
    #[error("{0}")]
    NotFound(String),
    /// The request cannot be read (format, range).
    #[error("{0}")]
    BadRequest(String),
    /// The tenant's monthly quota of reports is used up.
    #[error(transparent)]
    Quota(#[from] QuotaExceeded),
    /// Storage or a stored proof that does not check out.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for ReportError {
    fn from(e: sqlx::Error) -> Self {
        ReportError::Internal(e.into())
    }
}

impl From<ProofError> for ReportError {
    fn from(e: ProofError) -> Self {
        match e {
            ProofError::NotFound(m) => ReportError::NotFound(m),
            ProofError::Quota(q) => ReportError::Quota(q),
            ProofError::Internal(e) => ReportError::Internal(e),
        }
    }
}

/// A report's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// For people.
    Pdf,
    /// For machines.
    Json,
}

impl Format {
    /// `pdf` or `json`; `BadRequest` for anything else.
    pub fn parse(raw: &str) -> Result<Self, ReportError> {
        match raw {
            "pdf" => Ok(Format::Pdf),
            "json" => Ok(Format::Json),
            other => Err(ReportError::BadRequest(format!(
                "reports come as pdf or json, not {other:?}"
            ))),
        }
    }

    /// The media type.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Pdf => "application/pdf",
            Format::Json => "application/json",
        }
    }

    /// The file extension (and the `format` written to the audit log).
    pub fn ext(self) -> &'static str {
        match self {
            Format::Pdf => "pdf",
            Format::Json => "json",
        }
    }
}

/// Who asks for a report, as written to the audit log (`user:<email>`, `api_key:<prefix>`).
#[derive(Clone, Debug)]
pub struct Requester {
    /// The tenant whose report it is.
    pub tenant: TenantId,
    /// The audit log's actor.
    pub actor: String,
}

/// A whole document: its bytes and the file name it is offered under.
#[derive(Debug)]
pub struct Document {
    /// The format.
    pub format: Format,
    /// `<event>.report.pdf`, before any sanitising for a header.
    pub filename: String,
    /// The bytes.
    pub body: Vec<u8>,
}

/// A streamed document: chunks arrive on `chunks` as they are written (a bounded channel, so
/// a slow reader holds the writer back); an `Err` chunk means the report failed midway.
#[derive(Debug)]
pub struct StreamedDocument {
    /// The format.
    pub format: Format,
    /// `batch-<id>.report.json`, `range.report.pdf`.
    pub filename: String,
    /// The chunks.
    pub chunks: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
}

/// `2026-01-01 12:00:00 UTC`: how reports write a time.
pub fn ts(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
        ))
        .unwrap_or_default()
}

/// A range bound: RFC 3339, or a day `YYYY-MM-DD` (its midnight, UTC); `None` when empty or
/// unreadable.
pub fn parse_time(s: &str) -> Option<OffsetDateTime> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(t) = OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
        return Some(t);
    }
    let d = time::Date::parse(s, format_description!("[year]-[month]-[day]")).ok()?;
    Some(d.midnight().assume_utc())
}

/// The event's bundle and this server's report on it; `NotFound` when the event is not in the
/// tenant or not proved yet. Not metered, not recorded (the portal's event page shows it).
pub async fn bundle_and_report(
    svc: &Services,
    tenant: TenantId,
    event: &str,
) -> Result<(Bundle, Report), ReportError> {
    let value = proofs::read_bundle(svc, tenant, event)
        .await?
        .ok_or_else(|| ReportError::NotFound(format!("no proved event {event:?}")))?;
    let bundle = Bundle::deserialize(&value).map_err(|e| ReportError::Internal(e.into()))?;
    let trust = proofs::server_trust(svc, Some(&bundle)).await?.trust;
    let report = verify_bundle(&bundle, &trust);
    Ok((bundle, report))
}

/// One report, metered: refused when it would cross the month's quota of reports, else
/// counted.
async fn meter(svc: &Services, tenant: TenantId) -> Result<(), ReportError> {
    match svc.billing.check(tenant, Metric::Reports, 1).await {
        Ok(()) => {
            svc.billing.count(tenant, Metric::Reports);
            Ok(())
        }
        Err(BillingError::Quota(q)) => Err(ReportError::Quota(q)),
        Err(e) => Err(ReportError::Internal(e.into_internal())),
    }
}

async fn record_download(
    svc: &Services,
    who: &Requester,
    format: Format,
    subject: &str,
) -> Result<(), ReportError> {
    let mut tx = svc.db.tenant_tx(who.tenant).await?;
    audit::record(
        &mut tx,
        audit::AuditEntry {
            tenant: Some(who.tenant),
            actor: &who.actor,
            action: "report.downloaded",
            subject: Some(subject),
            details: serde_json::json!({ "format": format.ext() }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The verification report of one event, metered and recorded.
pub async fn event_report(
    svc: &Services,
    who: &Requester,
    event: &str,
    format: Format,
) -> Result<Document, ReportError> {
    let (bundle, report) = bundle_and_report(svc, who.tenant, event).await?;
    meter(svc, who.tenant).await?;
    let now = OffsetDateTime::now_utc();
    let body = match format {
        Format::Pdf => ancora_reports::pdf_report(&bundle, &report, now),
        Format::Json => {
            let v = ancora_reports::json_report(&bundle, &report, now);
            serde_json::to_vec_pretty(&v).map_err(anyhow::Error::from)?
        }
    };
    record_download(svc, who, format, event).await?;
    Ok(Document {
        format,
        filename: format!("{event}.report.{}", format.ext()),
        body,
    })
}

/// The report of every event of one batch, streamed; `NotFound` for a batch not in the
/// tenant.
pub async fn batch_report(
    svc: &Services,
    who: &Requester,
    batch: Uuid,
    format: Format,
) -> Result<StreamedDocument, ReportError> {
    let mut tx = svc.db.tenant_tx(who.tenant).await?;
    let found = batches::get(&mut tx, who.tenant, batch).await?;
    tx.commit().await?;
    found.ok_or_else(|| ReportError::NotFound(format!("no batch {batch}")))?;
    meter(svc, who.tenant).await?;
    let header = RangeHeader {
        tenant_id: who.tenant.to_string(),
        scope: format!("batch {batch}"),
        scope_json: serde_json::json!({ "kind": "batch", "batch_id": batch }),
        generated_at: OffsetDateTime::now_utc(),
    };
    stream(
        svc,
        who,
        format,
        header,
        Scope::Batch(batch),
        format!("batch-{batch}"),
    )
    .await
}

/// The report of every event received in `[from, to)` (as sent: RFC 3339 or `YYYY-MM-DD`),
/// streamed; `BadRequest` for a missing, unreadable or empty range.
pub async fn range_report(
    svc: &Services,
    who: &Requester,
    raw_from: &str,
    raw_to: &str,
    format: Format,
) -> Result<StreamedDocument, ReportError> {
    let (Some(from), Some(to)) = (parse_time(raw_from), parse_time(raw_to)) else {
        return Err(ReportError::BadRequest(
            "a range report needs a start and an end (from, to: YYYY-MM-DD or RFC 3339)".into(),
        ));
    };
    if to <= from {
        return Err(ReportError::BadRequest(
            "the end of the range must be after its start".into(),
        ));
    }
    meter(svc, who.tenant).await?;
    let header = RangeHeader {
        tenant_id: who.tenant.to_string(),
        scope: format!("events received from {} to {}", ts(from), ts(to)),
        scope_json: serde_json::json!({ "kind": "range", "from": raw_from, "to": raw_to }),
        generated_at: OffsetDateTime::now_utc(),
    };
    stream(
        svc,
        who,
        format,
        header,
        Scope::Range(from, to),
        "range".into(),
    )
    .await
}

/// What a streamed report covers.
#[derive(Clone, Copy, Debug)]
enum Scope {
    Batch(Uuid),
    Range(OffsetDateTime, OffsetDateTime),
}

async fn stream(
    svc: &Services,
    who: &Requester,
    format: Format,
    header: RangeHeader,
    scope: Scope,
    name: String,
) -> Result<StreamedDocument, ReportError> {
    record_download(svc, who, format, &header.scope).await?;
    // The log key for the whole range (every bundle since the fast path has a log trust point);
    // a Chainweb trust point is checked against the header the service verified its SPV proof
    // against, looked up once per block (`write_range`).
    let trust = proofs::server_trust(svc, None).await?.trust;
    let (tx_chunks, rx) = tokio::sync::mpsc::channel(8);
    let (svc, tenant) = (svc.clone(), who.tenant);
    let fmt = match format {
        Format::Pdf => RangeFormat::Pdf,
        Format::Json => RangeFormat::Json,
    };
    tokio::spawn(async move {
        if let Err(e) = write_range(&svc, tenant, fmt, header, scope, &trust, &tx_chunks).await {
            tracing::error!(error = %format!("{e:#}"), tenant_id = %tenant, "range report failed");
            let _ = tx_chunks
                .send(Err(std::io::Error::other("report failed")))
                .await;
        }
    });
    Ok(StreamedDocument {
        format,
        filename: format!("{name}.report.{}", format.ext()),
        chunks: rx,
    })
}

/// Reads the range row by row from one transaction and writes the report in chunks; the
/// channel's bound applies back-pressure, so a slow client never makes the server buffer.
async fn write_range(
    svc: &Services,
    tenant: TenantId,
    fmt: RangeFormat,
    header: RangeHeader,
    scope: Scope,
    trust: &Trust,
    out: &tokio::sync::mpsc::Sender<Result<Vec<u8>, std::io::Error>>,
) -> anyhow::Result<()> {
    let (from, to, batch) = match scope {
        Scope::Batch(b) => (None, None, Some(b)),
        Scope::Range(f, t) => (Some(f), Some(t), None),
    };
    let mut w = RangeReportWriter::new(Vec::with_capacity(64 * 1024), fmt, header)?;
    // Trust per Chainweb block (log key + that block's stored header), built on first use.
    let mut by_block: std::collections::HashMap<String, Trust> = std::collections::HashMap::new();
    let mut trees = proofs::BatchTrees::default();
    let mut tx = svc.db.tenant_tx(tenant).await?;
    {
        let mut rows = q::range_rows(&mut tx, tenant, from, to, batch);
        let mut n = 0usize;
        while let Some(row) = rows.next().await {
            let row = row?;
            n += 1;
            if n > MAX_RANGE_EVENTS {
                break;
            }
            let (id, digest_alg, digest, received_at_micros) = (
                row.id.clone(),
                row.digest_alg.clone(),
                row.digest.clone(),
                row.received_at_micros,
            );
            let parsed = row
                .proof_parts()
                .map(|p| proofs::assemble_bundle(tenant, p, &mut trees))
                .transpose()?;
            match parsed {
                Some(b) => {
                    let trust = match b.chainweb() {
                        None => trust,
                        Some(cw) => {
                            let block = cw.block_hash.to_b64url();
                            if !by_block.contains_key(&block) {
                                let t = proofs::server_trust(svc, Some(&b)).await?.trust;
                                by_block.insert(block.clone(), t);
                            }
                            by_block.get(&block).unwrap_or(trust)
                        }
                    };
                    let r = verify_bundle(&b, trust);
                    w.push(RangeEntry::Proved {
                        bundle: &b,
                        report: &r,
                    })?;
                }
                None => {
                    let digest = format!("{digest_alg}:{}", hex::encode(&digest));
                    w.push(RangeEntry::Unproved {
                        event_id: &id,
                        digest: &digest,
                        received_at_micros,
                        status: "not proved yet",
                    })?;
                }
            }
            if w.get_mut().len() >= 32 * 1024 {
                let chunk = std::mem::take(w.get_mut());
                out.send(Ok(chunk)).await?;
            }
        }
    }
    tx.commit().await?;
    let mut rest = w.finish()?;
    rest.flush()?;
    out.send(Ok(rest)).await?;
    Ok(())
}
