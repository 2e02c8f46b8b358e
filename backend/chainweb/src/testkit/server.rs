//! The node double's HTTP surface: chainweb-node's paths, bodies and error texts.
//!
//! Handlers return early with a ready `Response` as the error; its size does not matter in
//! a test double, hence `clippy::result_large_err` is allowed here.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use ancora_proof::Hash;
use ancora_proof::hash::b64url_encode;
use axum::Router;
use axum::extract::{Path, Query, Request, State as AxState};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::command::{SignedCommand, verify_command};
use crate::testkit::Shared;
use crate::testkit::chain::{Pending, not_before};
use crate::types::RequestKey;

type St = Arc<Shared>;

pub(crate) fn router(shared: St) -> Router {
    let chain = "/chainweb/0.0/{net}/chain/{cid}";
    Router::new()
        .route(&format!("{chain}/pact/api/v1/send"), post(send))
        .route(&format!("{chain}/pact/api/v1/poll"), post(poll))
        .route(&format!("{chain}/pact/api/v1/listen"), post(listen))
        .route(&format!("{chain}/pact/spv"), post(spv))
        .route(&format!("{chain}/header/{{hash}}"), get(header_by_hash))
        .route(&format!("{chain}/header"), get(headers))
        .route("/chainweb/0.0/{net}/cut", get(cut))
        .route("/info", get(info))
        .route("/health-check", get(health_check))
        .layer(middleware::from_fn_with_state(shared.clone(), faults))
        .with_state(shared)
}

/// Injected faults, applied before any handler.
async fn faults(AxState(s): AxState<St>, req: Request, next: Next) -> Response {
    let (delay, fail, canned) = {
        let mut st = s.lock();
        let f = &mut st.faults;
        (
            f.delay.pop_front(),
            f.fail.pop_front(),
            f.canned.pop_front(),
        )
    };
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    if let Some(code) = fail {
        let code = StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        return (code, "testkit: injected failure").into_response();
    }
    if let Some((code, body)) = canned {
        let code = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
        return (code, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    }
    next.run(req).await
}

fn bad(msg: impl Into<String>) -> Response {
    (StatusCode::BAD_REQUEST, msg.into()).into_response()
}

fn not_found(msg: impl Into<String>) -> Response {
    (StatusCode::NOT_FOUND, msg.into()).into_response()
}

/// The chain id of a path, when the network is ours and the chain exists.
fn chain_of(s: &Shared, net: &str, cid: &str) -> Result<u32, Response> {
    if net != s.network.name() {
        return Err(not_found(format!("unknown network {net}")));
    }
    let id: u32 = cid
        .parse()
        .map_err(|_| not_found(format!("invalid chain id {cid}")))?;
    if !s.lock().chains.chains.contains_key(&id) {
        return Err(not_found(format!("unknown chain {cid}")));
    }
    Ok(id)
}

fn json_body(body: &str) -> Result<Value, Response> {
    serde_json::from_str(body).map_err(|e| bad(format!("Error in $: {e}")))
}

async fn send(
    AxState(s): AxState<St>,
    Path((net, cid)): Path<(String, String)>,
    body: String,
) -> Response {
    let chain = match chain_of(&s, &net, &cid) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let v = match json_body(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(cmds) = v
        .get("cmds")
        .and_then(Value::as_array)
        .filter(|c| !c.is_empty())
    else {
        return bad("Error in $: expected a non-empty array `cmds`");
    };
    let network = s.network.name();
    let mut st = s.lock();
    let now = st.now_secs();
    let not_before = not_before(st.chains.height(), st.chains.confirm_delay_blocks);
    let mut accepted = Vec::new();
    for c in cmds {
        let signed: SignedCommand = match serde_json::from_value(c.clone()) {
            Ok(x) => x,
            Err(e) => return bad(format!("Validation failed: not a command: {e}")),
        };
        let cmd = match verify_command(&signed) {
            Ok(cmd) => cmd,
            Err(e) => return bad(format!("Validation failed for hash {:?}: {e}", signed.hash)),
        };
        let key = signed.request_key();
        if cmd.network_id.as_deref() != Some(network) || cmd.meta.chain_id != chain.to_string() {
            return bad(format!(
                "Validation failed for hash {key}: Transaction metadata (chain id, chainweb version) conflicts with this endpoint"
            ));
        }
        if cmd.meta.creation_time.saturating_add(cmd.meta.ttl) < now {
            return bad(format!(
                "Validation failed for hash {key}: Transaction time-to-live is expired"
            ));
        }
        if cmd.meta.creation_time > now + 90 {
            return bad(format!(
                "Validation failed for hash {key}: Transaction creation time too far in the future"
            ));
        }
        if st.chains.find(chain, &key).is_some() {
            return bad(format!(
                "Validation failed for hash {key}: Transaction already exists on chain"
            ));
        }
        accepted.push(Pending {
            key,
            signed,
            cmd,
            not_before,
        });
    }
    let keys: Vec<String> = accepted.iter().map(|p| p.key.to_string()).collect();
    if let Some(c) = st.chains.chains.get_mut(&chain) {
        for p in accepted {
            if !c.mempool.iter().any(|q| q.key == p.key) {
                c.mempool.push(p);
            }
        }
    }
    axum::Json(json!({ "requestKeys": keys })).into_response()
}

/// The CommandResult of a mined transaction, with `metaData` filled in as `/poll` does.
fn result_of(s: &Shared, chain: u32, key: &RequestKey, depth: u64) -> Option<Value> {
    let st = s.lock();
    let found = st.chains.find(chain, key)?;
    let h = &found.block.header;
    if h.height.saturating_add(depth) > st.chains.height() {
        return None;
    }
    let mut out = found.block.outputs.get(found.index)?.clone();
    out["metaData"] = json!({
        "blockHash": h.hash.unwrap_or_else(|| h.compute_hash()).to_b64url(),
        "blockHeight": h.height,
        "blockTime": h.creation_time,
        "prevBlockHash": h.parent.to_b64url(),
    });
    Some(out)
}

fn keys_of(v: &Value, field: &str) -> Result<Vec<RequestKey>, Response> {
    let arr = v
        .get(field)
        .and_then(Value::as_array)
        .ok_or_else(|| bad(format!("Error in $: expected an array `{field}`")))?;
    arr.iter()
        .map(|k| {
            k.as_str()
                .and_then(|k| RequestKey::parse(k).ok())
                .ok_or_else(|| bad(format!("Error in $.{field}: invalid request key {k}")))
        })
        .collect()
}

async fn poll(
    AxState(s): AxState<St>,
    Path((net, cid)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    body: String,
) -> Response {
    let chain = match chain_of(&s, &net, &cid) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let depth = match q.get("confirmationDepth").map(|d| d.parse::<u64>()) {
        None => 0,
        Some(Ok(d)) => d,
        Some(Err(_)) => return bad("invalid confirmationDepth"),
    };
    let keys = match json_body(&body).and_then(|v| keys_of(&v, "requestKeys")) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let out: BTreeMap<String, Value> = keys
        .iter()
        .filter_map(|k| result_of(&s, chain, k, depth).map(|r| (k.to_string(), r)))
        .collect();
    axum::Json(out).into_response()
}

async fn listen(
    AxState(s): AxState<St>,
    Path((net, cid)): Path<(String, String)>,
    body: String,
) -> Response {
    let chain = match chain_of(&s, &net, &cid) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let key = match json_body(&body).map(|v| {
        v.get("listen")
            .and_then(Value::as_str)
            .map(RequestKey::parse)
    }) {
        Ok(Some(Ok(k))) => k,
        Ok(_) => return bad("Error in $: expected {\"listen\": <request key>}"),
        Err(r) => return r,
    };
    let timeout = s.lock().listen_timeout;
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let notified = s.mined.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if let Some(r) = result_of(&s, chain, &key, 0) {
            return axum::Json(r).into_response();
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return (StatusCode::GATEWAY_TIMEOUT, "Timeout").into_response();
        }
    }
}

async fn spv(
    AxState(s): AxState<St>,
    Path((net, cid)): Path<(String, String)>,
    body: String,
) -> Response {
    let chain = match chain_of(&s, &net, &cid) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let v = match json_body(&body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(Ok(key)) = v
        .get("requestKey")
        .and_then(Value::as_str)
        .map(RequestKey::parse)
    else {
        return bad("Error in $.requestKey: invalid request key");
    };
    let target = match v.get("targetChainId") {
        Some(Value::String(t)) => t.parse::<u32>().ok(),
        Some(Value::Number(n)) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        _ => None,
    };
    let Some(target) = target else {
        return bad("Error in $.targetChainId: invalid chain id");
    };
    let proof = s.lock().chains.spv(chain, &key, target);
    match proof {
        Ok(p) => axum::Json(Value::String(p.encode_response())).into_response(),
        Err(m) => bad(format!("SPV target not reachable: {m}")),
    }
}

fn wants_object(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("blockheader-encoding=object"))
}

fn encode_header(h: &ancora_proof::chainweb::BlockHeader, object: bool) -> Value {
    if object {
        h.to_json_value()
    } else {
        Value::String(b64url_encode(&h.encode()))
    }
}

async fn header_by_hash(
    AxState(s): AxState<St>,
    Path((net, cid, hash)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let chain = match chain_of(&s, &net, &cid) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Ok(hash) = Hash::from_b64url(&hash) else {
        return bad(format!("invalid block hash {hash}"));
    };
    let found = s
        .lock()
        .chains
        .headers
        .get(&hash)
        .filter(|h| h.chain_id == chain)
        .cloned();
    match found {
        Some(h) => axum::Json(encode_header(&h, wants_object(&headers))).into_response(),
        None => not_found(format!("block header {hash} not found")),
    }
}

async fn headers(
    AxState(s): AxState<St>,
    Path((net, cid)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    req_headers: HeaderMap,
) -> Response {
    let chain = match chain_of(&s, &net, &cid) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let num = |name: &str| {
        q.get(name)
            .map(|v| v.parse::<u64>().map_err(|_| bad(format!("invalid {name}"))))
    };
    let min = match num("minheight").transpose() {
        Ok(v) => v.unwrap_or(0),
        Err(r) => return r,
    };
    let max = match num("maxheight").transpose() {
        Ok(v) => v.unwrap_or(u64::MAX),
        Err(r) => return r,
    };
    let limit = match num("limit").transpose() {
        Ok(v) => v.unwrap_or(1_000).clamp(1, 1_000),
        Err(r) => return r,
    };
    let start = match q.get("next").map(|n| {
        n.strip_prefix("inclusive:")
            .and_then(|h| h.parse::<u64>().ok())
    }) {
        None => min,
        Some(Some(h)) => h.max(min),
        Some(None) => return bad("invalid next"),
    };
    let st = s.lock();
    let top = st.chains.height().min(max);
    let object = wants_object(&req_headers);
    let mut items = Vec::new();
    let mut height = start;
    while height <= top && (items.len() as u64) < limit {
        if let Some(b) = st.chains.block(chain, height) {
            items.push(encode_header(&b.header, object));
        }
        height += 1;
    }
    let next = (height <= top).then(|| format!("inclusive:{height}"));
    axum::Json(json!({ "items": items, "limit": items.len(), "next": next })).into_response()
}

async fn cut(AxState(s): AxState<St>, Path(net): Path<String>) -> Response {
    if net != s.network.name() {
        return not_found(format!("unknown network {net}"));
    }
    let st = s.lock();
    let mut hashes = BTreeMap::new();
    let mut height = 0u64;
    for (id, c) in &st.chains.chains {
        if let Some(b) = c.blocks.last() {
            height += b.header.height;
            hashes.insert(
                id.to_string(),
                json!({ "height": b.header.height, "hash": b.header.compute_hash() }),
            );
        }
    }
    let weight = st
        .chains
        .block(0, st.chains.height())
        .map(|b| b64url_encode(&b.header.weight))
        .unwrap_or_default();
    axum::Json(json!({
        "hashes": hashes, "height": height, "weight": weight, "origin": null,
        "instance": s.network.name(), "id": format!("testkit-cut-{height}"),
    }))
    .into_response()
}

/// `GET /info`, chainweb-node's `NodeInfo`: the version, the chains and their graph (one
/// graph since genesis), the genesis heights and the block delay. `nodePackageVersion`
/// names the double, not a chainweb-node release.
async fn info(AxState(s): AxState<St>) -> Response {
    let graph: Vec<(u32, Vec<u32>)> = s
        .lock()
        .chains
        .chains
        .iter()
        .map(|(id, c)| (*id, c.neighbors.clone()))
        .collect();
    let chains: Vec<String> = graph.iter().map(|(id, _)| id.to_string()).collect();
    let historical: Vec<(String, Vec<String>)> = graph
        .iter()
        .map(|(id, ns)| (id.to_string(), ns.iter().map(u32::to_string).collect()))
        .collect();
    axum::Json(json!({
        "nodeVersion": s.network.name(),
        "nodePackageVersion": concat!("ancora-testkit-", env!("CARGO_PKG_VERSION")),
        "nodeApiVersion": "0.0",
        "nodeChains": chains,
        "nodeNumberOfChains": graph.len(),
        "nodeGraphHistory": [[0, graph]],
        "nodeLatestBehaviorHeight": 0,
        "nodeGenesisHeights": chains.iter().map(|c| json!([c, 0])).collect::<Vec<_>>(),
        "nodeHistoricalChains": [[0, historical]],
        "nodeServiceDate": null,
        "nodeBlockDelay": s.block_delay_micros,
    }))
    .into_response()
}

/// `GET /health-check`, as chainweb-node answers it.
async fn health_check() -> &'static str {
    "Health check OK."
}
