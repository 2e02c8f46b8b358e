//! The offline commands of the `ancora` binary: verify a proof bundle, verify a Chainweb SPV
//! proof against a block header, hash a block header. They need no server and no database;
//! everything runs through `ancora-proof`. The network is used only when asked:
//! `ancora verify --chainweb-node URL` fetches the block headers a bundle needs from nodes the
//! auditor chooses (each header's hash recomputed from its fields).
//!
//! Exit codes: 0 when everything holds, 1 when a check fails (the failing step is named on
//! stderr), 2 for usage errors and unreadable input. Errors are one line on stderr.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use ancora_proof::Error as ProofError;
use ancora_proof::bundle::{Bundle, Report, Status, Trust, verify_bundle};
use ancora_proof::chainweb::BlockHeader;
use ancora_proof::spv::{TransactionOutputProof, verify_against_header};
use ancora_proof::tlog::{NoteVerifier, parse_verifier_key};

/// Everything held.
pub const EXIT_OK: i32 = 0;
/// A check failed.
pub const EXIT_FAILED: i32 = 1;
/// Usage error or unreadable input.
pub const EXIT_USAGE: i32 = 2;

/// `ancora verify BUNDLE.json [--log-key KEY] [--chainweb-header HEADER.json]... [--json]`
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The proof bundle (JSON); `-` reads standard input.
    #[arg(value_name = "BUNDLE.json")]
    pub bundle: PathBuf,
    /// The transparency log's verifier key (`<name>+<hash>+<key>`), or a file holding it.
    /// Repeat for several logs.
    #[arg(long = "log-key", value_name = "KEY")]
    pub log_keys: Vec<String>,
    /// A block header you trust (JSON, from a Chainweb node you choose). Repeatable.
    #[arg(long = "chainweb-header", value_name = "HEADER.json")]
    pub chainweb_headers: Vec<PathBuf>,
    /// A Chainweb node you choose (base URL): the block header of the bundle's Chainweb trust
    /// point is fetched from it and trusted only if its fields hash to the block hash.
    /// Repeatable: every node must answer.
    #[arg(long = "chainweb-node", value_name = "URL")]
    pub chainweb_nodes: Vec<String>,
    /// Print the verification report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `ancora spv …`
#[derive(Debug, clap::Subcommand)]
pub enum SpvCommand {
    /// Verify a `/pact/spv` proof against a block header.
    Verify(SpvVerifyArgs),
}

/// `ancora spv verify --proof FILE --header HEADER.json [--chain N] [--json]`
#[derive(Debug, clap::Args)]
pub struct SpvVerifyArgs {
    /// The `/pact/spv` response (the base64url string, bare or as a JSON string).
    #[arg(long, value_name = "FILE")]
    pub proof: PathBuf,
    /// The block header the proof must lead to (JSON).
    #[arg(long, value_name = "HEADER.json")]
    pub header: PathBuf,
    /// The chain the proof must target (default: the header's chain).
    #[arg(long, value_name = "N")]
    pub chain: Option<u32>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `ancora chainweb …`
#[derive(Debug, clap::Subcommand)]
pub enum ChainwebCommand {
    /// Print the block hash computed from a header's fields (base64url).
    HeaderHash(HeaderHashArgs),
    /// Sign a prepared Pact `cmd` string; prints the signed Command as one line of JSON.
    Sign(SignArgs),
}

/// `ancora chainweb sign CMD_FILE --key-file KEY`
#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// The exact `cmd` string (JSON text; its bytes are hashed as they are).
    #[arg(value_name = "CMD_FILE")]
    pub cmd: PathBuf,
    /// The Ed25519 secret key, 64 hex characters, in a file.
    #[arg(long = "key-file", value_name = "KEY")]
    pub key_file: PathBuf,
}

/// `ancora chainweb header-hash HEADER.json [--check]`
#[derive(Debug, clap::Args)]
pub struct HeaderHashArgs {
    /// The block header (JSON object or JSON string of the binary encoding); `-` reads stdin.
    #[arg(value_name = "HEADER.json")]
    pub header: PathBuf,
    /// Exit 1 when the header's own `hash` differs from the computed one.
    #[arg(long)]
    pub check: bool,
}

/// Prints one error line and returns `code`.
fn fail(code: i32, msg: impl std::fmt::Display) -> i32 {
    let line = msg.to_string().replace('\n', " ");
    eprintln!("error: {line}");
    code
}

fn read_text(path: &Path) -> Result<String, String> {
    if path == Path::new("-") {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
        return Ok(s);
    }
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// A key given as text, or as a file holding the text.
fn load_key(arg: &str) -> Result<NoteVerifier, String> {
    let as_text = parse_verifier_key(arg);
    if let Ok(k) = as_text {
        return Ok(k);
    }
    let path = Path::new(arg);
    if path.is_file() {
        let text = read_text(path)?;
        return parse_verifier_key(&text).map_err(|e| format!("--log-key {}: {e}", path.display()));
    }
    Err(format!(
        "--log-key {arg:?} is neither a verifier key (<name>+<hash>+<key>) nor a readable file"
    ))
}

fn load_header(path: &Path) -> Result<BlockHeader, String> {
    let text = read_text(path)?;
    let header = BlockHeader::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    header
        .verified_hash()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(header)
}

/// `ancora verify`: 0 when every step holds, 1 when one fails, 2 for bad input.
pub fn run_verify(args: VerifyArgs) -> i32 {
    let text = match read_text(&args.bundle) {
        Ok(t) => t,
        Err(e) => return fail(EXIT_USAGE, e),
    };
    let bundle = match Bundle::from_json(text.as_bytes()) {
        Ok(b) => b,
        Err(e) => return fail(EXIT_USAGE, format!("{}: {e}", args.bundle.display())),
    };
    let mut trust = Trust::default();
    for k in &args.log_keys {
        match load_key(k) {
            Ok(v) => trust.log_keys.push(v),
            Err(e) => return fail(EXIT_USAGE, e),
        }
    }
    for h in &args.chainweb_headers {
        match load_header(h) {
            Ok(v) => trust.chainweb_headers.push(v),
            Err(e) => return fail(EXIT_USAGE, e),
        }
    }
    if !args.chainweb_nodes.is_empty() {
        match fetch_headers(&bundle, &args.chainweb_nodes) {
            Ok(headers) => trust.chainweb_headers.extend(headers),
            Err((code, e)) => return fail(code, e),
        }
    }
    let report = verify_bundle(&bundle, &trust);
    if args.json {
        println!("{}", report.to_json_pretty());
    } else {
        print_report(&report);
    }
    if report.is_verified() {
        return EXIT_OK;
    }
    match report.failures().next() {
        None => fail(
            EXIT_FAILED,
            "no trust point could be checked: pass --log-key, --chainweb-header or --chainweb-node",
        ),
        Some(step) => fail(
            EXIT_FAILED,
            format!(
                "step \"{}\" {}: {}",
                step.step,
                status_word(step.status),
                step.detail
            ),
        ),
    }
}

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Ok => "ok",
        Status::Failed => "failed",
        Status::Skipped => "skipped",
        Status::Unchecked => "unchecked",
    }
}

/// The block header of `bundle`'s Chainweb trust point, from every node in `nodes`. Errors:
/// `(2, …)` when a node cannot be reached or answers garbage, `(1, …)` when it answers a header
/// that does not hash to the bundle's block.
fn fetch_headers(bundle: &Bundle, nodes: &[String]) -> Result<Vec<BlockHeader>, (i32, String)> {
    let Some(cw) = bundle.chainweb() else {
        return Err((
            EXIT_USAGE,
            "--chainweb-node: the bundle has no Chainweb trust point".to_owned(),
        ));
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| (EXIT_USAGE, format!("cannot start the network runtime: {e}")))?;
    let chain = ancora_chainweb::ChainId(cw.chain_id);
    let mut headers = Vec::with_capacity(nodes.len());
    for node in nodes {
        let mut cfg =
            ancora_chainweb::NodeClientConfig::new(vec![node.clone()], cw.network.clone());
        cfg.request_timeout = std::time::Duration::from_secs(10);
        cfg.attempts_per_node = 2;
        let client = ancora_chainweb::NodeClient::new(cfg)
            .map_err(|e| (EXIT_USAGE, format!("--chainweb-node {node}: {e}")))?;
        let got = runtime.block_on(client.header(chain, &cw.block_hash));
        match got {
            Ok(h) => headers.push(h),
            Err(ancora_chainweb::Error::Proof(e)) => {
                return Err((
                    EXIT_FAILED,
                    format!("--chainweb-node {node}: its block header does not check: {e}"),
                ));
            }
            Err(e) => {
                return Err((
                    EXIT_USAGE,
                    format!("--chainweb-node {node}: cannot fetch the block header: {e}"),
                ));
            }
        }
    }
    Ok(headers)
}

fn print_report(r: &Report) {
    let b = &r.bundle;
    println!(
        "bundle v{}: event {} of tenant {}",
        b.bundle_version, b.event_id, b.tenant_id
    );
    println!("  digest      {}", b.digest);
    println!("  leaf hash   {}", b.leaf_hash);
    println!("  anchor root {}", b.anchor_root);
    for s in &r.steps {
        let mark = match s.status {
            Status::Ok => "ok     ",
            Status::Failed => "FAILED ",
            Status::Skipped => "skipped",
            Status::Unchecked => "unchecked",
        };
        println!("  [{mark}] {}: {}", s.step, s.detail);
        if s.status != Status::Ok
            && let (Some(c), Some(e)) = (&s.computed, &s.expected)
        {
            println!("            computed {c}");
            println!("            expected {e}");
        }
    }
    if r.is_verified() {
        println!("verdict: VERIFIED — every step holds");
    } else {
        let n = r.failures().count();
        println!(
            "verdict: FAILED — {n} of {} steps do not hold",
            r.steps.len()
        );
    }
}

/// True for errors that mean "this input cannot be read", as opposed to "it does not check".
fn is_unreadable(e: &ProofError) -> bool {
    matches!(
        e,
        ProofError::BadJson(_)
            | ProofError::BadEncoding(_)
            | ProofError::BadLength { .. }
            | ProofError::Truncated
            | ProofError::BadSide(_)
            | ProofError::UnknownAlgorithm(_)
    )
}

/// `ancora spv verify`: 0 when the proof leads to the header, 1 when it does not, 2 for bad
/// input. Prints the proven transaction output on success.
pub fn run_spv_verify(args: SpvVerifyArgs) -> i32 {
    let (proof_text, header_text) = match (read_text(&args.proof), read_text(&args.header)) {
        (Ok(p), Ok(h)) => (p, h),
        (Err(e), _) | (_, Err(e)) => return fail(EXIT_USAGE, e),
    };
    let proof = match TransactionOutputProof::decode_response(&proof_text) {
        Ok(p) => p,
        Err(e) => return fail(EXIT_USAGE, format!("{}: {e}", args.proof.display())),
    };
    let header = match BlockHeader::from_json(&header_text) {
        Ok(h) => h,
        Err(e) => return fail(EXIT_USAGE, format!("{}: {e}", args.header.display())),
    };
    let chain = args.chain.unwrap_or(header.chain_id);
    let verified = match verify_against_header(&proof, chain, &header) {
        Ok(v) => v,
        Err(e) if is_unreadable(&e) => return fail(EXIT_USAGE, e),
        Err(e) => {
            if args.json {
                let out = serde_json::json!({ "verified": false, "error": e.to_string() });
                println!("{out:#}");
            }
            return fail(EXIT_FAILED, format!("the SPV proof does not verify: {e}"));
        }
    };
    if args.json {
        let out = serde_json::json!({
            "verified": true,
            "chain": verified.chain,
            "block_height": verified.header_height,
            "block_hash": verified.header_hash.to_b64url(),
            "subject": verified.subject_json(),
        });
        println!("{out:#}");
    } else {
        println!(
            "verified: the proof leads to block {} at height {} on chain {}",
            verified.header_hash, verified.header_height, verified.chain
        );
        println!("subject (transaction output):");
        println!("{:#}", verified.subject_json());
    }
    EXIT_OK
}

/// `ancora chainweb header-hash`: prints the hash computed from the fields; with `--check`,
/// exits 1 when the header's own `hash` differs.
pub fn run_header_hash(args: HeaderHashArgs) -> i32 {
    let text = match read_text(&args.header) {
        Ok(t) => t,
        Err(e) => return fail(EXIT_USAGE, e),
    };
    let header = match BlockHeader::from_json(&text) {
        Ok(h) => h,
        Err(e) => return fail(EXIT_USAGE, format!("{}: {e}", args.header.display())),
    };
    let computed = header.compute_hash();
    println!("{computed}");
    if !args.check {
        return EXIT_OK;
    }
    match header.hash {
        None => fail(
            EXIT_USAGE,
            "--check: the header carries no \"hash\" to compare",
        ),
        Some(claimed) if claimed != computed => fail(
            EXIT_FAILED,
            format!("the header claims hash {claimed} but its fields hash to {computed}"),
        ),
        Some(_) => EXIT_OK,
    }
}

/// `ancora chainweb sign`: the signed Command `{"hash","sigs","cmd"}` on one line of stdout;
/// exit 2 with one line on stderr for an unreadable file, a command that is not a JSON
/// object or a key that is not 64 hex characters (the key is never echoed).
pub fn run_sign(args: SignArgs) -> i32 {
    match ancora_chainweb::cli::sign_file_command(&args.cmd, &args.key_file) {
        Ok(line) => {
            println!("{line}");
            EXIT_OK
        }
        Err(e) => fail(EXIT_USAGE, e),
    }
}
