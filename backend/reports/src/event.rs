//! The PDF report for one event.

use std::io::{self, Write};

use ancora_proof::bundle::{Bundle, Report, Status, StepVerdict, TrustPoint, Verdict};
use ancora_proof::hash::b64url_encode;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::pdf::{Doc, DocInfo, Font, GREEN, GREY, RED};
use crate::text::{micros_rfc3339, rfc3339};

/// The PDF report for one event, in memory (a few kilobytes).
pub fn pdf_report(bundle: &Bundle, report: &Report, generated_at: OffsetDateTime) -> Vec<u8> {
    // Writing into a Vec cannot fail; an empty result would fail any PDF check loudly.
    write_pdf_report(Vec::with_capacity(16 * 1024), bundle, report, generated_at)
        .unwrap_or_default()
}

/// Writes the PDF report for one event to `out` and returns it.
pub fn write_pdf_report<W: Write>(
    out: W,
    bundle: &Bundle,
    report: &Report,
    generated_at: OffsetDateTime,
) -> io::Result<W> {
    let event_id = &bundle.event.event_id;
    let title = format!("Verification report for event {event_id}");
    let mut doc = Doc::new(
        out,
        &format!("Ancora verification report · event {event_id}"),
    )?;

    doc.line(Font::Bold, 18.0, 0.0, "Verification report")?;
    doc.para(Font::Bold, 12.0, 0.0, &format!("Event {event_id}"))?;
    doc.gap(6.0);
    verdict_line(&mut doc, report.verdict)?;
    doc.line_in(
        Font::Regular,
        8.0,
        0.0,
        GREY,
        &format!("Generated {} by Ancora", rfc3339(generated_at)),
    )?;

    doc.heading("What was checked")?;
    doc.para(
        Font::Regular,
        9.0,
        0.0,
        "A proof bundle links the event to something you can trust without trusting Ancora: \
         the event's fields are encoded into a leaf; the leaf is proven into its batch's Merkle \
         root; the batch root is proven into an anchor root; the anchor root is bound to the \
         trust point (a signed transparency-log checkpoint or a Chainweb block). Each step \
         below was checked on its own, so every fault would show, not only the first.",
    )?;

    event_section(&mut doc, bundle, report)?;
    path_section(&mut doc, bundle)?;

    doc.heading("Steps and verdicts")?;
    for (i, step) in report.steps.iter().enumerate() {
        step_block(&mut doc, i + 1, step)?;
    }

    trust_section(&mut doc, bundle)?;

    doc.heading("Check it yourself")?;
    for sentence in crate::independent_check(bundle.trust_point.kind()) {
        doc.para(Font::Regular, 9.0, 0.0, sentence)?;
    }
    doc.para(
        Font::Regular,
        9.0,
        0.0,
        "The JSON report for this event carries the complete bundle; save its \"bundle\" member as bundle.json.",
    )?;
    doc.gap(6.0);
    verdict_line(&mut doc, report.verdict)?;

    let file_id = file_id(bundle);
    doc.finish(&DocInfo {
        title: &title,
        created: generated_at,
        file_id,
    })
}

pub(crate) fn verdict_line<W: Write>(doc: &mut Doc<W>, verdict: Verdict) -> io::Result<()> {
    match verdict {
        Verdict::Verified => doc.line_in(
            Font::Bold,
            13.0,
            0.0,
            GREEN,
            "Verdict: VERIFIED - every step holds",
        ),
        Verdict::Failed => doc.line_in(
            Font::Bold,
            13.0,
            0.0,
            RED,
            "Verdict: FAILED - at least one step does not hold",
        ),
    }
}

fn event_section<W: Write>(doc: &mut Doc<W>, b: &Bundle, r: &Report) -> io::Result<()> {
    doc.heading("The event")?;
    let e = &r.bundle;
    doc.field("Event id", &e.event_id, Font::Mono)?;
    doc.field("Tenant", &e.tenant_id, Font::Mono)?;
    doc.field("Content digest", &e.digest, Font::Mono)?;
    doc.field("Submitter", &b.event.submitter, Font::Mono)?;
    doc.field(
        "Received at",
        &format!(
            "{} ({} µs)",
            micros_rfc3339(e.received_at_micros),
            e.received_at_micros
        ),
        Font::Regular,
    )?;
    doc.field("Leaf hash", &e.leaf_hash.to_b64url(), Font::Mono)?;
    doc.field(
        "Bundle version",
        &e.bundle_version.to_string(),
        Font::Regular,
    )
}

fn path_section<W: Write>(doc: &mut Doc<W>, b: &Bundle) -> io::Result<()> {
    doc.heading("The proof, from event to trust point")?;
    doc.field("1. Event leaf", &b64url_encode(&b.event.leaf.0), Font::Mono)?;
    doc.field(
        "2. Batch root",
        &format!(
            "{} (leaf {} of batch {}, {})",
            b.batch.root.to_b64url(),
            b.batch.leaf_index,
            b.batch.batch_id.as_deref().unwrap_or("-"),
            b.batch.algorithm
        ),
        Font::Mono,
    )?;
    doc.field(
        "   proof object",
        &b64url_encode(&b.batch.proof.0),
        Font::Mono,
    )?;
    doc.field(
        "3. Anchor root",
        &format!(
            "{} (anchor {}, {})",
            b.anchor.root.to_b64url(),
            b.anchor.anchor_id,
            b.anchor.algorithm
        ),
        Font::Mono,
    )?;
    doc.field(
        "   proof object",
        &b64url_encode(&b.anchor.proof.0),
        Font::Mono,
    )?;
    let trust = match &b.trust_point {
        TrustPoint::Tlog(t) => format!(
            "transparency log {}: leaf {} of {}",
            t.origin, t.leaf_index, t.log_size
        ),
        TrustPoint::Chainweb(c) => format!(
            "Chainweb {} chain {}, block {} at height {}",
            c.network,
            c.chain_id,
            c.block_hash.to_b64url(),
            c.block_height
        ),
    };
    doc.field("4. Trust point", &trust, Font::Mono)
}

fn step_block<W: Write>(doc: &mut Doc<W>, n: usize, s: &StepVerdict) -> io::Result<()> {
    doc.ensure(48.0)?;
    let (word, colour) = match s.status {
        Status::Ok => ("ok", GREEN),
        Status::Failed => ("FAILED", RED),
        Status::Skipped => ("SKIPPED", RED),
    };
    doc.gap(3.0);
    doc.line_in(
        Font::Bold,
        10.0,
        0.0,
        colour,
        &format!("{n}. {} - {word}", s.step),
    )?;
    doc.para(Font::Regular, 9.0, 12.0, &s.detail)?;
    if let Some(c) = &s.computed {
        doc.para(Font::Mono, 8.0, 12.0, &format!("computed {c}"))?;
    }
    if let Some(e) = &s.expected {
        doc.para(Font::Mono, 8.0, 12.0, &format!("expected {e}"))?;
    }
    Ok(())
}

fn trust_section<W: Write>(doc: &mut Doc<W>, b: &Bundle) -> io::Result<()> {
    doc.heading("The trust point")?;
    match &b.trust_point {
        TrustPoint::Tlog(t) => {
            doc.field(
                "Kind",
                "Ancora transparency log (signed checkpoints)",
                Font::Regular,
            )?;
            doc.field("Log origin", &t.origin, Font::Mono)?;
            doc.field(
                "Anchor root at",
                &format!("leaf {} of {}", t.leaf_index, t.log_size),
                Font::Regular,
            )?;
            doc.gap(2.0);
            doc.line(Font::Bold, 9.0, 0.0, "Signed checkpoint")?;
            for l in t.checkpoint.lines() {
                doc.para(Font::Mono, 7.5, 12.0, l)?;
            }
        }
        TrustPoint::Chainweb(c) => {
            doc.field("Kind", "Chainweb block", Font::Regular)?;
            doc.field("Network", &c.network, Font::Mono)?;
            doc.field("Chain", &c.chain_id.to_string(), Font::Mono)?;
            doc.field("Block height", &c.block_height.to_string(), Font::Mono)?;
            doc.field("Block hash", &c.block_hash.to_b64url(), Font::Mono)?;
            if let Some(rk) = &c.request_key {
                doc.field("Request key", rk, Font::Mono)?;
            }
            doc.field("Anchor root in", &c.anchor_root_location, Font::Mono)?;
        }
    }
    Ok(())
}

/// The PDF file identifier: the first 16 bytes of SHA-256 over the bundle's JSON.
fn file_id(bundle: &Bundle) -> [u8; 16] {
    let json = serde_json::to_vec(bundle).unwrap_or_default();
    let h = Sha256::digest(&json);
    let mut id = [0u8; 16];
    id.copy_from_slice(&h[..16]);
    id
}
