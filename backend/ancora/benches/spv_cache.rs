//! SPV-as-a-Service cached-read throughput, the same way the spine's proof reads are served:
//! a stored proof is read from the SPV service's in-process LRU cache (`SpvCache`), and a
//! `GET /v1/spv/{id}` goes through the whole router (API-key authentication included).
//!
//! ```text
//! DATABASE_URL=postgres://root@127.0.0.1:5432/postgres cargo bench -p ancora --bench spv_cache
//! ```
//!
//! It creates a scratch database on that server (dropped at the end), starts the Chainweb node
//! double, mines a transaction, fetches its proof once through `POST /v1/spv` (verified and
//! stored), then measures:
//!
//! * `cache_hit` — `services::spv::read` answered from the cache plus the JSON encoding of the
//!   answer;
//! * `http_get` — `GET /v1/spv/{id}` through the router (authentication reads Postgres; the
//!   proof itself comes from the cache);
//! * `http_post_cached` — `POST /v1/spv` for a proof already held (cache hit plus the usage
//!   counter's write).
//!
//! Without `DATABASE_URL` it prints why and measures nothing.

use std::hint::black_box;
use std::net::SocketAddr;

use ancora::config::{ChainwebConfig, Config};
use ancora::db::Db;
use ancora::domain::Role;
use ancora::{app::AppState, http};
use ancora_chainweb::testkit::TestNode;
use ancora_chainweb::{ChainId, NodeClient, NodeClientConfig, PactCommand, SecretKey, Signer};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use secrecy::ExposeSecret as _;
use sqlx::Connection as _;
use sqlx::Executor as _;
use tower::ServiceExt as _;

struct Fixture {
    state: AppState,
    router: axum::Router,
    key: String,
    tenant: ancora::domain::TenantId,
    id: uuid::Uuid,
    post_body: String,
    _node: TestNode,
}

async fn fixture(url: &str) -> anyhow::Result<Fixture> {
    let node = TestNode::start().await?;
    let db = Db::connect(url, 16).await?;
    db.migrate().await?;
    let mut config = Config::for_tests(SocketAddr::from(([127, 0, 0, 1], 0)));
    let mut cw = ChainwebConfig::unconfigured();
    cw.nodes = vec![node.base_url()];
    config.settings.chainweb = cw;
    let state = AppState::new(db.clone(), config);
    let router = http::router(state.clone());
    let tenant = ancora::admin::create_tenant(&db, "Bench", "bench").await?;
    let key = ancora::admin::create_api_key(&db, tenant, Role::Auditor, "bench", "bench").await?;
    let key = key.key.expose_secret().to_owned();

    let signer = SecretKey::from_bytes(&[5; 32]);
    let cmd = PactCommand::exec("\"bench\"")
        .network("mainnet01")
        .chain(ChainId(2))
        .creation_time(node.now_secs())
        .signer(Signer::of(&signer))
        .sign(&[&signer])?;
    let client = NodeClient::new(NodeClientConfig::new(vec![node.base_url()], "mainnet01"))?;
    let rk = client.send(ChainId(2), &[cmd]).await?[0];
    node.mine(1);
    let post_body = serde_json::json!({ "chainId": 2, "requestKey": rk.to_string() }).to_string();
    let resp = router.clone().oneshot(post(&key, &post_body)?).await?;
    anyhow::ensure!(
        resp.status() == StatusCode::OK,
        "POST /v1/spv: {}",
        resp.status()
    );
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await?;
    let v: serde_json::Value = serde_json::from_slice(&bytes)?;
    let id = v["id"].as_str().unwrap_or_default().parse()?;
    Ok(Fixture {
        state,
        router,
        key,
        tenant,
        id,
        post_body,
        _node: node,
    })
}

fn post(key: &str, body: &str) -> anyhow::Result<Request<Body>> {
    Ok(Request::post("/v1/spv")
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_owned()))?)
}

fn get(key: &str, id: uuid::Uuid) -> anyhow::Result<Request<Body>> {
    Ok(Request::get(format!("/v1/spv/{id}"))
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .body(Body::empty())?)
}

async fn status(router: &axum::Router, req: Request<Body>) -> StatusCode {
    match router.clone().oneshot(req).await {
        Ok(resp) => {
            let s = resp.status();
            let _ = axum::body::to_bytes(resp.into_body(), usize::MAX).await;
            s
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn bench(c: &mut Criterion) {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!("spv_cache: set DATABASE_URL to a Postgres server to run this benchmark");
        return;
    };
    let Ok(rt) = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    else {
        eprintln!("spv_cache: no runtime");
        return;
    };
    let Some((server, _)) = url.rsplit_once('/') else {
        eprintln!("spv_cache: DATABASE_URL must end in /<database>");
        return;
    };
    let name = format!("ancora_bench_spv_{}", std::process::id());
    let scratch = format!("{server}/{name}");
    let created = rt.block_on(async {
        let mut admin = sqlx::PgConnection::connect(&url).await?;
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await?;
        anyhow::Ok(admin)
    });
    let Ok(mut admin) = created else {
        eprintln!("spv_cache: cannot create the scratch database");
        return;
    };
    match rt.block_on(fixture(&scratch)) {
        Ok(f) => run(c, &rt, &f),
        Err(e) => eprintln!("spv_cache: set-up failed: {e:#}"),
    }
    rt.block_on(async {
        let _ = admin
            .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
            .await;
    });
}

fn run(c: &mut Criterion, rt: &tokio::runtime::Runtime, f: &Fixture) {
    let mut g = c.benchmark_group("spv_cached_read");
    g.throughput(Throughput::Elements(1));
    g.bench_function("cache_hit", |b| {
        b.iter(|| {
            rt.block_on(async {
                let p = ancora::services::spv::read(&f.state, f.tenant, black_box(f.id))
                    .await
                    .ok()
                    .flatten();
                black_box(p.map(|p| {
                    serde_json::to_vec(&ancora::http::api::spv::view(&p, None)).map(|b| b.len())
                }))
            })
        })
    });
    g.bench_function("http_get", |b| {
        b.iter(|| {
            rt.block_on(async {
                let req = get(&f.key, f.id).ok();
                match req {
                    Some(r) => black_box(status(&f.router, r).await),
                    None => StatusCode::BAD_REQUEST,
                }
            })
        })
    });
    g.bench_function("http_post_cached", |b| {
        b.iter(|| {
            rt.block_on(async {
                match post(&f.key, &f.post_body).ok() {
                    Some(r) => black_box(status(&f.router, r).await),
                    None => StatusCode::BAD_REQUEST,
                }
            })
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
