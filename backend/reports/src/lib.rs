//! # ancora-reports
//!
//! Verification reports: what was checked for an event, every step with its hashes, the trust
//! point and how to check it without Ancora, and the verdict.
//!
//! * [`json_report`] — for machines: the bundle plus every step's verdict.
//! * [`pdf_report`] — for people: the same, as a PDF.
//! * [`RangeReportWriter`] — for a batch or a time range: JSON or PDF written event by event to
//!   any [`std::io::Write`], so ten thousand events never sit in memory at once.
//!
//! Every report is a pure function of its input and the generation time: ids, dates and the
//! PDF file identifier are derived from them, never from a clock or a random source.
#![forbid(unsafe_code)]

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

/// How to check a bundle without Ancora, in one sentence per tool.
pub(crate) fn independent_check(kind: &str) -> [&'static str; 3] {
    match kind {
        "chainweb" => [
            "Fetch the block header at this height on this chain from a Chainweb node you choose (or run your own) and check that its hash is the block hash above.",
            "Then run `ancora verify bundle.json` with that header as the trusted header, or call verifyBundle() from the Ancora JS SDK with it: every step must say ok.",
            "Nothing in this report needs to be trusted: the bundle and the chain are enough.",
        ],
        _ => [
            "Obtain the transparency log's public key from its operator through a channel you trust (not from this report).",
            "Run `ancora verify bundle.json` with that key, or call verifyBundle() from the Ancora JS SDK with it: every step must say ok.",
            "To detect a log that rewrites history, ask for a consistency proof from this checkpoint to a later one and check it the same way.",
        ],
    }
}
