//! Reports over many events (a batch or a time range), written event by event.
//!
//! [`RangeReportWriter`] holds one page of PDF or one event of JSON at a time, plus a few
//! counters and (for the PDF) one offset per object: a range of 10 000 events streams to an
//! HTTP body or a file without being collected first. The caller feeds events in a stable
//! order (arrival order), so the same range gives the same report apart from its time.

use std::io::{self, Write};

use ancora_proof::bundle::{Bundle, Report, Verdict};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::pdf::{Doc, DocInfo, Font, GREEN, GREY, RED};
use crate::text::{clip, micros_rfc3339, rfc3339};
use crate::{REPORT_FORMAT, REPORT_VERSION};

/// JSON for machines or PDF for people.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeFormat {
    /// One JSON document with an `events` array.
    Json,
    /// A PDF with a summary table.
    Pdf,
}

/// What a range report covers.
#[derive(Clone, Debug)]
pub struct RangeHeader {
    /// The tenant, hyphenated UUID.
    pub tenant_id: String,
    /// The scope in words: `"batch 0190…"` or `"events received from … to …"`.
    pub scope: String,
    /// The scope for machines, e.g. `{"kind": "batch", "batch_id": "…"}`.
    pub scope_json: Value,
    /// When the report was generated (the only thing that differs between two runs).
    pub generated_at: OffsetDateTime,
}

/// One event of the range.
#[derive(Clone, Copy, Debug)]
pub enum RangeEntry<'a> {
    /// An event with a proof bundle, and the verifier's report on it.
    Proved {
        /// The bundle.
        bundle: &'a Bundle,
        /// Its verification.
        report: &'a Report,
    },
    /// An event without a bundle yet (pending or anchoring).
    Unproved {
        /// The event id.
        event_id: &'a str,
        /// Its content digest, `"sha256:<hex>"`.
        digest: &'a str,
        /// When Ancora received it.
        received_at_micros: i64,
        /// Where it is: `"pending"`, `"batched"`, `"anchored"`.
        status: &'a str,
    },
}

#[derive(Default)]
struct Counts {
    total: u64,
    verified: u64,
    failed: u64,
    unproved: u64,
}

enum Out<W> {
    Json(W),
    Pdf { doc: Box<Doc<W>>, id: Sha256 },
}

/// Writes a range report to `W` one event at a time; see the module documentation.
pub struct RangeReportWriter<W> {
    out: Out<W>,
    header: RangeHeader,
    counts: Counts,
}

const COLS: [(f32, &str); 5] = [
    (0.0, "#"),
    (34.0, "Event id"),
    (218.0, "Received (UTC)"),
    (318.0, "Verdict"),
    (380.0, "Batch root"),
];

impl<W: Write> RangeReportWriter<W> {
    /// Starts a report in `format` and writes its opening.
    pub fn new(out: W, format: RangeFormat, header: RangeHeader) -> io::Result<Self> {
        let out = match format {
            RangeFormat::Json => Out::Json(out),
            RangeFormat::Pdf => {
                let doc = Doc::new(out, &format!("Ancora range report · {}", header.scope))?;
                let mut id = Sha256::new();
                id.update(header.tenant_id.as_bytes());
                id.update(header.scope_json.to_string().as_bytes());
                Out::Pdf {
                    doc: Box::new(doc),
                    id,
                }
            }
        };
        let mut w = RangeReportWriter {
            out,
            header,
            counts: Counts::default(),
        };
        w.open()?;
        Ok(w)
    }

    /// The writer underneath, to drain a buffer between events.
    pub fn get_mut(&mut self) -> &mut W {
        match &mut self.out {
            Out::Json(w) => w,
            Out::Pdf { doc, .. } => doc.get_mut(),
        }
    }

    /// Events written so far.
    pub fn len(&self) -> u64 {
        self.counts.total
    }

    /// True before the first event.
    pub fn is_empty(&self) -> bool {
        self.counts.total == 0
    }

    fn open(&mut self) -> io::Result<()> {
        let h = &self.header;
        match &mut self.out {
            Out::Json(w) => {
                // Written by hand because the array that follows streams; each value is
                // serialised by serde_json, so this is still valid, escaped JSON.
                write!(
                    w,
                    "{{\"report_format\":{},\"report_version\":{},\"kind\":\"range\",\"tenant_id\":{},\"scope\":{},\"generated_at\":{},\"events\":[",
                    json!(REPORT_FORMAT),
                    REPORT_VERSION,
                    json!(h.tenant_id),
                    h.scope_json,
                    json!(rfc3339(h.generated_at)),
                )
            }
            Out::Pdf { doc, .. } => {
                doc.line(Font::Bold, 18.0, 0.0, "Verification report")?;
                doc.para(Font::Bold, 12.0, 0.0, &h.scope)?;
                doc.field("Tenant", &h.tenant_id, Font::Mono)?;
                doc.line_in(
                    Font::Regular,
                    8.0,
                    0.0,
                    GREY,
                    &format!("Generated {} by Ancora", rfc3339(h.generated_at)),
                )?;
                doc.para(
                    Font::Regular,
                    9.0,
                    0.0,
                    "Every event below was verified step by step (event leaf, event to batch, \
                     batch to anchor, anchor to trust point) by the same code as `ancora verify`. \
                     The JSON report of this range carries each event's bundle and step verdicts; \
                     a single event's report shows every hash.",
                )?;
                doc.gap(6.0);
                let head: Vec<(f32, String)> =
                    COLS.iter().map(|(x, t)| (*x, (*t).to_owned())).collect();
                doc.row(Font::Bold, 8.0, &head)?;
                doc.rule()?;
                doc.repeat_head = Some(head);
                Ok(())
            }
        }
    }

    /// Adds one event.
    pub fn push(&mut self, entry: RangeEntry<'_>) -> io::Result<()> {
        self.counts.total += 1;
        let n = self.counts.total;
        let verdict = match entry {
            RangeEntry::Proved { report, .. } if report.verdict == Verdict::Verified => {
                self.counts.verified += 1;
                "verified"
            }
            RangeEntry::Proved { .. } => {
                self.counts.failed += 1;
                "FAILED"
            }
            RangeEntry::Unproved { status, .. } => {
                self.counts.unproved += 1;
                status
            }
        };
        match &mut self.out {
            Out::Json(w) => {
                if n > 1 {
                    w.write_all(b",")?;
                }
                serde_json::to_writer(&mut *w, &entry_json(entry))?;
                Ok(())
            }
            Out::Pdf { doc, id } => {
                let (event_id, micros, root) = match entry {
                    RangeEntry::Proved { bundle, .. } => {
                        id.update(serde_json::to_vec(bundle).unwrap_or_default());
                        (
                            bundle.event.event_id.as_str(),
                            bundle.event.received_at_micros,
                            bundle.batch.root.to_b64url(),
                        )
                    }
                    RangeEntry::Unproved {
                        event_id,
                        received_at_micros,
                        digest,
                        ..
                    } => {
                        id.update(event_id.as_bytes());
                        id.update(digest.as_bytes());
                        (event_id, received_at_micros, "-".to_owned())
                    }
                };
                id.update(verdict.as_bytes());
                let mut received = micros_rfc3339(micros);
                received.truncate(19);
                doc.row(
                    Font::Mono,
                    7.5,
                    &[
                        (COLS[0].0, n.to_string()),
                        (COLS[1].0, clip(event_id, 40)),
                        (COLS[2].0, received),
                        (COLS[3].0, verdict.to_owned()),
                        (COLS[4].0, clip(&root, 24)),
                    ],
                )
            }
        }
    }

    /// Writes the summary and the end of the document; returns the writer.
    pub fn finish(self) -> io::Result<W> {
        let c = &self.counts;
        let overall = if c.failed > 0 {
            "failed"
        } else if c.unproved > 0 {
            "incomplete"
        } else {
            "verified"
        };
        match self.out {
            Out::Json(mut w) => {
                write!(
                    w,
                    "],\"summary\":{}}}",
                    json!({
                        "events": c.total,
                        "verified": c.verified,
                        "failed": c.failed,
                        "unproved": c.unproved,
                        "verdict": overall,
                    })
                )?;
                w.flush()?;
                Ok(w)
            }
            Out::Pdf { mut doc, id } => {
                doc.repeat_head = None;
                doc.rule()?;
                doc.heading("Summary")?;
                doc.field("Events", &c.total.to_string(), Font::Regular)?;
                doc.field("Verified", &c.verified.to_string(), Font::Regular)?;
                doc.field("Failed", &c.failed.to_string(), Font::Regular)?;
                doc.field("Not yet proved", &c.unproved.to_string(), Font::Regular)?;
                doc.gap(4.0);
                let (text, colour) = match overall {
                    "verified" => ("Verdict: VERIFIED - every event's proof holds", GREEN),
                    "failed" => ("Verdict: FAILED - at least one proof does not hold", RED),
                    _ => ("Verdict: INCOMPLETE - some events are not proved yet", GREY),
                };
                doc.line_in(Font::Bold, 13.0, 0.0, colour, text)?;
                let digest = id.finalize();
                let mut file_id = [0u8; 16];
                file_id.copy_from_slice(&digest[..16]);
                let title = format!("Verification report: {}", self.header.scope);
                doc.finish(&DocInfo {
                    title: &title,
                    created: self.header.generated_at,
                    file_id,
                })
            }
        }
    }
}

fn entry_json(entry: RangeEntry<'_>) -> Value {
    match entry {
        RangeEntry::Proved { bundle, report } => json!({
            "event_id": bundle.event.event_id,
            "status": "proved",
            "verdict": report.verdict,
            "steps": report.steps,
            "trust_points": report.trust_points,
            "bundle": bundle,
        }),
        RangeEntry::Unproved {
            event_id,
            digest,
            received_at_micros,
            status,
        } => json!({
            "event_id": event_id,
            "status": status,
            "digest": digest,
            "received_at": micros_rfc3339(received_at_micros),
        }),
    }
}
