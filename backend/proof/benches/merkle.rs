//! Merkle throughput: raw SHA-512/256 over 64-byte inputs against building a tree and
//! producing every inclusion proof (streamed through one reused step buffer).
//!
//! Besides criterion's figures it prints the ratios the design asks for and the peak memory
//! (VmHWM) after the 1M-leaf run.

use std::hint::black_box;
use std::time::{Duration, Instant};

use ancora_proof::hash::{Hash, HashAlgorithm};
use ancora_proof::merkle::{MerkleTree, ProofStep, leaf_hash};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sha2::Digest as _;

const A: HashAlgorithm = HashAlgorithm::Sha512_256;

/// The i-th 64-byte input, made on the fly so the inputs never sit in memory.
fn input(i: usize) -> [u8; 64] {
    let mut b = [0x5a; 64];
    b[..8].copy_from_slice(&(i as u64).to_be_bytes());
    b
}

/// Leaf hashing, tree build, then every proof into one reused buffer. Returns a checksum so
/// nothing is optimised away.
fn tree_and_proofs(n: usize, steps: &mut Vec<ProofStep>) -> u64 {
    let tree = MerkleTree::from_leaf_hashes(A, (0..n).map(|i| leaf_hash(A, &input(i))).collect());
    let mut acc = 0u64;
    for i in 0..tree.len() {
        steps.clear();
        tree.proof_steps_into(i, steps);
        acc = acc.wrapping_add(steps.len() as u64);
        if let Some(s) = steps.last() {
            acc ^= u64::from(s.sibling.0[0]);
        }
    }
    acc
}

fn raw_hashes(n: usize) -> Hash {
    let mut acc = Hash::default();
    for i in 0..n {
        let h: [u8; 32] = sha2::Sha512_256::digest(input(i)).into();
        acc.0[0] ^= h[0];
    }
    acc
}

fn vm_hwm_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn time<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let r = f();
    (r, t.elapsed())
}

fn bench(c: &mut Criterion) {
    // The baseline: one SHA-512/256 compression per 64-byte input.
    let mut g = c.benchmark_group("raw_sha512_256_64B");
    g.throughput(Throughput::Elements(100_000));
    g.bench_function("100k", |b| b.iter(|| raw_hashes(black_box(100_000))));
    g.finish();

    let mut g = c.benchmark_group("tree_plus_every_proof");
    g.sample_size(10).warm_up_time(Duration::from_secs(1));
    let mut steps = Vec::with_capacity(64);
    for n in [1_000usize, 100_000, 1_000_000] {
        g.throughput(Throughput::Elements(n as u64));
        if n == 1_000_000 {
            g.measurement_time(Duration::from_secs(20));
        }
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            b.iter(|| tree_and_proofs(black_box(n), &mut steps))
        });
    }
    g.finish();

    // Ratios, measured here with plain timers (best of 3) so they can be printed.
    let best = |f: &mut dyn FnMut() -> Duration| (0..3).map(|_| f()).min().unwrap_or_default();
    let raw = best(&mut || time(|| black_box(raw_hashes(black_box(1_000_000)))).1);
    let raw_rate = 1e6 / raw.as_secs_f64();
    println!("\n== ratios (best of 3) ==");
    println!(
        "raw SHA-512/256 of 64-byte inputs: {:.2} M hashes/s",
        raw_rate / 1e6
    );
    for n in [1_000usize, 100_000, 1_000_000] {
        let d = best(&mut || time(|| black_box(tree_and_proofs(black_box(n), &mut steps))).1);
        let leaf_rate = n as f64 / d.as_secs_f64();
        // A tree of n leaves costs n leaf hashes and n-1 node hashes, each one compression.
        let hash_ops = (2 * n - 1) as f64 / d.as_secs_f64();
        println!(
            "n = {n:>9}: {:.3} s, {:.2} M leaves/s (leaf ratio {:.2}), {:.2} M hash-ops/s (hash-op ratio {:.2})",
            d.as_secs_f64(),
            leaf_rate / 1e6,
            leaf_rate / raw_rate,
            hash_ops / 1e6,
            hash_ops / raw_rate,
        );
    }
    match vm_hwm_kib() {
        Some(k) => println!(
            "peak memory (VmHWM) after the 1M run: {:.1} MB",
            k as f64 / 1024.0
        ),
        None => println!("peak memory: /proc/self/status not readable"),
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
