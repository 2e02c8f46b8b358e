//! The PDF report for one event.

use std::io::{self, Write};

use ancora_proof::bundle::{
    Bundle, Report, Status, StepVerdict, TrustPoint, TrustPointStatus, TrustPointVerdict, Verdict,
};
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
    verdict_line(&mut doc, report)?;
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
         root; the batch root is proven into an anchor root; the anchor root is bound to one \
         or more trust points (a signed transparency-log checkpoint, a Chainweb block). Each \
         step below was checked on its own, so every fault would show, not only the first.",
    )?;

    event_section(&mut doc, bundle, report)?;
    path_section(&mut doc, bundle)?;

    doc.heading("Steps and verdicts")?;
    for (i, step) in report.steps.iter().enumerate() {
        step_block(&mut doc, i + 1, step)?;
    }

    trust_section(&mut doc, bundle, report)?;

    doc.heading("Check it yourself")?;
    for sentence in crate::independent_check(bundle) {
        doc.para(Font::Regular, 9.0, 0.0, &sentence)?;
    }
    doc.gap(2.0);
    doc.para(Font::Mono, 8.5, 12.0, &crate::verify_command(bundle))?;
    doc.gap(2.0);
    doc.para(
        Font::Regular,
        9.0,
        0.0,
        "The JSON report for this event carries the complete bundle; save its \"bundle\" member as the BUNDLE file (bundle.json).",
    )?;
    doc.gap(6.0);
    verdict_line(&mut doc, report)?;

    let file_id = file_id(bundle);
    doc.finish(&DocInfo {
        title: &title,
        created: generated_at,
        file_id,
    })
}

fn verdict_line<W: Write>(doc: &mut Doc<W>, report: &Report) -> io::Result<()> {
    let (text, colour) = match (
        report.verdict,
        report.failures().next(),
        report.unchecked().next(),
    ) {
        (Verdict::Verified, _, None) => ("Verdict: VERIFIED - every step holds", GREEN),
        (Verdict::Verified, _, Some(_)) => (
            "Verdict: VERIFIED - every checked step holds (some trust not checked, see below)",
            GREEN,
        ),
        (Verdict::Failed, None, Some(_)) => (
            "Verdict: FAILED - no trust point could be checked (see below)",
            RED,
        ),
        (Verdict::Failed, _, _) => ("Verdict: FAILED - at least one step does not hold", RED),
    };
    doc.line_in(Font::Bold, 13.0, 0.0, colour, text)
}

/// One trust point's verdict in words and colour.
fn trust_point_word(v: Option<&TrustPointVerdict>) -> (&'static str, (f32, f32, f32)) {
    match v.map(|v| v.status) {
        Some(TrustPointStatus::Verified) => ("VERIFIED", GREEN),
        Some(TrustPointStatus::Failed) => ("FAILED", RED),
        Some(TrustPointStatus::Unchecked) => ("NOT CHECKED", GREY),
        None => ("not reported", GREY),
    }
}

fn trust_point_line(tp: &TrustPoint) -> String {
    match tp {
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
    let label = if b.trust_points.len() == 1 {
        "4. Trust point"
    } else {
        "4. Trust points"
    };
    for (i, tp) in b.trust_points.iter().enumerate() {
        doc.field(
            if i == 0 { label } else { "" },
            &trust_point_line(tp),
            Font::Mono,
        )?;
    }
    Ok(())
}

fn step_block<W: Write>(doc: &mut Doc<W>, n: usize, s: &StepVerdict) -> io::Result<()> {
    doc.ensure(48.0)?;
    let (word, colour) = match s.status {
        Status::Ok => ("ok", GREEN),
        Status::Failed => ("FAILED", RED),
        Status::Skipped => ("SKIPPED", RED),
        Status::Unchecked => ("not checked", GREY),
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

fn trust_section<W: Write>(doc: &mut Doc<W>, b: &Bundle, r: &Report) -> io::Result<()> {
    doc.heading(if b.trust_points.len() == 1 {
        "The trust point"
    } else {
        "The trust points"
    })?;
    doc.para(
        Font::Regular,
        9.0,
        0.0,
        "Each trust point is judged on its own steps. The bundle is verified when no step \
         failed and at least one trust point is verified; a trust point is not checked when \
         nothing was supplied to check it against (the log's key, a block header from a \
         Chainweb node).",
    )?;
    for (i, tp) in b.trust_points.iter().enumerate() {
        let verdict = r.trust_points.get(i).filter(|v| v.kind == tp.kind());
        let (word, colour) = trust_point_word(verdict);
        let kind = match tp {
            TrustPoint::Tlog(_) => "Ancora transparency log (signed checkpoints)",
            TrustPoint::Chainweb(_) => "Chainweb block",
        };
        doc.ensure(60.0)?;
        doc.gap(4.0);
        doc.line_in(
            Font::Bold,
            10.5,
            0.0,
            colour,
            &format!("Trust point {}: {kind} - {word}", i + 1),
        )?;
        if let Some(v) = verdict {
            doc.para(Font::Regular, 9.0, 12.0, &v.detail)?;
        }
        match tp {
            TrustPoint::Tlog(t) => {
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
                doc.field("Network", &c.network, Font::Mono)?;
                doc.field("Chain", &c.chain_id.to_string(), Font::Mono)?;
                doc.field("Block height", &c.block_height.to_string(), Font::Mono)?;
                doc.field("Block hash", &c.block_hash.to_b64url(), Font::Mono)?;
                doc.field(
                    "Request key",
                    c.request_key.as_deref().unwrap_or("-"),
                    Font::Mono,
                )?;
                doc.field("Anchor root in", &c.anchor_root_location, Font::Mono)?;
                if let Some(src) = &c.header_source {
                    doc.field(
                        "Block header",
                        &format!(
                            "as fetched from node {} at {} (by Ancora; check it against a node you choose)",
                            src.node, src.fetched_at
                        ),
                        Font::Regular,
                    )?;
                }
            }
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
