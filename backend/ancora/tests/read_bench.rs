//! The read benchmark's short form (`e2e/bench/read.sh` is the long one): `ancora-load --read`
//! against this crate's debug binary with a few hundred events and requests, checking that it
//! runs every phase and prints sane numbers (a broken generator or a proof path that fails
//! shows here, not in a benchmark nobody runs).

use ancora_load::read::{ReadOptions, run};

use crate::helpers::process::ancora_bin;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_read_benchmark_measures_every_phase_with_sane_numbers() {
    // Arrange
    let database_url = std::env::var("DATABASE_URL").expect("DATABASE_URL names a Postgres server");
    let opts = ReadOptions {
        database_url,
        ancora: ancora_bin().into(),
        events: 300,
        seconds: 0.4,
        rates: vec![200],
        connections: 4,
        keep_db: false,
        server_env: Vec::new(),
        warm_seconds: None,
    };

    // Act
    let report = run(&opts).await.expect("the read benchmark runs");

    // Assert
    let text = report.render();
    println!("{text}");
    assert_eq!(report.events, 300);
    for name in [
        "healthz",
        "proof (random id)",
        "proof (one id)",
        "proof (random id) in flood",
        "flood of random keys (401)",
    ] {
        assert!(
            report.phase(name).is_some(),
            "phase {name} missing:\n{text}"
        );
    }
    assert_eq!(
        report
            .phases
            .iter()
            .filter(|p| p.offered == Some(200))
            .count(),
        2,
        "{text}"
    );
    for p in &report.phases {
        assert!(
            p.ok > 0 && p.errors == 0,
            "{}: {} ok, {} errors\n{text}",
            p.name,
            p.ok,
            p.errors
        );
        assert!(p.rate > 0.0 && p.rate.is_finite(), "{}\n{text}", p.name);
        assert!(
            0.0 < p.p50 && p.p50 <= p.p95 && p.p95 <= p.p99 && p.p99 < 30.0,
            "{}: percentiles out of order or absurd\n{text}",
            p.name
        );
        if let Some(offered) = p.offered {
            // At 200/s for 0.4 s: 80 requests, all sent.
            assert_eq!(
                p.ok,
                (offered as f64 * opts.seconds).round() as u64,
                "{text}"
            );
        }
    }
    assert!(report.ratio > 0.0 && report.ratio.is_finite(), "{text}");
    // The server's own count of where the reads came from: past the first read of its batch,
    // the catalog's proofs render from the batch held in memory.
    let from = |source: &str| {
        report
            .reads_by_source
            .iter()
            .find(|(s, _)| s == source)
            .map_or(0, |(_, n)| *n)
    };
    assert!(
        from("database") > 0 && from("batch") > 0 && from("cache") > 0,
        "{text}"
    );
    assert!(text.contains("proof reads by source: "), "{text}");
    assert!(
        text.contains("ratio random proof ÷ healthz (closed loop): "),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("proof (random id)") && l.contains("p99")),
        "{text}"
    );
}
