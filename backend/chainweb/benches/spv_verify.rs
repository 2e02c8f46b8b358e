//! Verification rate for the real 16-step cross-chain `/pact/spv` proof of
//! `spv-txout-proof-crosschain.json`: decode the response string, run the proof, compare the
//! root with the expected block hash and parse the proven CommandResult — everything a
//! verifier does short of fetching the header (whose hash check is one more Merkle root).

use std::hint::black_box;

use ancora_proof::Hash;
use ancora_proof::spv::TransactionOutputProof;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn vector() -> (String, Hash) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../proof/tests/vectors/spv-txout-proof-crosschain.json"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_default())
            .unwrap_or_default();
    let body = v["responseBody"].as_str().unwrap_or_default().to_owned();
    let root =
        Hash::from_b64url(v["recomputed"]["root"].as_str().unwrap_or_default()).unwrap_or_default();
    (body, root)
}

fn bench(c: &mut Criterion) {
    let (body, root) = vector();
    let decoded = TransactionOutputProof::decode_response(&body).ok();
    assert_eq!(
        decoded.as_ref().map(|p| p.object.steps.len()),
        Some(16),
        "the vector's proof has 16 steps"
    );
    assert_eq!(
        decoded.as_ref().map(TransactionOutputProof::run),
        Some(root)
    );

    let mut g = c.benchmark_group("spv_crosschain_16_steps");
    g.throughput(Throughput::Elements(1));
    g.bench_function("decode_run_check_parse", |b| {
        b.iter(|| {
            let p = TransactionOutputProof::decode_response(black_box(&body)).ok();
            let ok = p
                .as_ref()
                .is_some_and(|p| p.run() == root && p.command_result().is_ok());
            black_box(ok)
        })
    });
    g.bench_function("decode_run_check", |b| {
        b.iter(|| {
            let p = TransactionOutputProof::decode_response(black_box(&body)).ok();
            black_box(p.is_some_and(|p| p.run() == root))
        })
    });
    if let Some(p) = decoded {
        g.bench_function("run_only", |b| {
            b.iter(|| black_box(black_box(&p).run() == root))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
