//! What a report must say, and that it says the same thing twice.

use std::process::Command;

use ancora_proof::bundle::{Status, Trust, Verdict, verify_bundle};
use ancora_reports::{
    RangeEntry, RangeFormat, RangeHeader, RangeReportWriter, json_report, pdf_report,
};
use serde_json::json;

use crate::fixture::{FETCHED_AT, NODE, at, bundle, bundles, signer, v2_bundle, verified};

/// The text of a PDF: pdftotext when installed, otherwise the raw (uncompressed) bytes.
fn pdf_text(pdf: &[u8]) -> String {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("ancora-report-{}-{n}.pdf", std::process::id()));
    std::fs::write(&path, pdf).expect("temp file");
    let run = Command::new("pdftotext").arg(&path).arg("-").output();
    let _ = std::fs::remove_file(&path);
    match run {
        // poppler is installed: it must read the file without complaint.
        Ok(out) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success() && stderr.is_empty(),
                "pdftotext: {stderr}"
            );
            String::from_utf8_lossy(&out.stdout).into_owned()
        }
        // No poppler: the content streams are uncompressed, so the text is in the bytes.
        Err(_) => String::from_utf8_lossy(pdf).into_owned(),
    }
}

fn assert_is_pdf(pdf: &[u8]) {
    assert!(pdf.starts_with(b"%PDF-1.7\n"), "starts with a PDF header");
    assert!(
        pdf.ends_with(b"%%EOF\n"),
        "ends with the end-of-file marker"
    );
    let text = String::from_utf8_lossy(pdf);
    let startxref: usize = text
        .rsplit("startxref\n")
        .next()
        .and_then(|s| s.lines().next())
        .and_then(|s| s.parse().ok())
        .expect("a startxref offset");
    assert!(
        pdf[startxref..].starts_with(b"xref\n"),
        "startxref points at the xref table"
    );
}

#[test]
fn the_json_report_carries_the_bundle_and_every_step_verdict() {
    let b = bundle();
    let report = verified(&b);
    let v = json_report(&b, &report, at(1_767_300_000));
    assert_eq!(v["verdict"], json!("verified"));
    assert_eq!(v["subject"]["event_id"], json!("inv-2026-0003"));
    assert_eq!(v["bundle"], serde_json::to_value(&b).expect("serializes"));
    let steps = v["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), report.steps.len());
    assert!(steps.iter().all(|s| s["status"] == json!("ok")));
    assert_eq!(v["generated_at"], json!("2026-01-01T20:40:00Z"));
}

#[test]
fn the_same_bundle_and_time_give_the_same_json_and_pdf_bytes() {
    let b = bundle();
    let r = verified(&b);
    let t = at(1_767_300_000);
    assert_eq!(json_report(&b, &r, t), json_report(&b, &r, t));
    assert_eq!(pdf_report(&b, &r, t), pdf_report(&b, &r, t));
}

#[test]
fn only_the_generation_time_differs_between_two_pdfs_of_one_event() {
    let b = bundle();
    let r = verified(&b);
    let one = pdf_report(&b, &r, at(1_767_300_000));
    let two = pdf_report(&b, &r, at(1_767_300_061));
    assert_ne!(one, two);
    // Put the second time into the first document: the bytes must then be identical.
    let patched = String::from_utf8_lossy(&one)
        .replace("2026-01-01T20:40:00Z", "2026-01-01T20:41:01Z")
        .replace("D:20260101204000", "D:20260101204101");
    assert_eq!(patched.as_bytes(), String::from_utf8_lossy(&two).as_bytes());
}

#[test]
fn the_pdf_is_a_pdf_that_names_the_event_its_steps_and_the_verdict() {
    let b = bundle();
    let r = verified(&b);
    let pdf = pdf_report(&b, &r, at(1_767_300_000));
    assert_is_pdf(&pdf);
    let text = pdf_text(&pdf);
    assert!(text.contains("inv-2026-0003"), "names the event");
    assert!(text.contains("VERIFIED"), "states the verdict");
    for s in &r.steps {
        assert!(
            text.contains(&s.step.replace('→', "->")),
            "names step {}",
            s.step
        );
    }
    assert!(
        text.contains(&b.batch.root.to_b64url()),
        "prints the batch root"
    );
    assert!(
        text.contains("ancora verify"),
        "says how to check independently"
    );
    assert!(text.contains("log.ancora.test/v1"), "names the trust point");
}

#[test]
fn a_failed_verification_says_failed_and_which_step() {
    let b = bundle();
    let r = verify_bundle(&b, &Trust::default());
    assert_eq!(r.verdict, Verdict::Failed);
    let failing = r
        .steps
        .iter()
        .find(|s| s.status != Status::Ok)
        .expect("a failing step");
    let text = pdf_text(&pdf_report(&b, &r, at(0)));
    assert!(text.contains("FAILED"));
    assert!(text.contains(&failing.step.replace('→', "->")));
}

fn header(kind: &str) -> RangeHeader {
    RangeHeader {
        tenant_id: "018f3c2a-7b10-7c00-8000-123456789abc".into(),
        scope: format!("{kind} 0190a1b2-0000-7000-8000-000000000042"),
        scope_json: json!({ "kind": kind, "batch_id": "0190a1b2-0000-7000-8000-000000000042" }),
        generated_at: at(1_767_300_000),
    }
}

#[test]
fn a_range_json_report_is_one_valid_document_with_every_event_and_a_summary() {
    let bs = bundles(7);
    let mut w =
        RangeReportWriter::new(Vec::new(), RangeFormat::Json, header("batch")).expect("opens");
    for b in &bs {
        let r = verified(b);
        w.push(RangeEntry::Proved {
            bundle: b,
            report: &r,
        })
        .expect("writes");
    }
    w.push(RangeEntry::Unproved {
        event_id: "late \"one\"",
        digest: "sha256:00",
        received_at_micros: 0,
        status: "pending",
    })
    .expect("writes");
    let out = w.finish().expect("finishes");
    let v: serde_json::Value = serde_json::from_slice(&out).expect("valid JSON");
    assert_eq!(v["events"].as_array().map(Vec::len), Some(8));
    assert_eq!(v["events"][7]["event_id"], json!("late \"one\""));
    assert_eq!(
        v["summary"],
        json!({"events": 8, "verified": 7, "failed": 0, "unproved": 1, "verdict": "incomplete"})
    );
    assert_eq!(
        v["events"][0]["bundle"],
        serde_json::to_value(&bs[0]).expect("serializes")
    );
}

#[test]
fn a_range_pdf_of_ten_thousand_events_streams_page_by_page() {
    let bs = bundles(10);
    let reports: Vec<_> = bs.iter().map(verified).collect();
    let mut w =
        RangeReportWriter::new(Vec::new(), RangeFormat::Pdf, header("range")).expect("opens");
    let mut drained = Vec::new();
    let mut largest_buffer = 0;
    for i in 0..10_000 {
        w.push(RangeEntry::Proved {
            bundle: &bs[i % 10],
            report: &reports[i % 10],
        })
        .expect("writes");
        // The caller drains what was written (as an HTTP body would): the writer must not
        // hold more than about one page.
        let buf = w.get_mut();
        largest_buffer = largest_buffer.max(buf.len());
        drained.append(buf);
    }
    let mut rest = w.finish().expect("finishes");
    drained.append(&mut rest);
    assert!(
        largest_buffer < 64 * 1024,
        "buffer peaked at {largest_buffer} bytes"
    );
    assert_is_pdf(&drained);
    let text = pdf_text(&drained);
    assert!(text.contains("inv-2026-0009"));
    assert!(text.contains("10000"), "the summary counts every event");
    let pages = String::from_utf8_lossy(&drained)
        .matches("/Type /Page\n")
        .count()
        + String::from_utf8_lossy(&drained)
            .matches("/Type /Page ")
            .count();
    assert!(pages > 100, "paginated into {pages} pages");
}

#[test]
fn the_same_range_gives_the_same_pdf_bytes() {
    let make = || {
        let bs = bundles(5);
        let mut w =
            RangeReportWriter::new(Vec::new(), RangeFormat::Pdf, header("batch")).expect("opens");
        for b in &bs {
            let r = verified(b);
            w.push(RangeEntry::Proved {
                bundle: b,
                report: &r,
            })
            .expect("writes");
        }
        w.finish().expect("finishes")
    };
    assert_eq!(make(), make());
}

/// Writes sample reports to `$ANCORA_REPORT_SAMPLES` (for looking at them), when set.
#[test]
fn sample_reports_can_be_written_for_inspection() {
    let Ok(dir) = std::env::var("ANCORA_REPORT_SAMPLES") else {
        return;
    };
    let b = bundle();
    let r = verified(&b);
    std::fs::write(
        format!("{dir}/event.pdf"),
        pdf_report(&b, &r, at(1_767_300_000)),
    )
    .expect("writes");
    let (b, _) = v2_bundle();
    let r = verify_bundle(&b, &log_key_only());
    std::fs::write(
        format!("{dir}/event-v2.pdf"),
        pdf_report(&b, &r, at(1_767_300_000)),
    )
    .expect("writes");
}

// ---- Version-2 bundles: several trust points, each with its own verdict ----

/// The PDF's text with runs of white space (line breaks included) made single spaces.
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn log_key_only() -> Trust {
    Trust {
        log_keys: vec![signer().verifier()],
        chainweb_headers: vec![],
    }
}

#[test]
fn a_v2_json_report_has_every_trust_point_with_its_verdict_and_the_command() {
    let (b, header) = v2_bundle();
    let trust = Trust {
        log_keys: vec![signer().verifier()],
        chainweb_headers: vec![header],
    };
    let r = verify_bundle(&b, &trust);
    assert_eq!(r.verdict, Verdict::Verified, "{}", r.to_json_pretty());
    let v = json_report(&b, &r, at(1_767_300_000));
    assert_eq!(v["verdict"], json!("verified"));
    let tps = v["trust_points"].as_array().expect("trust_points");
    assert_eq!(tps.len(), 2);
    assert_eq!(
        (&tps[0]["type"], &tps[0]["status"]),
        (&json!("tlog"), &json!("verified"))
    );
    assert_eq!(
        (&tps[1]["type"], &tps[1]["status"]),
        (&json!("chainweb"), &json!("verified"))
    );
    assert_eq!(
        v["verify_command"],
        json!("ancora verify BUNDLE --log-key LOG.key --chainweb-node https://<node>")
    );
    assert_eq!(v["bundle"]["version"], json!(2));
    assert_eq!(v["bundle"], serde_json::to_value(&b).expect("serializes"));
    assert!(v["bundle"]["trustPoints"].is_array());
    // A v1 tlog bundle's command needs only the log key.
    let v1 = bundle();
    let v = json_report(&v1, &verified(&v1), at(0));
    assert_eq!(
        v["verify_command"],
        json!("ancora verify BUNDLE --log-key LOG.key")
    );
    assert_eq!(v["trust_points"][0]["status"], json!("verified"));
}

#[test]
fn a_v2_pdf_shows_each_trust_point_its_verdict_and_the_chainweb_details() {
    let (b, _) = v2_bundle();
    // The log key only: the chainweb point is not checked, the bundle is verified.
    let r = verify_bundle(&b, &log_key_only());
    assert_eq!(r.verdict, Verdict::Verified, "{}", r.to_json_pretty());
    let pdf = pdf_report(&b, &r, at(1_767_300_000));
    assert_is_pdf(&pdf);
    let text = flat(&pdf_text(&pdf));
    let Some(cw) = b.chainweb() else {
        panic!("a chainweb point")
    };
    for needle in [
        "VERIFIED - every checked step holds",
        "Trust point 1: Ancora transparency log (signed checkpoints) - VERIFIED",
        "Trust point 2: Chainweb block - NOT CHECKED",
        "no trusted block header supplied (--chainweb-header or --chainweb-node)",
        "trusted block header - not checked",
        "mainnet01",
        "5000000",
        &cw.block_hash.to_b64url(),
        cw.request_key.as_deref().unwrap_or("no request key"),
        &format!("as fetched from node {NODE} at {FETCHED_AT}"),
        "ancora verify BUNDLE --log-key LOG.key --chainweb-node https://<node>",
        "log.ancora.test/v1",
    ] {
        assert!(text.contains(needle), "the PDF lacks {needle:?}:\n{text}");
    }
    assert!(
        text.contains("mainnet01 chain 0"),
        "names the chain:\n{text}"
    );
    for label in [
        "Network",
        "Chain",
        "Block height",
        "Block hash",
        "Request key",
    ] {
        assert!(text.contains(label), "the PDF lacks the label {label:?}");
    }
}

#[test]
fn a_v2_pdf_says_which_trust_point_failed_and_why() {
    let (b, header) = v2_bundle();
    // A header of the same place that is another block: the chainweb point fails.
    let mut other = header;
    other.nonce ^= 1;
    let r = verify_bundle(
        &b,
        &Trust {
            log_keys: vec![signer().verifier()],
            chainweb_headers: vec![other],
        },
    );
    assert_eq!(r.verdict, Verdict::Failed);
    let text = flat(&pdf_text(&pdf_report(&b, &r, at(0))));
    assert!(
        text.contains("Trust point 1: Ancora transparency log (signed checkpoints) - VERIFIED"),
        "{text}"
    );
    assert!(
        text.contains("Trust point 2: Chainweb block - FAILED"),
        "{text}"
    );
    assert!(
        text.contains("trusted block header failed: the trusted header of chain 0"),
        "{text}"
    );
    assert!(
        text.contains("FAILED - at least one step does not hold"),
        "{text}"
    );
}

#[test]
fn a_v2_pdf_with_no_trust_supplied_says_nothing_could_be_checked() {
    let (b, _) = v2_bundle();
    let r = verify_bundle(&b, &Trust::default());
    assert_eq!(r.verdict, Verdict::Failed);
    let text = flat(&pdf_text(&pdf_report(&b, &r, at(0))));
    assert!(
        text.contains("FAILED - no trust point could be checked"),
        "{text}"
    );
    assert!(
        text.contains("Trust point 1: Ancora transparency log (signed checkpoints) - NOT CHECKED"),
        "{text}"
    );
    assert!(text.contains("no log key supplied (--log-key)"), "{text}");
    assert!(
        text.contains("Trust point 2: Chainweb block - NOT CHECKED"),
        "{text}"
    );
}

#[test]
fn a_v2_pdf_is_deterministic_and_a_range_report_carries_trust_points() {
    let (b, _) = v2_bundle();
    let r = verify_bundle(&b, &log_key_only());
    let t = at(1_767_300_000);
    assert_eq!(pdf_report(&b, &r, t), pdf_report(&b, &r, t));
    let mut w =
        RangeReportWriter::new(Vec::new(), RangeFormat::Json, header("batch")).expect("opens");
    w.push(RangeEntry::Proved {
        bundle: &b,
        report: &r,
    })
    .expect("writes");
    let out = w.finish().expect("finishes");
    let v: serde_json::Value = serde_json::from_slice(&out).expect("valid JSON");
    assert_eq!(
        v["events"][0]["trust_points"][1]["status"],
        json!("unchecked")
    );
    assert_eq!(v["summary"]["verified"], json!(1));
}
