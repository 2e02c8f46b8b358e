//! An HTTP client for Chainweb nodes: the Pact API (`send`, `poll`, `listen`), `/pact/spv`,
//! block headers and cuts, with retries and fail-over across several nodes.
//!
//! Policy, per request: each node in turn gets up to `attempts_per_node` tries; a 5xx, a
//! timeout or a connection failure is retried on the same node after an exponential backoff,
//! then the next node is tried. A 2xx answer that does not parse, or proof material that
//! does not check out (a header whose fields do not hash to its hash), moves on to the next
//! node at once. A 4xx is the node's verdict on the request and is returned as
//! [`Error::Rejected`] without trying elsewhere. When every node has failed the error is
//! [`Error::AllNodesFailed`]; [`Error::last`] gives the last node's error.

use std::collections::BTreeMap;
use std::time::Duration;

use ancora_proof::Hash;
use ancora_proof::chainweb::BlockHeader;
use ancora_proof::spv::{SpvVerification, TransactionOutputProof, verify_against_header};
use serde_json::{Value, json};

use crate::error::one_line;
use crate::types::{ChainId, CommandResult, Cut, RequestKey};
use crate::{Error, SignedCommand};

/// The `Accept` header that asks for headers in the JSON object encoding.
pub const HEADER_OBJECT_ACCEPT: &str = "application/json;blockheader-encoding=object";

/// How to reach the nodes and how hard to try.
#[derive(Clone, Debug)]
pub struct NodeClientConfig {
    /// Base URLs (`https://node.example`), tried in this order.
    pub nodes: Vec<String>,
    /// The network id in paths (`mainnet01`).
    pub network: String,
    /// Timeout of one request (connection and whole answer).
    pub request_timeout: Duration,
    /// Timeout of `/listen`, which long-polls (nodes give up after about 180 s).
    pub listen_timeout: Duration,
    /// Tries per node for 5xx, timeouts and connection failures.
    pub attempts_per_node: u32,
    /// The first backoff; it doubles after each failed try, up to `max_backoff`.
    pub backoff: Duration,
    /// The longest backoff.
    pub max_backoff: Duration,
}

impl NodeClientConfig {
    /// Defaults: 10 s per request, 200 s for `listen`, 3 tries per node, backoff from
    /// 250 ms up to 5 s.
    pub fn new(nodes: Vec<String>, network: impl Into<String>) -> Self {
        NodeClientConfig {
            nodes,
            network: network.into(),
            request_timeout: Duration::from_secs(10),
            listen_timeout: Duration::from_secs(200),
            attempts_per_node: 3,
            backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// A verified SPV proof as fetched from a node.
#[derive(Clone, Debug)]
pub struct FetchedSpv {
    /// The `/pact/spv` response string (base64url), as a `cont` payload's `proof` takes it.
    pub text: String,
    /// The decoded proof.
    pub proof: TransactionOutputProof,
}

/// A client for one Chainweb network served by several nodes.
#[derive(Clone, Debug)]
pub struct NodeClient {
    http: reqwest::Client,
    cfg: NodeClientConfig,
}

/// One request, replayable on every node.
struct Call<'a> {
    post: Option<&'a Value>,
    path: String,
    query: Vec<(&'static str, String)>,
    accept: &'static str,
    timeout: Duration,
    what: &'static str,
}

impl NodeClient {
    /// A client; [`Error::Config`] without nodes, with a URL that is not http(s), or with
    /// an empty network id.
    pub fn new(cfg: NodeClientConfig) -> Result<Self, Error> {
        if cfg.nodes.is_empty() {
            return Err(Error::Config("no node URL given".to_owned()));
        }
        if let Some(bad) = cfg
            .nodes
            .iter()
            .find(|u| !(u.starts_with("http://") || u.starts_with("https://")))
        {
            return Err(Error::Config(format!("node URL {bad:?} is not http(s)")));
        }
        if cfg.network.is_empty()
            || !cfg
                .network
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(Error::Config(format!(
                "network id {:?} is not valid",
                cfg.network
            )));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(cfg.request_timeout)
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(NodeClient { http, cfg })
    }

    /// The configuration.
    pub fn config(&self) -> &NodeClientConfig {
        &self.cfg
    }

    fn chain_path(&self, chain: ChainId, rest: &str) -> String {
        format!("/chainweb/0.0/{}/chain/{chain}/{rest}", self.cfg.network)
    }

    fn pact<'a>(&self, chain: ChainId, endpoint: &str, what: &'static str) -> Call<'a> {
        Call {
            post: None,
            path: self.chain_path(chain, &format!("pact/api/v1/{endpoint}")),
            query: Vec::new(),
            accept: "application/json",
            timeout: self.cfg.request_timeout,
            what,
        }
    }

    /// `POST …/pact/api/v1/send`: submits commands; returns their request keys, which must
    /// be the commands' own hashes ([`Error::Malformed`] otherwise).
    pub async fn send(
        &self,
        chain: ChainId,
        cmds: &[SignedCommand],
    ) -> Result<Vec<RequestKey>, Error> {
        let body = json!({ "cmds": cmds });
        let expected: Vec<RequestKey> = cmds.iter().map(SignedCommand::request_key).collect();
        let call = Call {
            post: Some(&body),
            ..self.pact(chain, "send", "send response")
        };
        self.run(&call, |v| {
            let keys = v
                .get("requestKeys")
                .and_then(Value::as_array)
                .ok_or("missing array field `requestKeys`")?;
            let keys = keys
                .iter()
                .map(|k| {
                    k.as_str()
                        .ok_or("a request key is not a string")
                        .map(RequestKey::parse)
                })
                .collect::<Result<Result<Vec<_>, _>, _>>()?
                .map_err(|e| e.to_string())?;
            if keys != expected {
                return Err("the request keys are not those of the commands sent".to_owned());
            }
            Ok(keys)
        })
        .await
    }

    /// `POST …/pact/api/v1/poll[?confirmationDepth=N]`: the results known for `keys`
    /// (missing keys are simply absent). With a depth, only results at least that many
    /// blocks deep are returned.
    pub async fn poll(
        &self,
        chain: ChainId,
        keys: &[RequestKey],
        confirmation_depth: Option<u32>,
    ) -> Result<BTreeMap<RequestKey, CommandResult>, Error> {
        let body = json!({ "requestKeys": keys });
        let mut call = Call {
            post: Some(&body),
            ..self.pact(chain, "poll", "poll response")
        };
        if let Some(d) = confirmation_depth {
            call.query.push(("confirmationDepth", d.to_string()));
        }
        self.run(&call, |v| {
            let obj = v
                .as_object()
                .ok_or("expected a JSON object keyed by request key")?;
            let mut out = BTreeMap::new();
            for (k, r) in obj {
                let key = RequestKey::parse(k).map_err(|e| e.to_string())?;
                if !keys.contains(&key) {
                    return Err(format!(
                        "result for request key {key}, which was not asked for"
                    ));
                }
                let result = CommandResult::from_json_value(r)
                    .map_err(|e| format!("result for {key}: {e}"))?;
                if result.req_key != key {
                    return Err(format!("result under {key} has reqKey {}", result.req_key));
                }
                out.insert(key, result);
            }
            Ok(out)
        })
        .await
    }

    /// `POST …/pact/api/v1/listen`: waits for one result (long poll).
    pub async fn listen(&self, chain: ChainId, key: RequestKey) -> Result<CommandResult, Error> {
        let body = json!({ "listen": key });
        let call = Call {
            post: Some(&body),
            timeout: self.cfg.listen_timeout,
            ..self.pact(chain, "listen", "listen response")
        };
        self.run(&call, |v| {
            let result = CommandResult::from_json_value(v)?;
            if result.req_key != key {
                return Err(format!("result for {}, not for {key}", result.req_key));
            }
            Ok(result)
        })
        .await
    }

    /// `POST …/chain/{source}/pact/spv`: the proof of `key`'s output, leading to a block
    /// on `target`. The proof is decoded and must name `target` as its chain.
    pub async fn spv(
        &self,
        source: ChainId,
        key: RequestKey,
        target: ChainId,
    ) -> Result<FetchedSpv, Error> {
        let body = json!({ "requestKey": key, "targetChainId": target.to_string() });
        let call = Call {
            post: Some(&body),
            path: self.chain_path(source, "pact/spv"),
            query: Vec::new(),
            accept: "application/json",
            timeout: self.cfg.request_timeout,
            what: "SPV proof",
        };
        self.run(&call, |v| {
            let text = v
                .as_str()
                .ok_or("expected a JSON string holding base64url")?;
            let proof = TransactionOutputProof::decode_response(text).map_err(|e| e.to_string())?;
            if proof.chain != target.0 {
                return Err(format!(
                    "the proof targets chain {}, not {target}",
                    proof.chain
                ));
            }
            Ok(FetchedSpv {
                text: text.to_owned(),
                proof,
            })
        })
        .await
    }

    /// `GET …/chain/{chain}/header/{hash}` in the object encoding. The header must be on
    /// `chain`, claim `hash`, and its fields must hash to it ([`Error::Proof`] otherwise,
    /// after trying the other nodes).
    pub async fn header(&self, chain: ChainId, hash: &Hash) -> Result<BlockHeader, Error> {
        let call = Call {
            post: None,
            path: self.chain_path(chain, &format!("header/{hash}")),
            query: Vec::new(),
            accept: HEADER_OBJECT_ACCEPT,
            timeout: self.cfg.request_timeout,
            what: "block header",
        };
        let hash = *hash;
        self.run_checked(&call, |v| {
            let header = BlockHeader::from_json_value(v).map_err(|e| Parse::Bad(e.to_string()))?;
            check_header(&header, chain)?;
            if header.hash != Some(hash) {
                return Err(Parse::Proof(ancora_proof::Error::RootMismatch {
                    what: "the block hash asked for",
                    root: header.hash.unwrap_or_default(),
                    expected: hash,
                }));
            }
            Ok(header)
        })
        .await
    }

    /// `GET …/chain/{chain}/header?minheight=&maxheight=` in the object encoding, following
    /// `next` pages. Every header must be on `chain` and hash to its claimed hash.
    pub async fn headers(
        &self,
        chain: ChainId,
        min_height: u64,
        max_height: u64,
    ) -> Result<Vec<BlockHeader>, Error> {
        const MAX_PAGES: usize = 1_000;
        let mut out = Vec::new();
        let mut next: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut query = vec![
                ("minheight", min_height.to_string()),
                ("maxheight", max_height.to_string()),
            ];
            if let Some(n) = next.take() {
                query.push(("next", n));
            }
            let call = Call {
                post: None,
                path: self.chain_path(chain, "header"),
                query,
                accept: HEADER_OBJECT_ACCEPT,
                timeout: self.cfg.request_timeout,
                what: "header page",
            };
            let (items, page_next) = self
                .run_checked(&call, |v| {
                    let items = v
                        .get("items")
                        .and_then(Value::as_array)
                        .ok_or_else(|| Parse::Bad("missing array field `items`".to_owned()))?;
                    let mut headers = Vec::with_capacity(items.len());
                    for item in items {
                        let h = BlockHeader::from_json_value(item)
                            .map_err(|e| Parse::Bad(e.to_string()))?;
                        check_header(&h, chain)?;
                        if h.height < min_height || h.height > max_height {
                            return Err(Parse::Bad(format!(
                                "header at height {} is outside the range asked",
                                h.height
                            )));
                        }
                        headers.push(h);
                    }
                    let next = match v.get("next") {
                        None | Some(Value::Null) => None,
                        Some(Value::String(s)) => Some(s.clone()),
                        Some(_) => {
                            return Err(Parse::Bad(
                                "field `next` must be a string or null".to_owned(),
                            ));
                        }
                    };
                    Ok((headers, next))
                })
                .await?;
            let empty = items.is_empty();
            out.extend(items);
            match page_next {
                Some(n) if !empty => next = Some(n),
                _ => return Ok(out),
            }
        }
        Ok(out)
    }

    /// `GET /chainweb/0.0/{net}/cut`: the current head of every chain.
    pub async fn cut(&self) -> Result<Cut, Error> {
        let call = Call {
            post: None,
            path: format!("/chainweb/0.0/{}/cut", self.cfg.network),
            query: Vec::new(),
            accept: "application/json",
            timeout: self.cfg.request_timeout,
            what: "cut",
        };
        self.run(&call, Cut::deserialize_value).await
    }

    /// Fetches `key`'s SPV proof for a block on `chain`, then the header the proof leads to
    /// (by its hash), and verifies the proof against it with `ancora-proof`. Whether that
    /// block is deep enough on the canonical chain is the caller's judgement (compare its
    /// height with [`cut`](Self::cut)).
    pub async fn verified_spv(
        &self,
        chain: ChainId,
        key: RequestKey,
    ) -> Result<(FetchedSpv, SpvVerification), Error> {
        let spv = self.spv(chain, key, chain).await?;
        let header = self.header(chain, &spv.proof.run()).await?;
        let verification = verify_against_header(&spv.proof, chain.0, &header)?;
        Ok((spv, verification))
    }

    async fn run<T>(
        &self,
        call: &Call<'_>,
        parse: impl Fn(&Value) -> Result<T, String>,
    ) -> Result<T, Error> {
        self.run_checked(call, |v| parse(v).map_err(Parse::Bad))
            .await
    }

    /// The retry and fail-over loop (see the module docs).
    async fn run_checked<T>(
        &self,
        call: &Call<'_>,
        parse: impl Fn(&Value) -> Result<T, Parse>,
    ) -> Result<T, Error> {
        let mut attempts = 0u32;
        let mut last = Error::Config("no node was tried".to_owned());
        for base in &self.cfg.nodes {
            let url = format!("{}{}", base.trim_end_matches('/'), call.path);
            let mut backoff = self.cfg.backoff;
            for attempt in 0..self.cfg.attempts_per_node.max(1) {
                if attempt > 0 {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(self.cfg.max_backoff);
                }
                attempts += 1;
                let text = match self.once(&url, call).await {
                    Ok(text) => text,
                    Err(e @ Error::Rejected { .. }) => return Err(e),
                    Err(e) => {
                        tracing::warn!(url = %url, attempt, error = %e, "chainweb node request failed");
                        last = e;
                        continue;
                    }
                };
                let parsed = serde_json::from_str::<Value>(&text)
                    .map_err(|e| Parse::Bad(format!("not JSON: {e}")))
                    .and_then(|v| parse(&v));
                match parsed {
                    Ok(t) => return Ok(t),
                    Err(p) => {
                        let e = match p {
                            Parse::Bad(message) => Error::Malformed {
                                url: url.clone(),
                                what: call.what,
                                message: one_line(&message),
                            },
                            Parse::Proof(e) => Error::Proof(e),
                        };
                        tracing::warn!(url = %url, error = %e, "chainweb node sent an unusable answer");
                        last = e;
                        break;
                    }
                }
            }
        }
        Err(Error::AllNodesFailed {
            nodes: self.cfg.nodes.len(),
            attempts,
            last: Box::new(last),
        })
    }

    /// One HTTP exchange; the body text of a 2xx answer.
    async fn once(&self, url: &str, call: &Call<'_>) -> Result<String, Error> {
        let full = with_query(url, &call.query);
        let req = match call.post {
            Some(body) => self.http.post(&full).json(body),
            None => self.http.get(&full),
        };
        let req = req
            .header(reqwest::header::ACCEPT, call.accept)
            .timeout(call.timeout);
        let transport = |e: reqwest::Error| {
            if e.is_timeout() {
                Error::Timeout {
                    url: url.to_owned(),
                    timeout_ms: u64::try_from(call.timeout.as_millis()).unwrap_or(u64::MAX),
                }
            } else {
                Error::Transport {
                    url: url.to_owned(),
                    message: one_line(&error_chain(&e)),
                }
            }
        };
        let resp = req.send().await.map_err(transport)?;
        let status = resp.status();
        let text = resp.text().await.map_err(transport)?;
        if status.is_success() {
            Ok(text)
        } else if status.is_client_error() {
            Err(Error::Rejected {
                url: url.to_owned(),
                status: status.as_u16(),
                body: one_line(&text),
            })
        } else {
            Err(Error::ServerError {
                url: url.to_owned(),
                status: status.as_u16(),
                body: one_line(&text),
            })
        }
    }
}

/// Why an answer could not be used.
enum Parse {
    /// Not the documented shape.
    Bad(String),
    /// Proof material that does not check out.
    Proof(ancora_proof::Error),
}

/// A header from a node: on the chain asked, and its fields hash to its claimed hash.
fn check_header(h: &BlockHeader, chain: ChainId) -> Result<(), Parse> {
    if h.chain_id != chain.0 {
        return Err(Parse::Bad(format!(
            "header is on chain {}, not {chain}",
            h.chain_id
        )));
    }
    h.check_hash().map(|_| ()).map_err(Parse::Proof)
}

/// `url?k=v&…`, values percent-encoded (everything but RFC 3986 unreserved characters).
fn with_query(url: &str, query: &[(&'static str, String)]) -> String {
    let mut out = url.to_owned();
    for (i, (k, v)) in query.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(k);
        out.push('=');
        for b in v.bytes() {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

impl Cut {
    fn deserialize_value(v: &Value) -> Result<Cut, String> {
        use serde::Deserialize as _;
        Cut::deserialize(v).map_err(|e| e.to_string())
    }
}
