//! Reports: JSON and PDF for one event, streaming range reports.
#![forbid(unsafe_code)]

mod fixture;
mod reports;
