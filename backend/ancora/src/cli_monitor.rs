//! `ancora monitor`: the log monitor for outsiders. It fetches the service's latest signed
//! checkpoint (`GET /v1/log/checkpoint`), checks its signature with the log's key, and proves
//! it extends the last checkpoint it saw (`GET /v1/log/consistency`, checked with
//! `ancora_proof::tlog`, the same code `ancora verify` uses). The last checkpoint seen, and the
//! key, are kept in the state file, so a log that rewrites its history or shows another view
//! is caught on the next run.
//!
//! Exit codes: 0 the checkpoint is signed and consistent (one `ok:` line on stdout); 1 a fork
//! or a bad signature (one line on stderr; the state file is left as it was); 2 the service is
//! unreachable or answers nonsense, or the arguments or state file are unusable.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ancora_proof::Hash;
use ancora_proof::tlog::{Checkpoint, NoteVerifier, open_checkpoint, parse_verifier_key};
use serde::{Deserialize, Serialize};

use crate::cli_offline::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};

/// `ancora monitor --url URL [--log-key KEY] [--state FILE]`
#[derive(Debug, clap::Args)]
pub struct MonitorArgs {
    /// The service's base URL (its public log API lives under `/v1/log/`).
    #[arg(long, value_name = "URL")]
    pub url: String,
    /// The log's verifier key (`<name>+<hash>+<key>`), or a file holding it. Without it the
    /// key kept in the state file is used, or on a first run the one the service publishes
    /// (`/v1/log/key`, trusted on first use and kept).
    #[arg(long = "log-key", value_name = "KEY")]
    pub log_key: Option<String>,
    /// Where the last checkpoint seen (and the key) are kept between runs. Without it only the
    /// signature is checked.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Timeout of each request, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    pub timeout_ms: u64,
}

/// What the state file holds: the key and the last checkpoint seen, as signed.
#[derive(Debug, Serialize, Deserialize)]
struct State {
    log_key: String,
    checkpoint: String,
}

/// A failed run: its exit code and its one line.
struct Failure(i32, String);

fn usage(msg: String) -> Failure {
    Failure(EXIT_USAGE, msg)
}

fn failed(msg: String) -> Failure {
    Failure(EXIT_FAILED, msg)
}

/// Runs `ancora monitor`; returns the exit code.
pub fn run(args: MonitorArgs) -> i32 {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return EXIT_USAGE;
        }
    };
    match runtime.block_on(monitor(&args)) {
        Ok(line) => {
            println!("{line}");
            EXIT_OK
        }
        Err(Failure(code, line)) => {
            eprintln!("{line}");
            code
        }
    }
}

async fn monitor(args: &MonitorArgs) -> Result<String, Failure> {
    let base = args.url.trim_end_matches('/').to_owned();
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        return Err(usage(format!(
            "error: --url {:?} is not an http:// or https:// URL",
            args.url
        )));
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(args.timeout_ms.max(1)))
        .build()
        .map_err(|e| usage(format!("error: cannot build an HTTP client: {e}")))?;
    let state = match &args.state {
        Some(path) => load_state(path)?,
        None => None,
    };
    let key = choose_key(&client, &base, args.log_key.as_deref(), state.as_ref()).await?;
    let previous = match &state {
        Some(s) => Some(open_checkpoint(&s.checkpoint, &key).map_err(|e| {
            usage(format!(
                "error: the state file's checkpoint does not verify with the log key: {e}"
            ))
        })?),
        None => None,
    };
    let note = get_text(&client, &format!("{base}/v1/log/checkpoint")).await?;
    let latest = open_checkpoint(&note, &key).map_err(|e| {
        failed(format!(
            "bad signature: the checkpoint {base} serves does not verify with the log key: {e}"
        ))
    })?;
    let line = match &previous {
        Some(prev) => {
            check_consistent(&client, &base, prev, &latest).await?;
            format!(
                "ok: {} size {} is consistent with size {} seen before",
                latest.origin, latest.size, prev.size
            )
        }
        None => format!(
            "ok: {} size {} is signed by the log key",
            latest.origin, latest.size
        ),
    };
    if let Some(path) = &args.state {
        let state = State {
            log_key: key.to_key_text(),
            checkpoint: note,
        };
        save_state(path, &state)?;
    }
    Ok(line)
}

/// The key: `--log-key`, else the state file's, else the service's own (first use).
async fn choose_key(
    client: &reqwest::Client,
    base: &str,
    arg: Option<&str>,
    state: Option<&State>,
) -> Result<NoteVerifier, Failure> {
    let kept = match state {
        Some(s) => Some(parse_verifier_key(&s.log_key).map_err(|e| {
            usage(format!(
                "error: the state file's log key does not parse: {e}"
            ))
        })?),
        None => None,
    };
    match (arg, kept) {
        (Some(arg), kept) => {
            let key = load_key(arg)?;
            if let Some(kept) = kept
                && kept.to_key_text() != key.to_key_text()
            {
                return Err(failed(format!(
                    "bad signature: --log-key is not the key the state file was made with ({})",
                    kept.to_key_text()
                )));
            }
            Ok(key)
        }
        (None, Some(kept)) => Ok(kept),
        (None, None) => {
            let text = get_text(client, &format!("{base}/v1/log/key")).await?;
            parse_verifier_key(text.trim()).map_err(|e| {
                usage(format!(
                    "error: {base}/v1/log/key is not a verifier key: {e}"
                ))
            })
        }
    }
}

/// A key given as text, or as a file holding it.
fn load_key(arg: &str) -> Result<NoteVerifier, Failure> {
    if let Ok(k) = parse_verifier_key(arg.trim()) {
        return Ok(k);
    }
    let path = Path::new(arg);
    let text = std::fs::read_to_string(path).map_err(|_| {
        usage(format!(
            "error: --log-key {arg:?} is neither a verifier key (<name>+<hash>+<key>) nor a readable file"
        ))
    })?;
    parse_verifier_key(text.trim())
        .map_err(|e| usage(format!("error: --log-key {}: {e}", path.display())))
}

/// The consistency proof from `prev` to `latest`, fetched and checked.
async fn check_consistent(
    client: &reqwest::Client,
    base: &str,
    prev: &Checkpoint,
    latest: &Checkpoint,
) -> Result<(), Failure> {
    let fork = |why: String| {
        failed(format!(
            "fork: {} size {} (root {}) does not extend size {} (root {}) seen before: {why}",
            latest.origin,
            latest.size,
            latest.root.to_b64url(),
            prev.size,
            prev.root.to_b64url()
        ))
    };
    if latest.size < prev.size {
        return Err(fork("the log shrank".into()));
    }
    let proof: Vec<Hash> = if latest.size == prev.size {
        Vec::new()
    } else {
        let url = format!(
            "{base}/v1/log/consistency?from={}&to={}",
            prev.size, latest.size
        );
        let resp = send(client, &url).await?;
        let status = resp.status();
        let body = resp
            .text()
            .await
            .map_err(|e| usage(format!("error: cannot read {url}: {e}")))?;
        if !status.is_success() {
            return Err(fork(format!(
                "the service cannot prove it ({url} answered {status})"
            )));
        }
        #[derive(Deserialize)]
        struct Proof {
            proof: Vec<String>,
        }
        let parsed: Proof = serde_json::from_str(&body)
            .map_err(|e| usage(format!("error: {url} is not a consistency proof: {e}")))?;
        parsed
            .proof
            .iter()
            .map(|h| Hash::from_b64url(h))
            .collect::<Result<_, _>>()
            .map_err(|e| usage(format!("error: {url} holds a malformed hash: {e}")))?
    };
    ancora_proof::tlog::verify_consistency(prev.size, latest.size, &prev.root, &latest.root, &proof)
        .map_err(|e| fork(e.to_string()))
}

async fn send(client: &reqwest::Client, url: &str) -> Result<reqwest::Response, Failure> {
    client
        .get(url)
        .send()
        .await
        .map_err(|e| usage(format!("unreachable: {url}: {e}")))
}

/// A `200` text answer, or exit 2.
async fn get_text(client: &reqwest::Client, url: &str) -> Result<String, Failure> {
    let resp = send(client, url).await?;
    let status = resp.status();
    if !status.is_success() {
        return Err(usage(format!("error: {url} answered {status}")));
    }
    resp.text()
        .await
        .map_err(|e| usage(format!("unreachable: {url}: {e}")))
}

fn load_state(path: &Path) -> Result<Option<State>, Failure> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(usage(format!("error: cannot read {}: {e}", path.display()))),
    };
    serde_json::from_str(&text).map(Some).map_err(|e| {
        usage(format!(
            "error: {} is not a monitor state file: {e}",
            path.display()
        ))
    })
}

/// Writes the state next to its final name, then renames, so a crash never leaves half a file.
fn save_state(path: &Path, state: &State) -> Result<(), Failure> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let text = serde_json::to_string_pretty(state)
        .map_err(|e| usage(format!("error: cannot encode the state: {e}")))?;
    std::fs::write(&tmp, text + "\n")
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| usage(format!("error: cannot write {}: {e}", path.display())))
}
