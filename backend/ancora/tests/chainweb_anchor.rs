//! The `chainweb` anchor backend against the Chainweb node double: events → batch → anchor
//! written on a chain (direct and contract paths) → confirmation depth reached by mining →
//! SPV proof verified → bundles ending at the block hash, checked with `verify_bundle` and the
//! trusted header. Then every failure: 5xx with fail-over, timeouts, a reorg before the
//! depth, an expired TTL, a gas error, garbage answers. And `ancora chainweb sign` through
//! the real binary.

use std::process::Command;
use std::time::Duration;

use ancora::app::AppState;
use ancora::config::{AnchorBackendKind, ChainwebConfig, WritePath};
use ancora::db::chainweb::ChainwebRow;
use ancora::domain::{Role, TenantId};
use ancora::http::auth::Auth;
use ancora::services::anchoring::chainweb::Details;
use ancora::workers::{self, Ran};
use ancora_chainweb::testkit::TestNode;
use ancora_chainweb::{ChainId, NodeClient, NodeClientConfig, RequestKey};
use ancora_proof::bundle::{Trust, verify_bundle};
use secrecy::SecretString;
use sha2::Digest as _;
use sqlx::PgPool;

use super::workers::{bundle_of, events, state_with, submit, tenant};

const CHAIN: u32 = 3;
const KEY_HEX: &str = "0707070707070707070707070707070707070707070707070707070707070707";

/// Chainweb settings for tests: the given nodes, chains 0–9 (the double's), fast retries, a
/// poll interval long enough that a waiting job is never due by itself.
pub(crate) fn chainweb(nodes: Vec<String>, write_path: WritePath) -> ChainwebConfig {
    let mut cw = ChainwebConfig::unconfigured();
    cw.nodes = nodes;
    cw.network = "mainnet01".into();
    cw.chains = (0..10).collect();
    cw.key = Some(SecretString::from(KEY_HEX));
    cw.write_path = write_path;
    cw.poll_interval = Duration::from_secs(3600);
    cw.request_timeout = Duration::from_millis(1_500);
    cw.attempts_per_node = 2;
    cw.backoff = Duration::from_millis(10);
    cw
}

fn state(pool: PgPool, nodes: Vec<String>, write_path: WritePath) -> AppState {
    state_with(pool, |c| {
        c.settings.batching.window = Duration::ZERO;
        c.settings.batching.anchor_interval = Duration::ZERO;
        c.settings.batching.chain_count = 10;
        c.settings.anchor_backend = AnchorBackendKind::Chainweb;
        c.settings.chainweb = chainweb(nodes, write_path);
    })
}

/// Makes the chainweb jobs due and runs every due job; the first failure is returned.
pub(crate) async fn drive(state: &AppState) -> anyhow::Result<usize> {
    sqlx::query!("UPDATE jobs SET run_at = now() WHERE kind = 'chainweb_anchor'")
        .execute(state.db.pool())
        .await?;
    workers::run_pending_jobs(state).await
}

/// The one chainweb anchor there is.
/// An app on the `chainweb` backend against a fresh node double, with one event `id` proved
/// on the log and its Chainweb transaction sent (mine 7 blocks and drive to make it final).
pub(crate) async fn chainweb_event_proved_on_the_log(
    pool: PgPool,
    id: &str,
) -> (TestNode, crate::helpers::TestApp, TenantId, String) {
    let node = TestNode::start().await.expect("node");
    let app = crate::helpers::TestApp::with_config(pool, |c| {
        c.settings.batching.window = Duration::ZERO;
        c.settings.batching.anchor_interval = Duration::ZERO;
        c.settings.batching.chain_count = 10;
        c.settings.anchor_backend = AnchorBackendKind::Chainweb;
        c.settings.chainweb = chainweb(vec![node.base_url()], WritePath::Direct);
    });
    let (tenant, key) = app.tenant_with_key(Role::Submitter).await;
    let digest = format!(
        "sha256:{}",
        hex::encode(sha2::Sha256::digest(id.as_bytes()))
    );
    app.post_events(&key, serde_json::json!([{ "id": id, "digest": digest }]))
        .await;
    drive(&app.state).await.expect("fast proof, send");
    (node, app, tenant, key)
}

async fn anchor(state: &AppState) -> (ChainwebRow, Details) {
    let id = sqlx::query_scalar!("SELECT id FROM anchors WHERE backend = 'chainweb'")
        .fetch_one(state.db.pool())
        .await
        .expect("one chainweb anchor");
    let mut tx = state.db.system_tx().await.expect("tx");
    let row = ancora::db::chainweb::get(&mut tx, id)
        .await
        .expect("read")
        .expect("exists");
    tx.commit().await.expect("commit");
    let details = Details::from_json(&row.details).expect("details");
    (row, details)
}

async fn setup(pool: PgPool, node: &TestNode, write_path: WritePath) -> (AppState, Auth) {
    let state = state(pool, vec![node.base_url()], write_path);
    let auth = tenant(&state, Some(CHAIN as i32)).await;
    submit(&state, &auth, events("cw", 5)).await;
    (state, auth)
}

fn client(node: &TestNode) -> NodeClient {
    let mut cfg = NodeClientConfig::new(vec![node.base_url()], "mainnet01");
    cfg.backoff = Duration::from_millis(10);
    NodeClient::new(cfg).expect("client")
}

/// Asserts every event's bundle ends at the anchor's block and verifies given that block's
/// header as the trusted one (and fails without it).
async fn assert_bundles_end_at_the_block(state: &AppState, auth: &Auth, node: &TestNode) {
    let (row, details) = anchor(state).await;
    assert_eq!(row.state, "final");
    let height = u64::try_from(row.block_height.expect("height")).expect("positive");
    let header = node
        .header(details.chain, height)
        .expect("canonical header");
    assert_eq!(
        header.hash.map(|h| h.to_b64url()),
        row.block_hash,
        "the anchor's block is the canonical one at its height"
    );
    let trusted = Trust {
        chainweb_headers: vec![header.clone()],
        ..Trust::default()
    };
    for i in 0..5 {
        let bundle = bundle_of(state, auth, &format!("cw-{i}"))
            .await
            .expect("proved");
        let Some(tp) = bundle.chainweb() else {
            panic!("a chainweb trust point");
        };
        assert!(
            bundle.tlog().is_some(),
            "the fast path's log trust point stays"
        );
        assert_eq!(Some(tp.block_hash.to_b64url()), row.block_hash);
        assert_eq!(tp.chain_id, CHAIN);
        assert_eq!(tp.request_key, row.tx_ref);
        let report = verify_bundle(&bundle, &trusted);
        assert!(
            report.is_verified(),
            "{:?}",
            report.failures().collect::<Vec<_>>()
        );
        assert!(!verify_bundle(&bundle, &Trust::default()).is_verified());
    }
}

async fn happy_path(pool: PgPool, write_path: WritePath) -> (AppState, Auth, TestNode) {
    let node = TestNode::start().await.expect("node");
    let (state, auth) = setup(pool, &node, write_path).await;

    drive(&state).await.expect("batch, anchor, build and send");
    let (row, details) = anchor(&state).await;
    assert_eq!(row.state, "submitted");
    assert!(details.sent);
    let command = details
        .command
        .clone()
        .expect("the signed command is stored");
    assert_eq!(row.tx_ref, Some(command.request_key().to_string()));

    node.mine(3);
    drive(&state).await.expect("poll");
    let (row, details) = anchor(&state).await;
    assert_eq!(row.state, "submitted", "3 blocks are not the depth of 6");
    assert_eq!(details.seen.map(|s| s.block_height), Some(1));
    // The fast path: a proof on Ancora's log already, the Chainweb one still to come.
    let fast = bundle_of(&state, &auth, "cw-0")
        .await
        .expect("a fast proof before Chainweb finality");
    assert!(fast.tlog().is_some() && fast.chainweb().is_none());

    node.mine(4);
    drive(&state).await.expect("confirm, prove, bundles");
    assert_bundles_end_at_the_block(&state, &auth, &node).await;
    (state, auth, node)
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_direct_anchor_is_confirmed_proven_and_every_bundle_ends_at_its_block(pool: PgPool) {
    let (state, _, _) = happy_path(pool, WritePath::Direct).await;
    let (row, details) = anchor(&state).await;
    let result = details.result.expect("the confirmed result is kept");
    assert_eq!(
        result["result"]["data"].as_str(),
        Some(
            ancora_proof::Hash::from_slice(&row.root)
                .expect("root")
                .to_b64url()
                .as_str()
        ),
        "the direct write's result is the anchor root"
    );
    assert_eq!(details.submissions.len(), 1, "written once");
    assert_eq!(state.metrics.anchors_final.get(), 1);
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_contract_anchor_records_the_anchor_id_and_its_bundles_verify(pool: PgPool) {
    let (state, _, _) = happy_path(pool, WritePath::Contract).await;
    let (row, details) = anchor(&state).await;
    let result = details.result.expect("result");
    assert_eq!(result["events"][0]["name"], "ANCHORED");
    assert_eq!(result["events"][0]["params"][0], row.id.to_string());
}

#[sqlx::test(migrations = "../../migrations")]
async fn server_errors_fail_over_to_the_next_node_and_a_run_that_fails_everywhere_is_retried(
    pool: PgPool,
) {
    let node = TestNode::start().await.expect("node");
    let dead = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        format!("http://{}", l.local_addr().expect("addr"))
    };
    let state = state(pool, vec![dead, node.base_url()], WritePath::Direct);
    let auth = tenant(&state, Some(CHAIN as i32)).await;
    submit(&state, &auth, events("cw", 5)).await;

    // The dead node fails both tries, then the live one answers 503 once and then the send.
    node.fail_next(1, 503);
    drive(&state).await.expect("fail-over sends it");
    assert!(anchor(&state).await.1.sent);

    // Every try on every node fails: the run fails, the job keeps the error and backs off.
    node.mine(7);
    node.fail_next(2, 503);
    let err = drive(&state).await.expect_err("every node failed");
    assert!(format!("{err:#}").contains("503"), "{err:#}");
    let last_error =
        sqlx::query_scalar!("SELECT last_error FROM jobs WHERE kind = 'chainweb_anchor'")
            .fetch_one(state.db.pool())
            .await
            .expect("job kept");
    assert!(last_error.unwrap_or_default().contains("HTTP 503"));
    assert_eq!(anchor(&state).await.0.state, "submitted");

    drive(&state).await.expect("the retry succeeds");
    assert_bundles_end_at_the_block(&state, &auth, &node).await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_node_that_times_out_is_retried_and_the_anchor_completes(pool: PgPool) {
    let node = TestNode::start().await.expect("node");
    let (state, auth) = setup(pool, &node, WritePath::Direct).await;
    node.delay_next(1, Duration::from_secs(3));
    drive(&state).await.expect("the second try sends it");
    assert!(anchor(&state).await.1.sent);

    node.mine(7);
    node.delay_next(2, Duration::from_secs(3));
    let err = drive(&state).await.expect_err("both tries time out");
    assert!(format!("{err:#}").contains("did not answer"), "{err:#}");
    drive(&state).await.expect("then it goes through");
    assert_bundles_end_at_the_block(&state, &auth, &node).await;
}

async fn reorg_before_depth(pool: PgPool, write_path: WritePath) {
    let node = TestNode::start().await.expect("node");
    let (state, auth) = setup(pool, &node, write_path).await;
    drive(&state).await.expect("sent");
    node.mine(2);
    drive(&state).await.expect("seen at depth 2");
    let (first, details) = anchor(&state).await;
    assert!(details.seen.is_some());

    node.reorg(CHAIN, 2);
    drive(&state).await.expect("resubmitted");
    let (second, details) = anchor(&state).await;
    assert_eq!(details.submissions.len(), 2);
    assert_eq!(details.attempt, 1);
    assert_ne!(
        second.tx_ref, first.tx_ref,
        "a fresh command, a new request key"
    );

    node.mine(7);
    drive(&state).await.expect("final");
    assert_bundles_end_at_the_block(&state, &auth, &node).await;
    let old = RequestKey::parse(first.tx_ref.as_deref().expect("key")).expect("key");
    let found = client(&node)
        .poll(ChainId(CHAIN), &[old], None)
        .await
        .expect("poll");
    assert!(
        found.is_empty(),
        "the orphaned command is not on the chain: written once"
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_direct_anchor_orphaned_before_the_depth_is_resubmitted_and_written_once(pool: PgPool) {
    reorg_before_depth(pool, WritePath::Direct).await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_contract_anchor_orphaned_before_the_depth_is_resubmitted_and_written_once(pool: PgPool) {
    reorg_before_depth(pool, WritePath::Contract).await;
}

/// A command mined and orphaned before any poll saw it (or lost from a restarted node's
/// mempool) is found nowhere: after `RESEND_AFTER_POLLS` such polls the same command is sent
/// again (same request key, no new attempt), is mined and the anchor ends final, long before
/// its TTL.
#[sqlx::test(migrations = "../../migrations")]
async fn a_command_orphaned_before_any_poll_saw_it_is_sent_again_and_ends_final(pool: PgPool) {
    use ancora::services::anchoring::confirm::RESEND_AFTER_POLLS;
    let node = TestNode::start().await.expect("node");
    let (state, auth) = setup(pool, &node, WritePath::Direct).await;
    drive(&state).await.expect("sent");
    let (first, _) = anchor(&state).await;
    node.mine(1);
    node.reorg(CHAIN, 1); // the block that held it is orphaned, unseen: the command is gone
    let key = RequestKey::parse(first.tx_ref.as_deref().expect("key")).expect("key");
    let gone = client(&node).poll(ChainId(CHAIN), &[key], None).await;
    assert!(gone.expect("poll").is_empty(), "the double dropped it");

    for i in 1..RESEND_AFTER_POLLS {
        drive(&state).await.expect("poll");
        let (_, d) = anchor(&state).await;
        assert!(d.sent, "still waiting after {i} polls");
        assert_eq!(d.unseen_polls, i);
    }
    drive(&state).await.expect("poll");
    let (_, d) = anchor(&state).await;
    assert!(
        !d.sent,
        "out of sight {RESEND_AFTER_POLLS} polls: to be sent again"
    );
    drive(&state).await.expect("sent again");
    let (again, d) = anchor(&state).await;
    assert!(d.sent);
    assert_eq!(
        again.tx_ref, first.tx_ref,
        "the same command, the same request key"
    );
    assert_eq!(
        (d.attempt, d.submissions.len()),
        (0, 1),
        "no new command was built"
    );

    node.mine(7);
    drive(&state).await.expect("final");
    assert_bundles_end_at_the_block(&state, &auth, &node).await;
    let found = client(&node)
        .poll(ChainId(CHAIN), &[key], None)
        .await
        .expect("poll");
    assert_eq!(found.len(), 1, "mined once");
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_command_whose_ttl_expired_unmined_is_resubmitted_with_a_fresh_creation_time(
    pool: PgPool,
) {
    let node = TestNode::start().await.expect("node");
    let (state, auth) = setup(pool, &node, WritePath::Direct).await;
    drive(&state).await.expect("sent");
    let (_, before) = anchor(&state).await;

    node.advance_time(700); // past the 600 s TTL: the next block leaves it out
    node.mine(1);
    drive(&state).await.expect("expired, resubmitted");
    let (_, after) = anchor(&state).await;
    assert_eq!(after.submissions.len(), 2);
    assert!(after.sent, "the fresh command was accepted");
    assert!(after.expires_at > before.expires_at + 600);

    node.mine(7);
    drive(&state).await.expect("final");
    assert_bundles_end_at_the_block(&state, &auth, &node).await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_gas_error_is_retried_with_a_fresh_command_and_the_anchor_ends_final(pool: PgPool) {
    let node = TestNode::start().await.expect("node");
    let (state, auth) = setup(pool, &node, WritePath::Contract).await;
    node.gas_error_next(1);
    drive(&state).await.expect("sent");
    let (_, first) = anchor(&state).await;
    node.mine(7);
    drive(&state)
        .await
        .expect("the failure is an outcome, not a job error");

    // The failure is recorded and a fresh command is built after a backoff; the fast proof
    // stays valid meanwhile.
    let (row, details) = anchor(&state).await;
    assert_eq!(
        row.state, "pending",
        "waits out its backoff, then builds a fresh command"
    );
    assert_eq!(details.failures, 1);
    let backoff = sqlx::query_scalar!(
        r#"SELECT run_at > now() AS "later!" FROM jobs WHERE kind = 'chainweb_anchor'"#
    )
    .fetch_one(state.db.pool())
    .await
    .expect("the job waits");
    assert!(backoff, "the retry waits out a backoff");
    assert!(
        row.error
            .as_deref()
            .is_some_and(|e| e.contains("Gas limit")),
        "{:?}",
        row.error
    );
    assert_eq!(state.metrics.anchor_retries.get(), 1);
    let fast = bundle_of(&state, &auth, "cw-0").await.expect("fast proof");
    assert!(fast.chainweb().is_none());

    drive(&state).await.expect("a fresh command, sent");
    let (row, details) = anchor(&state).await;
    assert_eq!(row.state, "submitted");
    assert!(
        details.attempt > first.attempt,
        "a new command, not the failed one"
    );
    assert_ne!(
        row.tx_ref,
        first.command.map(|c| c.request_key().to_string())
    );
    node.mine(7);
    drive(&state).await.expect("confirm the retry");
    assert_bundles_end_at_the_block(&state, &auth, &node).await;
    assert_eq!(anchor(&state).await.0.state, "final");
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_anchor_that_keeps_failing_is_flagged_and_reanchor_writes_it_again(pool: PgPool) {
    let node = TestNode::start().await.expect("node");
    let (state, auth) = setup(pool, &node, WritePath::Contract).await;
    let max = ancora::services::anchoring::confirm::MAX_FAILURES;
    node.gas_error_next(max);
    for _ in 0..max {
        drive(&state).await.expect("sent");
        node.mine(7);
        drive(&state).await.expect("failure is an outcome");
    }

    let (row, _) = anchor(&state).await;
    assert_eq!(row.state, "failed");
    assert!(row.error.is_some_and(|e| e.contains("Gas limit")));
    assert_eq!(state.metrics.anchors_failed.get(), 1);
    let jobs =
        sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM jobs WHERE kind = 'chainweb_anchor'"#)
            .fetch_one(state.db.pool())
            .await
            .expect("count");
    assert_eq!(jobs, 0, "nothing more to do until the operator says so");
    // The portal's batch page shows the failure and its reason.
    let batch = sqlx::query_scalar!("SELECT batch_id FROM anchor_queue LIMIT 1")
        .fetch_one(state.db.pool())
        .await
        .expect("queued batch");
    let mut tx = state.db.tenant_tx(auth.tenant).await.expect("tx");
    let shown = ancora::db::portal_pages::batch_anchor(&mut tx, auth.tenant, batch)
        .await
        .expect("query")
        .expect("the batch has its anchor");
    assert_eq!(shown.state, "failed");
    assert!(shown.error.is_some_and(|e| e.contains("Gas limit")));
    drop(tx);
    // The fast proof is still served.
    assert!(bundle_of(&state, &auth, "cw-0").await.is_some());

    // `ancora admin reanchor` (its service call) writes it again, and this time it lands.
    let again = ancora::services::anchoring::confirm::reanchor(&state.db, None)
        .await
        .expect("reanchor");
    assert_eq!(again.len(), 1);
    drive(&state).await.expect("sent again");
    node.mine(7);
    drive(&state).await.expect("confirmed");
    assert_bundles_end_at_the_block(&state, &auth, &node).await;
    assert!(
        ancora::services::anchoring::confirm::reanchor(&state.db, None)
            .await
            .expect("reanchor")
            .is_empty(),
        "nothing failed any more"
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn garbage_from_the_node_fails_the_run_stores_nothing_and_the_retry_completes(pool: PgPool) {
    let node = TestNode::start().await.expect("node");
    let (state, auth) = setup(pool, &node, WritePath::Direct).await;
    drive(&state).await.expect("sent");
    node.mine(7);

    // Garbage in place of the poll answer.
    node.respond_next(200, "<html>502 Bad Gateway</html>");
    sqlx::query!("UPDATE jobs SET run_at = now() WHERE kind = 'chainweb_anchor'")
        .execute(state.db.pool())
        .await
        .expect("due");
    assert!(matches!(
        workers::run_one(&state, true).await.expect("ran"),
        Ran::Failed(_)
    ));
    assert_eq!(anchor(&state).await.0.state, "submitted");

    // Confirmed, then garbage in place of the SPV answer: the run fails, nothing is kept.
    assert!(matches!(
        workers::run_one(&state, true).await.expect("ran"),
        Ran::Done
    ));
    assert_eq!(anchor(&state).await.0.state, "confirmed");
    node.respond_next(200, "\"***\"");
    assert!(matches!(
        workers::run_one(&state, true).await.expect("ran"),
        Ran::Failed(_)
    ));
    let (row, details) = anchor(&state).await;
    assert_eq!(row.state, "confirmed");
    assert!(details.spv_proof.is_none(), "nothing unverified is kept");
    let failures = state
        .metrics
        .job_failures
        .get_or_create(&ancora::support::metrics::JobLabels {
            kind: "chainweb_anchor".into(),
        })
        .get();
    assert!(
        failures >= 1,
        "the refused answer is counted in the metrics"
    );

    // A proof that decodes but leads to another block is not taken either: back to polling.
    let forged = ancora_proof::hash::b64url_encode(
        br#"{"chain":3,"object":"AAAAAAAAAAAAAAAA","subject":{"input":"ABQ"},"algorithm":"SHA512t_256"}"#,
    );
    node.respond_next(200, format!("\"{forged}\""));
    assert!(matches!(
        workers::run_one(&state, true).await.expect("ran"),
        Ran::Done
    ));
    let (row, details) = anchor(&state).await;
    assert_eq!(row.state, "submitted");
    assert!(details.spv_proof.is_none());

    drive(&state).await.expect("the retry completes");
    assert_bundles_end_at_the_block(&state, &auth, &node).await;
}

#[test]
fn ancora_chainweb_sign_prints_the_signed_vector_command_on_one_line() {
    let vector: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../proof/tests/vectors/pact-command-hash-sig.json"),
        )
        .expect("vector"),
    )
    .expect("json");
    let case = &vector["vectors"][0];
    let dir = std::env::temp_dir().join(format!("ancora-sign-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let cmd_file = dir.join("cmd.json");
    let key_file = dir.join("key");
    std::fs::write(&cmd_file, case["cmd"].as_str().expect("cmd")).expect("write");
    std::fs::write(
        &key_file,
        vector["keyPair"]["secretKey"].as_str().expect("key"),
    )
    .expect("write");
    let run = |args: &[&std::ffi::OsStr]| {
        Command::new(env!("CARGO_BIN_EXE_ancora"))
            .args(args)
            .env_remove("DATABASE_URL")
            .output()
            .expect("runs")
    };

    let out = run(&[
        "chainweb".as_ref(),
        "sign".as_ref(),
        cmd_file.as_os_str(),
        "--key-file".as_ref(),
        key_file.as_os_str(),
    ]);

    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert_eq!(text.lines().count(), 1, "{text}");
    let signed: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(signed["hash"], case["hash"]);
    assert_eq!(signed["sigs"][0]["sig"], case["sig"]);
    assert_eq!(signed["cmd"], case["cmd"]);

    // Bad input: exit 2, one line, the key never echoed.
    std::fs::write(&key_file, "not a key").expect("write");
    let bad_key = run(&[
        "chainweb".as_ref(),
        "sign".as_ref(),
        cmd_file.as_os_str(),
        "--key-file".as_ref(),
        key_file.as_os_str(),
    ]);
    let missing = run(&[
        "chainweb".as_ref(),
        "sign".as_ref(),
        dir.join("nope").as_os_str(),
        "--key-file".as_ref(),
        key_file.as_os_str(),
    ]);
    std::fs::write(&cmd_file, "[1, 2]").expect("write");
    std::fs::write(
        &key_file,
        vector["keyPair"]["secretKey"].as_str().expect("key"),
    )
    .expect("write");
    let not_object = run(&[
        "chainweb".as_ref(),
        "sign".as_ref(),
        cmd_file.as_os_str(),
        "--key-file".as_ref(),
        key_file.as_os_str(),
    ]);
    for (what, out) in [
        ("key", bad_key),
        ("missing", missing),
        ("not an object", not_object),
    ] {
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(2), "{what}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{what}: {err}");
        assert!(err.starts_with("error: "), "{what}: {err}");
        assert!(out.stdout.is_empty(), "{what}");
        assert!(
            !err.contains(vector["keyPair"]["secretKey"].as_str().unwrap_or("-")),
            "{what}"
        );
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_audit_api_answers_the_chain_written_and_the_real_request_key(pool: PgPool) {
    let node = TestNode::start().await.expect("node");
    let app = crate::helpers::TestApp::with_config(pool, |c| {
        c.settings.batching.window = Duration::ZERO;
        c.settings.batching.anchor_interval = Duration::ZERO;
        c.settings.batching.chain_count = 20;
        c.settings.anchor_backend = AnchorBackendKind::Chainweb;
        let mut cw = chainweb(vec![node.base_url()], WritePath::Direct);
        cw.chains = vec![2, 5];
        c.settings.chainweb = cw;
    });
    let (tenant, key) = app.tenant_with_key(Role::Submitter).await;
    let routed = ancora::domain::chain_for_tenant(tenant, None, 20);
    let written = app.state.settings.chainweb.chain_for(routed);
    assert!([2, 5].contains(&written));

    let (status, _, answer) = app
        .request(
            axum::http::Method::POST,
            "/v1/audit/batch",
            Some(&key),
            Some(serde_json::json!({
                "events": [{ "id": "au-1", "digest": format!("sha256:{:064x}", 7) }]
            })),
        )
        .await;
    assert_eq!(status, axum::http::StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["submittedToChain"], serde_json::json!(written));
    assert!(
        answer["txHash"].is_null(),
        "no transaction before the anchoring tick"
    );
    let batch = answer["batchId"].as_str().expect("batch id").to_owned();

    drive(&app.state).await.expect("anchor, build and send");
    let (row, details) = anchor(&app.state).await;
    let (_, _, proof) = app
        .request(
            axum::http::Method::GET,
            &format!("/v1/audit/proof/{batch}"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(proof["submittedToChain"], serde_json::json!(details.chain));
    assert_eq!(details.chain, written);
    assert_eq!(
        proof["txHash"],
        serde_json::json!(row.tx_ref.expect("request key"))
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_server_verifies_a_chainweb_final_bundle_with_the_header_it_checked_and_says_where_from(
    pool: PgPool,
) {
    let (node, app, _, key) = chainweb_event_proved_on_the_log(pool, "sv-1").await;
    let (_, _, event) = app
        .request(axum::http::Method::GET, "/v1/events/sv-1", Some(&key), None)
        .await;
    assert_eq!(event["status"], "proved", "{event}");
    assert_eq!(event["finality"], "log-signed", "{event}");
    node.mine(7);
    drive(&app.state).await.expect("final");
    let (_, _, bundle) = app
        .request(
            axum::http::Method::GET,
            "/v1/events/sv-1/proof",
            Some(&key),
            None,
        )
        .await;
    assert!(
        bundle["trustPoints"][1]["headerSource"]["node"].is_string(),
        "{bundle}"
    );
    // Without the log trust point, only the Chainweb one can make the verdict.
    let mut chainweb_only = bundle.clone();
    chainweb_only["trustPoints"] = serde_json::json!([bundle["trustPoints"][1].clone()]);

    let (status, _, report) = app
        .request(
            axum::http::Method::POST,
            "/v1/proof/verify",
            Some(&key),
            Some(serde_json::json!({ "bundle": chainweb_only })),
        )
        .await;

    assert_eq!(status, axum::http::StatusCode::OK, "{report}");
    assert_eq!(report["report"]["verdict"], "verified", "{report}");
    let notes = report["trust"]["chainwebHeaders"].to_string();
    assert!(notes.contains("as fetched from node"), "{notes}");
    assert!(notes.contains(&node.base_url()), "{notes}");
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_portal_and_range_reports_check_a_chainweb_final_event_against_the_verified_header(
    pool: PgPool,
) {
    let (node, app, tenant, _) = chainweb_event_proved_on_the_log(pool, "rr-1").await;
    node.mine(7);
    drive(&app.state).await.expect("final");

    let email = crate::portal::user(&app, tenant, Role::Auditor).await;
    let mut b = crate::portal::Browser::new(&app);
    b.sign_in(&email, crate::portal::PASSWORD).await;
    let range = b
        .get(&format!(
            "/t/{tenant}/reports/range?from=2000-01-01&to=2100-01-01&format=json"
        ))
        .await;
    let v: serde_json::Value = serde_json::from_slice(&range.body).expect("a JSON range report");
    let entry = v["events"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["event_id"] == "rr-1")
        .unwrap_or_else(|| panic!("rr-1 in the range report: {v}"));
    assert_eq!(entry["verdict"], "verified", "{entry}");
    let points = entry["trust_points"].as_array().expect("trust points");
    let cw = points
        .iter()
        .find(|p| p["type"] == "chainweb")
        .unwrap_or_else(|| panic!("a Chainweb trust point: {entry}"));
    // Before the fix the range was checked against the log key alone: the Chainweb trust
    // point was left unchecked.
    assert_eq!(cw["status"], "verified", "{cw}");

    // The event page: verified, every step ok (the trusted-header step included), where the
    // header came from, and the command that re-checks it without Ancora.
    let page = b.get(&format!("/t/{tenant}/events/rr-1")).await;
    let html = String::from_utf8_lossy(&page.body).into_owned();
    assert!(html.contains("Verdict: verified"), "{html}");
    assert!(
        !html.contains("badge unchecked") && !html.contains("badge failed"),
        "{html}"
    );
    assert!(html.contains("trusted block header"), "{html}");
    assert!(
        html.contains(&format!(
            "block header as fetched from node {}",
            node.base_url()
        )),
        "{html}"
    );
    assert!(
        html.contains(
            "ancora verify rr-1.bundle.json --log-key LOG.key --chainweb-node https://&#60;node&#62;"
        ),
        "{html}"
    );
}

/// The app of `chainweb_event_proved_on_the_log`, without an event.
fn chainweb_app(pool: PgPool, node: &TestNode) -> crate::helpers::TestApp {
    let cw = chainweb(vec![node.base_url()], WritePath::Direct);
    crate::helpers::TestApp::with_config(pool, |c| {
        c.settings.batching.window = Duration::ZERO;
        c.settings.batching.anchor_interval = Duration::ZERO;
        c.settings.batching.chain_count = 10;
        c.settings.anchor_backend = AnchorBackendKind::Chainweb;
        c.settings.chainweb = cw;
    })
}

#[sqlx::test(migrations = "../../migrations")]
async fn ttl_on_events_batch_is_the_chainweb_transactions_ttl(pool: PgPool) {
    // Arrange
    let node = TestNode::start().await.expect("node");
    let app = chainweb_app(pool, &node);
    let (_, key) = app.tenant_with_key(Role::Submitter).await;
    let body = serde_json::json!({
        "events": [{ "id": "ttl-1", "digest": format!("sha256:{:064x}", 11) }],
        "ttl": 120
    });

    // Act
    let (status, _, answer) = app
        .request(
            axum::http::Method::POST,
            "/v1/events/batch",
            Some(&key),
            Some(body),
        )
        .await;
    drive(&app.state).await.expect("anchor, build and send");

    // Assert
    assert_eq!(status, axum::http::StatusCode::ACCEPTED, "{answer}");
    let (_, details) = anchor(&app.state).await;
    assert_eq!(details.ttl, Some(120));
    let cmd: serde_json::Value =
        serde_json::from_str(&details.command.expect("a command").cmd).expect("payload");
    assert_eq!(cmd["meta"]["ttl"], 120, "{cmd}");
    let created = cmd["meta"]["creationTime"].as_u64().expect("creation time");
    assert_eq!(details.expires_at, created + 120);
}

#[sqlx::test(migrations = "../../migrations")]
async fn without_ttl_the_configured_ttl_applies(pool: PgPool) {
    let node = TestNode::start().await.expect("node");
    let app = chainweb_app(pool, &node);
    let (_, key) = app.tenant_with_key(Role::Submitter).await;
    let body = serde_json::json!({
        "events": [{ "id": "ttl-2", "digest": format!("sha256:{:064x}", 12) }]
    });

    let (status, _, _) = app
        .request(
            axum::http::Method::POST,
            "/v1/events/batch",
            Some(&key),
            Some(body),
        )
        .await;
    drive(&app.state).await.expect("anchor, build and send");

    assert_eq!(status, axum::http::StatusCode::ACCEPTED);
    let (_, details) = anchor(&app.state).await;
    assert_eq!(details.ttl, None);
    let cmd: serde_json::Value =
        serde_json::from_str(&details.command.expect("a command").cmd).expect("payload");
    assert_eq!(cmd["meta"]["ttl"], app.state.settings.chainweb.ttl, "{cmd}");
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_ttl_out_of_range_is_refused_and_stores_nothing(pool: PgPool) {
    let node = TestNode::start().await.expect("node");
    let app = chainweb_app(pool, &node);
    let (tenant, key) = app.tenant_with_key(Role::Submitter).await;
    for ttl in [0, 59, 86_401] {
        let body = serde_json::json!({
            "events": [{ "id": format!("bad-{ttl}"), "digest": format!("sha256:{:064x}", 13) }],
            "ttl": ttl
        });
        let got = app
            .request(
                axum::http::Method::POST,
                "/v1/events/batch",
                Some(&key),
                Some(body),
            )
            .await;
        crate::helpers::assert_problem(
            &got,
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "ttl must be between 60 and 86400 seconds",
        );
    }
    assert_eq!(app.event_count(tenant).await, 0);
}
