//! Webhooks end to end: a receiver on 127.0.0.1 (allowed by the loopback switch) gets signed
//! deliveries, one per batch, retried after a 500 with the same event id, and nothing about
//! another tenant's events; bad URLs are refused with clear problems; endpoints are listed
//! (without their secret) and deleted, by API and in the portal; delivery jobs never take the
//! runners that batch, anchor and prove.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ancora::db::jobs::{self, Lane};
use ancora::domain::Role;
use ancora::workers;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use sqlx::PgPool;

use crate::helpers::{TestApp, assert_problem, digest_of};

/// What the receiver does with a request.
#[derive(Clone, Debug)]
enum Behaviour {
    /// 200, except a 500 to the first delivery of this type.
    FailFirst(Option<&'static str>),
    /// A redirect to this location.
    Redirect(&'static str),
    /// No answer for a minute.
    Hang,
}

#[derive(Clone, Debug)]
struct Received {
    headers: HeaderMap,
    body: Vec<u8>,
    answered: u16,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

#[derive(Clone)]
struct Receiver {
    behaviour: Behaviour,
    got: Arc<Mutex<Vec<Received>>>,
    failed: Arc<Mutex<bool>>,
}

impl Receiver {
    fn got(&self) -> Vec<Received> {
        self.got.lock().expect("lock").clone()
    }

    /// Everything but the registration pings.
    fn deliveries(&self) -> Vec<Received> {
        self.got()
            .into_iter()
            .filter(|r| r.json()["type"] != "webhook.ping")
            .collect()
    }
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> Response {
    let kind = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["type"].as_str().map(str::to_owned));
    let answer: Response = match &r.behaviour {
        Behaviour::Hang => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            StatusCode::OK.into_response()
        }
        Behaviour::Redirect(to) => (StatusCode::FOUND, [(header::LOCATION, *to)]).into_response(),
        Behaviour::FailFirst(t) => {
            let mut failed = r.failed.lock().expect("lock");
            if !*failed && kind.as_deref() == *t && t.is_some() {
                *failed = true;
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            } else {
                StatusCode::OK.into_response()
            }
        }
    };
    r.got.lock().expect("lock").push(Received {
        headers,
        body: body.to_vec(),
        answered: answer.status().as_u16(),
    });
    answer
}

/// A receiver on 127.0.0.1; its URL is `http://ADDR/hook`.
async fn receiver(behaviour: Behaviour) -> (String, Receiver) {
    let r = Receiver {
        behaviour,
        got: Arc::default(),
        failed: Arc::default(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(r.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/hook"), r)
}

fn app_with_loopback(pool: PgPool) -> TestApp {
    TestApp::with_config(pool, |c| {
        c.settings.webhooks.allow_loopback = true;
        c.settings.webhooks.timeout = Duration::from_millis(500);
    })
}

/// Checks `Ancora-Signature: t=…,v1=…` over the body with `secret`.
fn signature_ok(r: &Received, secret: &str) -> bool {
    let Some(h) = r
        .headers
        .get("ancora-signature")
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some((t, v1)) = h
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v1="))
    else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(format!("{t}.").as_bytes());
    mac.update(&r.body);
    hex::encode(mac.finalize().into_bytes()) == v1
}

async fn register(app: &TestApp, key: &str, url: &str, events: Value) -> (StatusCode, Value) {
    let (s, _, b) = app
        .request(
            Method::POST,
            "/v1/webhooks",
            Some(key),
            Some(json!({ "url": url, "events": events })),
        )
        .await;
    (s, b)
}

async fn submit(app: &TestApp, key: &str, prefix: &str, n: usize) -> Vec<String> {
    let ids: Vec<String> = (0..n).map(|i| format!("{prefix}-{i}")).collect();
    let events: Vec<Value> = ids
        .iter()
        .map(|id| json!({ "id": id, "digest": digest_of(id) }))
        .collect();
    let (status, body) = app.post_events(key, json!(events)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    ids
}

fn listed_events(v: &Value) -> Vec<String> {
    v["data"]["events"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_loopback_receiver_gets_signed_deliveries_retried_after_a_500_and_nothing_of_another_tenant(
    pool: PgPool,
) {
    let app = app_with_loopback(pool);
    let (url, rx) = receiver(Behaviour::FailFirst(Some("event.proved"))).await;
    let (tenant_a, owner_a) = app.tenant_with_key(Role::Owner).await;
    let (_, submitter_b) = app.tenant_with_key(Role::Submitter).await;
    // The tenants' own audit events (created, keys) are proved before the webhook exists.
    workers::run_all_jobs_now(&app.state).await.expect("jobs");
    let (status, created) = register(
        &app,
        &owner_a,
        &url,
        json!(["event.proved", "batch.proved", "batch.final"]),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["secret"].as_str().expect("secret").to_owned();
    assert!(secret.starts_with("whsec_"));
    let submitter_a = app.key(tenant_a, Role::Submitter).await;

    let mine = submit(&app, &submitter_a, "a", 3).await;
    let theirs = submit(&app, &submitter_b, "b", 2).await;
    workers::run_all_jobs_now(&app.state).await.expect("jobs");

    let got = rx.deliveries();
    assert!(!got.is_empty(), "deliveries arrived");

    for r in rx.got() {
        assert!(
            signature_ok(&r, &secret),
            "signed with the secret: {:?}",
            r.headers
        );
        assert!(!signature_ok(&r, "whsec_wrong"));
        assert_eq!(r.headers[header::CONTENT_TYPE], "application/json");
        let v = r.json();
        assert_eq!(v["tenantId"], json!(tenant_a.to_string()), "{v}");
        assert_eq!(
            r.headers["ancora-event-id"].to_str().expect("ascii"),
            v["id"].as_str().expect("id")
        );
        for id in &theirs {
            assert!(
                !listed_events(&v).contains(id),
                "another tenant's event: {v}"
            );
        }
    }
    // One event.proved delivery lists the batch's events; the 500 made a retry with its id.
    let proved: Vec<&Received> = got
        .iter()
        .filter(|r| r.json()["type"] == "event.proved")
        .filter(|r| mine.iter().all(|id| listed_events(&r.json()).contains(id)))
        .collect();
    assert_eq!(proved.len(), 2, "a 500, then the retry");
    assert_eq!((proved[0].answered, proved[1].answered), (500, 200));
    assert_eq!(
        proved[0].json()["id"],
        proved[1].json()["id"],
        "same event id"
    );
    for kind in ["batch.proved", "batch.final"] {
        let one: Vec<Value> = got
            .iter()
            .map(Received::json)
            .filter(|v| v["type"] == kind)
            .filter(|v| mine.iter().all(|id| listed_events(v).contains(id)))
            .collect();
        assert_eq!(one.len(), 1, "{kind}: one delivery for the batch");
        assert!(
            one[0]["data"]["batch"]["merkleRoot"].is_string(),
            "{}",
            one[0]
        );
    }
    // The deliveries as listed.
    let (_, _, list) = app
        .request(Method::GET, "/v1/webhooks/deliveries", Some(&owner_a), None)
        .await;
    let retried = list["deliveries"]
        .as_array()
        .expect("deliveries")
        .iter()
        .find(|d| d["id"] == proved[0].json()["id"])
        .cloned()
        .expect("listed");
    assert_eq!(retried["state"], "delivered", "{retried}");
    assert_eq!(retried["attempts"], 2, "{retried}");
    assert_eq!(retried["lastStatus"], 200, "{retried}");
}

#[sqlx::test(migrations = "../../migrations")]
async fn urls_that_are_not_https_private_or_redirecting_are_refused_with_a_clear_problem(
    pool: PgPool,
) {
    let (redirecting, _) = receiver(Behaviour::Redirect("http://10.0.0.1/admin")).await;
    let (loopback, _) = receiver(Behaviour::FailFirst(None)).await;
    let strict = TestApp::new(pool.clone());
    let (_, key) = strict.tenant_with_key(Role::Admin).await;
    let events = json!(["batch.proved"]);

    for (url, needle) in [
        ("http://hooks.example.com/x", "https://"),
        ("https://10.0.0.1/x", "private"),
        ("https://192.168.1.20/x", "private"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://[::1]/x", "loopback"),
        ("https://[fd00::1]/x", "unique local"),
        ("https://localhost/x", "loopback"),
        ("https://u:p@hooks.example.com/x", "user name or password"),
        ("not a url", "not an absolute URL"),
        (loopback.as_str(), "https://"),
    ] {
        let got = strict
            .request(
                Method::POST,
                "/v1/webhooks",
                Some(&key),
                Some(json!({ "url": url, "events": events })),
            )
            .await;
        assert_problem(&got, StatusCode::UNPROCESSABLE_ENTITY, needle);
    }
    let got = strict
        .request(
            Method::POST,
            "/v1/webhooks",
            Some(&key),
            Some(json!({ "url": "https://hooks.example.com/x", "events": ["event.maybe"] })),
        )
        .await;
    assert_problem(&got, StatusCode::UNPROCESSABLE_ENTITY, "unknown event type");

    // With loopback allowed for tests, a receiver that redirects is still refused.
    let app = TestApp::with_config(pool, |c| c.settings.webhooks.allow_loopback = true);
    let (_, key) = app.tenant_with_key(Role::Admin).await;
    let got = app
        .request(
            Method::POST,
            "/v1/webhooks",
            Some(&key),
            Some(json!({ "url": redirecting, "events": events })),
        )
        .await;
    assert_problem(&got, StatusCode::UNPROCESSABLE_ENTITY, "redirect");
    let (_, _, list) = app
        .request(Method::GET, "/v1/webhooks", Some(&key), None)
        .await;
    assert_eq!(list["webhooks"], json!([]), "nothing stored");
}

#[sqlx::test(migrations = "../../migrations")]
async fn endpoints_are_listed_without_their_secret_and_deleted_only_by_their_tenant(pool: PgPool) {
    let app = app_with_loopback(pool);
    let (url, _) = receiver(Behaviour::FailFirst(None)).await;
    let (tenant, admin) = app.tenant_with_key(Role::Admin).await;
    let auditor = app.key(tenant, Role::Auditor).await;
    let submitter = app.key(tenant, Role::Submitter).await;
    let (_, other) = app.tenant_with_key(Role::Owner).await;

    let (_, created) = register(&app, &admin, &url, json!(["anchor.failed"])).await;
    let id = created["id"].as_str().expect("id").to_owned();
    let secret = created["secret"].as_str().expect("secret").to_owned();
    let (s_list, _, list) = app
        .request(Method::GET, "/v1/webhooks", Some(&auditor), None)
        .await;
    let refused = register(&app, &auditor, &url, json!(["anchor.failed"])).await;
    let submitter_list = app
        .request(Method::GET, "/v1/webhooks", Some(&submitter), None)
        .await;
    let foreign = app
        .request(
            Method::DELETE,
            &format!("/v1/webhooks/{id}"),
            Some(&other),
            None,
        )
        .await;
    let (s_del, _, _) = app
        .request(
            Method::DELETE,
            &format!("/v1/webhooks/{id}"),
            Some(&admin),
            None,
        )
        .await;
    let again = app
        .request(
            Method::DELETE,
            &format!("/v1/webhooks/{id}"),
            Some(&admin),
            None,
        )
        .await;

    assert_eq!(s_list, StatusCode::OK);
    assert_eq!(list["webhooks"][0]["id"], json!(id));
    assert_eq!(list["webhooks"][0]["url"], json!(url));
    assert_eq!(list["webhooks"][0]["events"], json!(["anchor.failed"]));
    assert!(
        !list.to_string().contains(&secret),
        "the secret is never listed"
    );
    assert_eq!(refused.0, StatusCode::FORBIDDEN);
    assert_problem(&submitter_list, StatusCode::FORBIDDEN, "auditor");
    assert_problem(&foreign, StatusCode::NOT_FOUND, "no webhook");
    assert_eq!(s_del, StatusCode::NO_CONTENT);
    assert_problem(&again, StatusCode::NOT_FOUND, "no webhook");
    let actions = app.audit_actions(tenant).await;
    assert!(actions.contains(&"webhook.created".to_owned()));
    assert!(actions.contains(&"webhook.deleted".to_owned()));
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_hanging_receiver_times_out_and_never_takes_the_runners_that_prove(pool: PgPool) {
    let app = app_with_loopback(pool);
    let (hanging, _) = receiver(Behaviour::Hang).await;
    let (tenant, owner) = app.tenant_with_key(Role::Owner).await;
    workers::run_all_jobs_now(&app.state).await.expect("jobs");
    // Registration pings, and waits at most the timeout for the (hanging) answer.
    let started = Instant::now();
    let (status, created) = register(&app, &owner, &hanging, json!(["event.proved"])).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let submitter = app.key(tenant, Role::Submitter).await;
    submit(&app, &submitter, "h", 2).await;

    // The work lane proves without ever running a delivery job.
    let held = workers::Held::default();
    while let workers::Ran::Done = workers::run_one_held(&app.state, true, Lane::Work, &held)
        .await
        .expect("run")
    {}
    let (_, _, event) = app
        .request(Method::GET, "/v1/events/h-0", Some(&submitter), None)
        .await;
    assert_eq!(event["status"], "proved", "{event}");
    assert_eq!(
        jobs::count_kind(&app.state.db, jobs::KIND_WEBHOOK_DELIVERY)
            .await
            .expect("count"),
        1,
        "the delivery waits on its own lane"
    );

    // The delivery itself gives up on the receiver after the timeout and is retried later.
    let started = Instant::now();
    let ran = workers::run_one_held(&app.state, true, Lane::Webhooks, &held)
        .await
        .expect("run");
    assert!(matches!(ran, workers::Ran::Done), "{ran:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let (_, _, list) = app
        .request(Method::GET, "/v1/webhooks/deliveries", Some(&owner), None)
        .await;
    let d = &list["deliveries"][0];
    assert_eq!(d["state"], "pending", "{d}");
    assert_eq!(d["attempts"], 1, "{d}");
    assert!(
        d["lastError"]
            .as_str()
            .unwrap_or("")
            .contains("no answer within"),
        "{d}"
    );
    assert!(d["nextAttemptAt"].is_string());
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_portal_page_adds_shows_the_secret_once_lists_deliveries_and_deletes(pool: PgPool) {
    let app = app_with_loopback(pool);
    let (url, _) = receiver(Behaviour::FailFirst(None)).await;
    let (tenant, submitter) = app.tenant_with_key(Role::Submitter).await;
    let email = crate::portal::user(&app, tenant, Role::Admin).await;
    let mut b = crate::portal::Browser::new(&app);
    b.sign_in(&email, crate::portal::PASSWORD).await;
    let path = format!("/t/{tenant}/webhooks");
    b.get(&path).await;

    let added = b
        .post(&path, &[("url", &url), ("batch_proved", "on")])
        .await;
    let bad = b
        .post(
            &path,
            &[("url", "http://10.0.0.1/x"), ("batch_proved", "on")],
        )
        .await;
    b.get(&path).await;
    submit(&app, &submitter, "p", 1).await;
    workers::run_all_jobs_now(&app.state).await.expect("jobs");
    let listed = b.get(&path).await;

    assert_eq!(added.status, StatusCode::OK);
    let html = added.text();
    assert!(html.contains("whsec_"), "the secret is shown once");
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.text().contains("https://"), "{}", bad.text());
    let html = listed.text();
    assert!(html.contains(&url), "the endpoint is listed");
    assert!(!html.contains("whsec_"), "and its secret is not");
    assert!(
        html.contains("batch.proved") && html.contains("delivered"),
        "{html}"
    );
    let id = {
        let mut tx = app.state.db.tenant_tx(tenant).await.expect("tx");
        sqlx::query_scalar!(
            "SELECT id FROM webhook_endpoints WHERE tenant_id = $1",
            tenant.0
        )
        .fetch_one(&mut *tx)
        .await
        .expect("one endpoint")
    };
    let deleted = b.post(&format!("{path}/{id}/delete"), &[]).await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert!(deleted.text().contains("No webhooks yet."));
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_chainweb_anchor_that_fails_for_good_is_one_signed_anchor_failed_delivery_per_tenant(
    pool: PgPool,
) {
    use ancora::config::{AnchorBackendKind, WritePath};
    let node = ancora_chainweb::testkit::TestNode::start()
        .await
        .expect("node");
    let app = TestApp::with_config(pool, |c| {
        c.settings.batching.window = Duration::ZERO;
        c.settings.batching.anchor_interval = Duration::ZERO;
        c.settings.batching.chain_count = 10;
        c.settings.anchor_backend = AnchorBackendKind::Chainweb;
        c.settings.chainweb =
            crate::chainweb_anchor::chainweb(vec![node.base_url()], WritePath::Contract);
        c.settings.webhooks.allow_loopback = true;
    });
    let (url, rx) = receiver(Behaviour::FailFirst(None)).await;
    let (tenant, owner) = app.tenant_with_key(Role::Owner).await;
    let (_, created) = register(&app, &owner, &url, json!(["anchor.failed"])).await;
    let secret = created["secret"].as_str().expect("secret").to_owned();
    let submitter = app.key(tenant, Role::Submitter).await;
    let ids = submit(&app, &submitter, "f", 2).await;

    let max = ancora::services::anchoring::confirm::MAX_FAILURES;
    node.gas_error_next(max);
    for _ in 0..max {
        crate::chainweb_anchor::drive(&app.state)
            .await
            .expect("sent");
        node.mine(7);
        crate::chainweb_anchor::drive(&app.state)
            .await
            .expect("failure is an outcome");
    }
    workers::run_pending_jobs(&app.state)
        .await
        .expect("deliveries");

    let got = rx.deliveries();
    assert_eq!(
        got.len(),
        1,
        "one anchor.failed delivery, nothing else wanted"
    );
    let v = got[0].json();
    assert!(signature_ok(&got[0], &secret));
    assert_eq!(v["type"], "anchor.failed", "{v}");
    assert_eq!(v["tenantId"], json!(tenant.to_string()));
    assert!(
        v["data"]["error"]
            .as_str()
            .unwrap_or("")
            .contains("Gas limit"),
        "{v}"
    );
    let batch = {
        let mut tx = app.state.db.tenant_tx(tenant).await.expect("tx");
        ancora::db::batches::batches_of_events(&mut tx, tenant, &ids)
            .await
            .expect("batch")[0]
    };
    assert!(
        v["data"]["batches"]
            .as_array()
            .expect("batches")
            .contains(&json!(batch.to_string())),
        "{v}"
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn under_chainweb_batch_final_comes_once_the_block_is_final_with_its_hash(pool: PgPool) {
    use ancora::config::{AnchorBackendKind, WritePath};
    let node = ancora_chainweb::testkit::TestNode::start()
        .await
        .expect("node");
    let app = TestApp::with_config(pool, |c| {
        c.settings.batching.window = Duration::ZERO;
        c.settings.batching.anchor_interval = Duration::ZERO;
        c.settings.batching.chain_count = 10;
        c.settings.anchor_backend = AnchorBackendKind::Chainweb;
        c.settings.chainweb =
            crate::chainweb_anchor::chainweb(vec![node.base_url()], WritePath::Direct);
        c.settings.webhooks.allow_loopback = true;
    });
    let (url, rx) = receiver(Behaviour::FailFirst(None)).await;
    let (tenant, owner) = app.tenant_with_key(Role::Owner).await;
    register(&app, &owner, &url, json!(["batch.proved", "batch.final"])).await;
    let submitter = app.key(tenant, Role::Submitter).await;
    let ids = submit(&app, &submitter, "cf", 2).await;
    let mine = |kind: &str| -> Vec<Value> {
        rx.deliveries()
            .iter()
            .map(Received::json)
            .filter(|v| v["type"] == kind && ids.iter().all(|id| listed_events(v).contains(id)))
            .collect()
    };

    crate::chainweb_anchor::drive(&app.state)
        .await
        .expect("fast proof, send");
    let proved_on_the_log = (mine("batch.proved").len(), mine("batch.final").len());
    node.mine(7);
    crate::chainweb_anchor::drive(&app.state)
        .await
        .expect("final");

    assert_eq!(
        proved_on_the_log,
        (1, 0),
        "proved on the log, not final yet"
    );
    let fin = mine("batch.final");
    assert_eq!(fin.len(), 1, "one batch.final");
    assert!(
        fin[0]["data"]["batch"]["blockHash"].is_string(),
        "{}",
        fin[0]
    );
    assert!(fin[0]["data"]["batch"]["txHash"].is_string(), "{}", fin[0]);
    assert_eq!(
        mine("batch.proved").len(),
        1,
        "batch.proved is not sent again"
    );
}
