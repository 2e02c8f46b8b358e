//! The machine-readable report for one event.

use ancora_proof::bundle::{Bundle, Report};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::text::rfc3339;
use crate::{REPORT_FORMAT, REPORT_VERSION};

/// The JSON report for one event: the bundle itself, the verifier's verdict on each step, on
/// each trust point and overall, how to check it independently, and the generation time. Keys
/// are sorted (serde_json's map), so the same bundle, report and time always give the same
/// document.
pub fn json_report(bundle: &Bundle, report: &Report, generated_at: OffsetDateTime) -> Value {
    json!({
        "report_format": REPORT_FORMAT,
        "report_version": REPORT_VERSION,
        "generated_at": rfc3339(generated_at),
        "subject": { "kind": "event", "event_id": bundle.event.event_id },
        "verdict": report.verdict,
        "identity": report.bundle,
        "steps": report.steps,
        "trust_points": report.trust_points,
        "bundle": bundle,
        "check_independently": crate::independent_check(bundle),
        "verify_command": crate::verify_command(bundle),
    })
}
