//! # ancora-reports
//!
//! Verification reports: what was checked for an event, every step with its hashes, every trust
//! point with its own verdict (verified, failed, or not checked and why) and how to check it
//! without Ancora (`ancora verify BUNDLE --log-key LOG.key --chainweb-node https://<node>`),
//! and the verdict.
//!
//! * [`json_report`] — for machines: the bundle plus every step's and trust point's verdict.
//! * [`pdf_report`] — for people: the same, as a PDF.
//! * [`RangeReportWriter`] — for a batch or a time range: JSON or PDF written event by event to
//!   any [`std::io::Write`], so ten thousand events never sit in memory at once.
//!
//! Every report is a pure function of its input and the generation time: ids, dates and the
//! PDF file identifier are derived from them, never from a clock or a random source.
#![forbid(unsafe_code)]

use ancora_proof::bundle::Bundle;

mod event;
mod json;
mod pdf;
mod range;
mod text;

pub use event::{pdf_report, write_pdf_report};
pub use json::json_report;
pub use range::{RangeEntry, RangeFormat, RangeHeader, RangeReportWriter};

/// The format name written in every JSON report.
pub const REPORT_FORMAT: &str = "ancora.verification-report";
/// The report format version.
pub const REPORT_VERSION: u32 = 1;

/// The command that re-checks a bundle without Ancora: `BUNDLE` is the bundle file, `LOG.key`
/// the log's verifier key, `<node>` a Chainweb node the reader chooses. Only the flags the
/// bundle's trust points need are given.
pub fn verify_command(bundle: &Bundle) -> String {
    let mut cmd = String::from("ancora verify BUNDLE");
    if bundle.tlog().is_some() {
        cmd.push_str(" --log-key LOG.key");
    }
    if bundle.chainweb().is_some() {
        cmd.push_str(" --chainweb-node https://<node>");
    }
    cmd
}

/// How to check a bundle without Ancora, in sentences: what to obtain for each of its trust
/// points, then the command ([`verify_command`]) and what it must say.
pub(crate) fn independent_check(bundle: &Bundle) -> Vec<String> {
    let mut out = Vec::new();
    if bundle.tlog().is_some() {
        out.push(
            "Obtain the transparency log's public key from its operator through a channel you trust (not from this report) and save it as LOG.key."
                .to_owned(),
        );
    }
    if bundle.chainweb().is_some() {
        out.push(
            "Choose a Chainweb node you trust, or run your own: the verifier fetches the block header at this height on this chain from it and checks that its hash is the block hash above."
                .to_owned(),
        );
    }
    out.push(format!(
        "Run `{}` (BUNDLE is the bundle file), or call verifyBundle() from the Ancora JS SDK with the same trust: every step must say ok.",
        verify_command(bundle)
    ));
    if bundle.tlog().is_some() {
        out.push(
            "To detect a log that rewrites history, ask for a consistency proof from this checkpoint to a later one and check it the same way."
                .to_owned(),
        );
    }
    out.push(
        "Nothing in this report needs to be trusted: the bundle, the log's key and the chain are enough."
            .to_owned(),
    );
    out
}
