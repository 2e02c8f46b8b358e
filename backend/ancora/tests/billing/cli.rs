//! `ancora admin plan set` and `ancora admin billing report-usage`, run as the real binary.

use std::process::{Command, Output};

use ancora::domain::Role;
use axum::http::Method;
use serde_json::json;
use sqlx::PgPool;

use super::usage_reports::{sent, stripe_double};
use super::{PLANS, with_plans};
use crate::helpers::{TestApp, digest_of};

fn url_of(pool: &PgPool) -> String {
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL is set for sqlx tests");
    let db = pool
        .connect_options()
        .get_database()
        .expect("name")
        .to_owned();
    let (server, _) = base.rsplit_once('/').expect("a URL with a database");
    format!("{server}/{db}")
}

/// Runs `ancora admin ARGS` off the test's runtime (the Stripe double serves on it).
async fn admin(pool: &PgPool, args: &[&str], env: &[(&str, &str)]) -> Output {
    let plans = std::env::temp_dir().join(format!("ancora-plans-{}.toml", std::process::id()));
    std::fs::write(&plans, PLANS).expect("plans file");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ancora"));
    cmd.env("DATABASE_URL", url_of(pool))
        .env("ANCORA_LOG", "warn")
        .env("ANCORA_PLANS_FILE", &plans)
        .env_remove("ANCORA_STRIPE_SECRET_KEY")
        .arg("admin")
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    tokio::task::spawn_blocking(move || cmd.output().expect("run ancora"))
        .await
        .expect("join")
}

fn text(o: &Output) -> (bool, String, String) {
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[sqlx::test(migrations = "../../migrations")]
async fn plan_set_puts_a_tenant_on_a_plan_and_links_its_stripe_customer(pool: PgPool) {
    let app = TestApp::with_config(pool.clone(), with_plans);
    let (tenant, key) = app.tenant_with_key(Role::Owner).await;
    let t = tenant.to_string();

    let (ok, out, err) = text(
        &admin(
            &pool,
            &[
                "plan",
                "set",
                "--tenant",
                &t,
                "--plan",
                "pro",
                "--stripe-customer",
                "cus_Contract9",
            ],
            &[],
        )
        .await,
    );
    assert!(ok, "{err}");
    assert!(out.contains("is on plan pro"), "{out}");
    let (_, _, body) = app
        .request(Method::GET, "/v1/usage", Some(&key), None)
        .await;
    assert_eq!(body["plan"], "pro");

    // An unknown plan or a malformed customer: a clear error, nothing changed.
    let (ok, _, err) = text(
        &admin(
            &pool,
            &["plan", "set", "--tenant", &t, "--plan", "gold"],
            &[],
        )
        .await,
    );
    assert!(!ok && err.contains("no plan called \"gold\""), "{err}");
    let (ok, _, err) = text(
        &admin(
            &pool,
            &[
                "plan",
                "set",
                "--tenant",
                &t,
                "--plan",
                "team",
                "--stripe-customer",
                "acme",
            ],
            &[],
        )
        .await,
    );
    assert!(!ok && err.contains("not a Stripe customer id"), "{err}");
    let (_, _, body) = app
        .request(Method::GET, "/v1/usage", Some(&key), None)
        .await;
    assert_eq!(body["plan"], "pro");
}

#[sqlx::test(migrations = "../../migrations")]
async fn report_usage_sends_meter_events_at_once_and_says_so_without_stripe(pool: PgPool) {
    let d = stripe_double(0).await;
    let app = TestApp::with_config(pool.clone(), with_plans);
    let (tenant, key) = app.tenant_with_key(Role::Owner).await;
    app.state
        .billing
        .set_plan(tenant, "team", Some("cus_Report1"))
        .await
        .expect("link");
    let events = json!([{"id": "cli-1", "digest": digest_of("cli 1")}]);
    app.post_events(&key, events).await;

    let (ok, _, err) = text(&admin(&pool, &["billing", "report-usage"], &[]).await);
    assert!(!ok && err.contains("Stripe is not configured"), "{err}");

    let env = [
        ("ANCORA_STRIPE_SECRET_KEY", "sk_test_ancora"),
        ("ANCORA_STRIPE_API_BASE", d.base.as_str()),
    ];
    let (ok, out, err) = text(&admin(&pool, &["billing", "report-usage"], &env).await);
    assert!(ok, "{err}");
    assert!(
        out.contains("reported 1 meter events (1 units) for 1 billed tenants"),
        "{out}"
    );
    let s = sent(&d);
    assert_eq!((s.len(), s[0].value.as_str()), (1, "1"));
    assert!(s[0].identifier.ends_with("-events_ingested-1"));
}
