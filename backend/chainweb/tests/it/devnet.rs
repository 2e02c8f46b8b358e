//! The local development network: the `chainweb-devnet` binary run as a child process
//! (mining by the clock, faults from flags, signals), and `TestNode::start_with` in process.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ancora_chainweb::testkit::{Network, Options, TestNode};
use ancora_chainweb::{ChainId, NodeClient, PactCommand, PactOutcome, SignedCommand, Signer};
use ancora_proof::Hash;
use ancora_proof::chainweb::{BlockHeader, genesis_parent_hash, version};
use ancora_proof::spv::verify_against_header;
use serde_json::{Value, json};

use super::common::{config, key};

/// The binary under test, built by cargo for this package's integration tests (its
/// required feature `testkit` is on through the self dev-dependency).
const BIN: &str = env!("CARGO_BIN_EXE_chainweb-devnet");

const ROOT: &str = "d3v-n3t-r00t-0000000000000000000000000000000";

/// A running `chainweb-devnet`, killed on drop (so a failing test leaves no process).
struct Devnet {
    child: Child,
    base: String,
    stderr: Arc<Mutex<String>>,
}

impl Devnet {
    /// Starts the binary on `127.0.0.1:0` with `--block-time-ms 100` and `extra` flags, and
    /// reads the address from its first stdout line.
    fn start(extra: &[&str]) -> Devnet {
        let mut child = Command::new(BIN)
            .args(["--listen", "127.0.0.1:0", "--block-time-ms", "100"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"));
        let stdout = child.stdout.take().unwrap();
        let mut stderr_pipe = child.stderr.take().unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1024];
            while let Ok(n @ 1..) = stderr_pipe.read(&mut buf) {
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            let mut line = String::new();
            let _ = r.read_line(&mut line);
            let _ = tx.send(line);
            let _ = std::io::copy(&mut r, &mut std::io::sink());
        });
        let mut devnet = Devnet {
            child,
            base: String::new(),
            stderr,
        };
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("chainweb-devnet printed no address line");
        let rest = line
            .strip_prefix("chainweb-devnet listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        let (url, tail) = rest.split_once(' ').unwrap();
        assert_eq!(tail.trim_end(), "network=development chains=0..9");
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        assert!(
            !url.ends_with(":0"),
            "the bound port, not the asked one: {url}"
        );
        devnet.base = url.to_owned();
        devnet
    }

    fn client(&self) -> NodeClient {
        let mut cfg = config(vec![self.base.clone()]);
        cfg.network = "development".to_owned();
        NodeClient::new(cfg).unwrap()
    }

    /// Sends `sig` (`TERM`, `INT`) with kill(1) and waits up to 5 s for the exit.
    fn stop_with(&mut self, sig: &str) -> ExitStatus {
        let sent = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(sent.success(), "kill -{sig} failed");
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "chainweb-devnet still running 5 s after SIG{sig}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            eprintln!("chainweb-devnet stderr:\n{}", self.stderr());
        }
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `(ancora-anchor.record-anchor id root)` for `network`, signed with the test key.
fn anchor(network: &str, chain: u32, id: &str) -> SignedCommand {
    let k = key();
    PactCommand::exec(format!("(ancora-anchor.record-anchor \"{id}\" \"{ROOT}\")"))
        .network(network)
        .chain(ChainId(chain))
        .sender(format!("k:{}", k.public_key_hex()))
        .gas_limit(1_000)
        .ttl(600)
        .creation_time(now_secs())
        .nonce(format!("devnet-{id}"))
        .signer(Signer::of(&k))
        .sign(&[&k])
        .unwrap()
}

async fn get_json(url: &str) -> Value {
    let r = reqwest::get(url).await.unwrap();
    assert_eq!(r.status(), 200, "{url}");
    r.json().await.unwrap()
}

/// `GET …/header/{hash}` in the object encoding, parsed with ancora-proof; its hash is
/// recomputed from the fields and must be the one asked for.
async fn header_by_hash(base: &str, network: &str, chain: u32, hash: &Hash) -> BlockHeader {
    let r = reqwest::Client::new()
        .get(format!(
            "{base}/chainweb/0.0/{network}/chain/{chain}/header/{hash}"
        ))
        .header("accept", "application/json;blockheader-encoding=object")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["chainwebVersion"], network);
    let header = BlockHeader::from_json_value(&v).unwrap();
    assert_eq!(&header.compute_hash(), hash, "recomputed from the fields");
    assert_eq!(header.check_hash().unwrap(), *hash);
    header
}

fn assert_development_info(info: &Value) {
    assert_eq!(info["nodeVersion"], "development");
    assert_eq!(info["nodeApiVersion"], "0.0");
    assert_eq!(info["nodeNumberOfChains"], 10);
    let chains: Vec<String> = (0..10).map(|c| c.to_string()).collect();
    assert_eq!(info["nodeChains"], json!(chains));
    assert_eq!(info["nodeGraphHistory"][0][0], 0);
    assert_eq!(info["nodeGraphHistory"][0][1][0], json!([0, [2, 3, 5]]));
    assert_eq!(info["nodeGenesisHeights"][9], json!(["9", 0]));
}

#[tokio::test]
async fn the_binary_serves_a_development_network_that_mines_by_the_clock_and_proves_it() {
    let mut devnet = Devnet::start(&[]);
    let base = devnet.base.clone();
    let client = devnet.client();

    let info = get_json(&format!("{base}/info")).await;
    assert_development_info(&info);
    assert_eq!(info["nodeBlockDelay"], 100_000, "microseconds");

    // Blocks come by the clock: about ten rounds a second at 100 ms.
    let before = client.cut().await.unwrap();
    assert_eq!(before.instance, "development");
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let after = client.cut().await.unwrap();
    for c in 0..10 {
        assert!(
            after.hashes[&c].height >= before.hashes[&c].height + 3,
            "chain {c}: {} then {}",
            before.hashes[&c].height,
            after.hashes[&c].height
        );
    }

    // The genesis headers are the development version's, made by Chainweb's rule.
    for c in 0..10u32 {
        let g = client.headers(ChainId(c), 0, 0).await.unwrap().remove(0);
        assert_eq!(g.version, version::DEVELOPMENT);
        assert_eq!(g.height, 0);
        assert_eq!(g.parent, genesis_parent_hash(version::DEVELOPMENT, c));
        for (n, h) in &g.adjacents {
            assert_eq!(*h, genesis_parent_hash(version::DEVELOPMENT, *n));
        }
        let hash = g.check_hash().unwrap();
        header_by_hash(&base, "development", c, &hash).await;
    }

    // A development command: accepted, mined by the clock, polled, proven.
    let cmd = anchor("development", 3, "dev-1");
    let keys = client
        .send(ChainId(3), std::slice::from_ref(&cmd))
        .await
        .unwrap();
    assert_eq!(keys, vec![cmd.request_key()]);
    let listened = client.listen(ChainId(3), keys[0]).await.unwrap();
    assert_eq!(listened.result, PactOutcome::Success(ROOT.into()));
    let polled = client.poll(ChainId(3), &keys, None).await.unwrap();
    let result = &polled[&keys[0]];
    assert_eq!(result.events[0]["name"], "ANCHORED");
    let meta = result.meta_data.clone().unwrap();

    let spv = client.spv(ChainId(3), keys[0], ChainId(3)).await.unwrap();
    let root = spv.proof.run();
    assert_eq!(root, meta.block_hash);
    let header = header_by_hash(&base, "development", 3, &root).await;
    assert_eq!(header.version, version::DEVELOPMENT);
    assert_eq!(header.height, meta.block_height);
    let verified = verify_against_header(&spv.proof, 3, &header).unwrap();
    assert_eq!(verified.output.data().unwrap(), ROOT);
    assert_eq!(
        verified.output.req_key(),
        Some(keys[0].to_string().as_str())
    );

    // Across the graph (3 → 6 is two hops, through 1): the proof ends on chain 6 once the
    // clock has mined far enough.
    let deadline = Instant::now() + Duration::from_secs(10);
    let cross = loop {
        match client.spv(ChainId(3), keys[0], ChainId(6)).await {
            Ok(p) => break p,
            Err(e) => {
                assert!(Instant::now() < deadline, "{e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let target = header_by_hash(&base, "development", 6, &cross.proof.run()).await;
    assert_eq!(target.height, meta.block_height + 2);
    let verified = verify_against_header(&cross.proof, 6, &target).unwrap();
    assert_eq!(verified.output.data().unwrap(), ROOT);

    // It is not mainnet01 (nor testnet04): such commands and paths are refused.
    let http = reqwest::Client::new();
    let send = |net: &str| format!("{base}/chainweb/0.0/{net}/chain/0/pact/api/v1/send");
    let r = http
        .post(send("development"))
        .json(&json!({ "cmds": [anchor("mainnet01", 0, "main-1")] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("conflicts with this endpoint"),
        "a node's message"
    );
    for net in ["mainnet01", "testnet04"] {
        let r = http
            .post(send(net))
            .json(&json!({ "cmds": [anchor(net, 0, "other-1")] }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{net}");
        let r = http
            .get(format!("{base}/chainweb/0.0/{net}/cut"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{net}");
    }

    let status = devnet.stop_with("TERM");
    assert_eq!(status.code(), Some(0), "{status}");
    assert!(devnet.stderr().contains("SIGTERM"), "{}", devnet.stderr());
}

#[tokio::test]
async fn gas_error_first_fails_the_first_command_out_of_gas_and_the_second_succeeds() {
    let mut devnet = Devnet::start(&["--gas-error-first", "1"]);
    let client = devnet.client();
    let first = client
        .send(ChainId(0), &[anchor("development", 0, "gas-1")])
        .await
        .unwrap()[0];
    let r1 = client.listen(ChainId(0), first).await.unwrap();
    assert!(!r1.is_success());
    let msg = r1.result.error_message().unwrap();
    assert!(msg.contains("Gas limit"), "{msg}");
    assert_eq!(r1.raw["result"]["error"]["type"], "GasError");

    let second = client
        .send(ChainId(0), &[anchor("development", 0, "gas-2")])
        .await
        .unwrap()[0];
    let r2 = client.listen(ChainId(0), second).await.unwrap();
    assert_eq!(r2.result, PactOutcome::Success(ROOT.into()));

    let status = devnet.stop_with("INT");
    assert_eq!(status.code(), Some(0), "{status}");
}

#[tokio::test]
async fn confirm_delay_blocks_holds_commands_back_that_many_blocks() {
    let mut devnet = Devnet::start(&["--confirm-delay-blocks", "5"]);
    let client = devnet.client();
    let h0 = client.cut().await.unwrap().hashes[&2].height;
    let key = client
        .send(ChainId(2), &[anchor("development", 2, "slow-1")])
        .await
        .unwrap()[0];
    let r = client.listen(ChainId(2), key).await.unwrap();
    assert!(r.is_success());
    let mined = r.meta_data.unwrap().block_height;
    assert!(
        mined > h0 + 5,
        "sent at height {h0} or later, mined at {mined}"
    );
    assert_eq!(devnet.stop_with("TERM").code(), Some(0));
}

#[test]
fn help_documents_every_flag_and_bad_flags_are_refused() {
    let help = Command::new(BIN).arg("--help").output().unwrap();
    assert!(help.status.success());
    let text = String::from_utf8(help.stdout).unwrap();
    for flag in [
        "--listen",
        "--block-time-ms",
        "--gas-error-first",
        "--confirm-delay-blocks",
        "development",
        "never mainnet01 or testnet04",
    ] {
        assert!(text.contains(flag), "{flag} in\n{text}");
    }
    for bad in [
        &["--block-time-ms", "0"][..],
        &["--listen", "not-an-address"],
        &["--network", "mainnet01"],
    ] {
        let out = Command::new(BIN).args(bad).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(out.stdout.is_empty(), "{bad:?}: nothing served");
    }
}

#[tokio::test]
async fn a_port_in_use_is_an_error_not_a_panic() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = Command::new(BIN)
        .args(["--listen", &addr])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[tokio::test]
async fn start_with_serves_a_development_double_in_process_and_start_stays_mainnet01() {
    let node = TestNode::start_with(Options {
        network: Network::Development,
        ..Options::default()
    })
    .await
    .unwrap();
    assert_eq!(node.network(), "development");
    assert_eq!(node.network_kind(), Network::Development);
    assert_eq!(node.base_url(), format!("http://{}", node.local_addr()));
    assert_development_info(&get_json(&format!("{}/info", node.base_url())).await);
    assert_eq!(
        reqwest::get(format!("{}/health-check", node.base_url()))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "Health check OK."
    );
    // No block time: blocks only on demand.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(node.height(), 0);
    node.mine(2);
    let h = node.header(5, 2).unwrap();
    assert_eq!(h.version, version::DEVELOPMENT);
    assert_eq!(h.check_hash().unwrap(), h.compute_hash());
    let g = node.header(5, 0).unwrap();
    assert_eq!(g.parent, genesis_parent_hash(version::DEVELOPMENT, 5));

    let mainnet = TestNode::start().await.unwrap();
    assert_eq!(mainnet.network(), "mainnet01");
    assert_eq!(mainnet.network_kind(), Network::Mainnet01);
    let info = get_json(&format!("{}/info", mainnet.base_url())).await;
    assert_eq!(info["nodeVersion"], "mainnet01");
    assert_eq!(info["nodeNumberOfChains"], 10);
    assert_eq!(
        mainnet.header(0, 0).unwrap().hash.unwrap().to_b64url(),
        "SNAMXHBvZtAbeS19x12bZV2p5d1E4BaxrggceNdUxbw",
        "the real mainnet01 genesis"
    );
    assert_ne!(mainnet.header(0, 0), node.header(0, 0));
}

#[tokio::test]
async fn a_block_time_mines_in_the_background_until_the_node_is_dropped() {
    let node = TestNode::start_with(Options {
        network: Network::Development,
        block_time: Some(Duration::from_millis(20)),
        ..Options::default()
    })
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while node.height() < 3 {
        assert!(Instant::now() < deadline, "height {}", node.height());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let url = node.base_url();
    drop(node);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        reqwest::get(format!("{url}/info")).await.is_err(),
        "the server stops with the node"
    );
}

#[tokio::test]
async fn a_confirmation_delay_holds_commands_back_and_waiting_ones_keep_their_place() {
    let node = TestNode::start().await.unwrap();
    let client = NodeClient::new(config(vec![node.base_url()])).unwrap();
    node.set_confirm_delay_blocks(2);
    let key = client
        .send(ChainId(1), &[anchor("mainnet01", 1, "held-1")])
        .await
        .unwrap()[0];
    node.set_confirm_delay_blocks(0);
    node.mine(2);
    assert!(
        client
            .poll(ChainId(1), &[key], None)
            .await
            .unwrap()
            .is_empty(),
        "held for two more blocks"
    );
    node.mine(1);
    let r = client.poll(ChainId(1), &[key], None).await.unwrap();
    assert_eq!(r[&key].meta_data.as_ref().unwrap().block_height, 3);
}
