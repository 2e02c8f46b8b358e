//! One event's PDF report (target: well under 200 ms).
#![forbid(unsafe_code)]

#[path = "../tests/fixture.rs"]
mod fixture;

use criterion::{Criterion, criterion_group, criterion_main};

fn one_event_pdf(c: &mut Criterion) {
    let b = fixture::bundle();
    let r = fixture::verified(&b);
    let t = fixture::at(1_767_300_000);
    c.bench_function("pdf_report one event", |bench| {
        bench.iter(|| ancora_reports::pdf_report(&b, &r, t))
    });
    c.bench_function("verify + pdf_report one event", |bench| {
        bench.iter(|| {
            let r = fixture::verified(&b);
            ancora_reports::pdf_report(&b, &r, t)
        })
    });
}

criterion_group!(benches, one_event_pdf);
criterion_main!(benches);
