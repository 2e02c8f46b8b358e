//! Differential test against Kadena's own JS: random commands and key pairs, hashed and
//! signed in Rust and by `@kadena/cryptography-utils` (`hash`, `sign`, `signHash`), must
//! agree byte for byte.
//!
//! Needs `node` and `npm ci --prefix backend/chainweb/tests/js`; without them the test
//! fails (it never skips), saying what to run.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use ancora_chainweb::{Cap, ChainId, PactCommand, SecretKey, SignedCommand, Signer};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

const CASES: usize = 300;

fn js_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/js")
}

/// A string mixing ASCII, JSON escapes, Pact syntax and non-ASCII text.
fn text(rng: &mut StdRng, max: usize) -> String {
    const PIECES: &[&str] = &[
        "a",
        "Z",
        "0",
        " ",
        "\"",
        "\\",
        "\n",
        "\t",
        "(",
        ")",
        "'",
        "{",
        "}",
        ":",
        "é",
        "Ω",
        "日本",
        "𝄞",
        "\u{2028}",
        "\u{0}",
        "\u{7f}",
        "coin.transfer",
        "k:",
        "🙂",
        "</script>",
    ];
    let n = rng.gen_range(0..=max);
    (0..n)
        .map(|_| PIECES[rng.gen_range(0..PIECES.len())])
        .collect()
}

fn random_value(rng: &mut StdRng, depth: u32) -> Value {
    match rng.gen_range(0..if depth == 0 { 4 } else { 6 }) {
        0 => Value::Null,
        1 => json!(rng.r#gen::<bool>()),
        2 => json!(rng.gen_range(-1_000_000i64..1_000_000)),
        3 => json!(text(rng, 12)),
        4 => Value::Array(
            (0..rng.gen_range(0..4))
                .map(|_| random_value(rng, depth - 1))
                .collect(),
        ),
        _ => Value::Object(
            (0..rng.gen_range(0..4))
                .map(|_| (text(rng, 6), random_value(rng, depth - 1)))
                .collect(),
        ),
    }
}

fn random_case(rng: &mut StdRng) -> (String, [u8; 32]) {
    let seed: [u8; 32] = rng.r#gen();
    let key = SecretKey::from_bytes(&seed);
    // Half built with the builder, half arbitrary text: the hash is over any exact string.
    let cmd = if rng.gen_bool(0.8) {
        let mut signer = Signer::of(&key);
        if rng.gen_bool(0.5) {
            signer = signer.with_cap(Cap::new("coin.GAS", vec![]));
        }
        if rng.gen_bool(0.3) {
            signer = signer.with_scheme("ED25519");
        }
        let mut c = PactCommand::exec(text(rng, 40))
            .data(random_value(rng, 3))
            .chain(ChainId(rng.gen_range(0..20)))
            .sender(text(rng, 10))
            .gas_limit(rng.gen_range(0..200_000))
            .gas_price(rng.gen_range(0..1000) as f64 * 1e-9)
            .ttl(rng.gen_range(0..100_000))
            .creation_time(rng.gen_range(0..2_000_000_000))
            .nonce(text(rng, 10))
            .signer(signer);
        if rng.gen_bool(0.7) {
            c = c.network(["mainnet01", "testnet04", "development"][rng.gen_range(0..3)]);
        }
        c.cmd_string().unwrap()
    } else {
        text(rng, 200)
    };
    (cmd, seed)
}

#[test]
fn rust_and_kadena_js_agree_on_the_hash_and_signature_of_random_commands() {
    let dir = js_dir();
    assert!(
        dir.join("node_modules/@kadena/cryptography-utils/package.json")
            .is_file(),
        "the JS oracle is not installed: run `npm ci --prefix backend/chainweb/tests/js` (from the repository root)"
    );
    let mut rng = StdRng::seed_from_u64(0x00A7_C02A);
    let cases: Vec<(String, [u8; 32])> = (0..CASES).map(|_| random_case(&mut rng)).collect();
    let input: Vec<Value> = cases
        .iter()
        .map(|(cmd, seed)| {
            let key = SecretKey::from_bytes(seed);
            json!({ "cmd": cmd, "secretKey": hex::encode(seed), "publicKey": key.public_key_hex() })
        })
        .collect();

    let mut child = Command::new("node")
        .arg(dir.join("hash_sign.mjs"))
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run `node` ({e}): install Node.js, then `npm ci --prefix backend/chainweb/tests/js`"));
    let body = serde_json::to_vec(&input).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&body));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let js: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(js.len(), CASES);

    for (i, ((cmd, seed), theirs)) in cases.iter().zip(&js).enumerate() {
        let key = SecretKey::from_bytes(seed);
        let ours = SignedCommand::sign(cmd.clone(), &[&key]);
        let ctx = format!("case {i}: cmd {cmd:?}");
        assert_eq!(theirs["hash"], ours.hash, "hash, {ctx}");
        assert_eq!(theirs["hashFromSign"], ours.hash, "sign().hash, {ctx}");
        assert_eq!(theirs["sig"], ours.sigs[0].sig, "sign().sig, {ctx}");
        assert_eq!(
            theirs["sigFromSignHash"], ours.sigs[0].sig,
            "signHash().sig, {ctx}"
        );
    }
}
