//! Sending one delivery: the body signed with the endpoint's secret
//! (`Ancora-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`), POSTed to the
//! addresses the guard checked (pinned), no redirect followed, within the configured timeout;
//! then the outcome recorded and, on failure, the next attempt scheduled with exponential
//! backoff until a day after the delivery was made.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use time::OffsetDateTime;
use uuid::Uuid;

use super::guard::{self, Checked};
use crate::db::jobs::{self, Job};
use crate::db::webhooks::{self as store, Attempt};
use crate::domain::TenantId;
use crate::services::Services;
use crate::services::settings::WebhookConfig;

/// How long a delivery is retried after it was made.
pub const RETRY_FOR: Duration = Duration::from_secs(24 * 3600);

/// The first retry's delay; each next one doubles, up to [`MAX_DELAY`].
pub const FIRST_DELAY: Duration = Duration::from_secs(10);

/// The longest wait between two attempts.
pub const MAX_DELAY: Duration = Duration::from_secs(4 * 3600);

/// The signature header's name.
pub const SIGNATURE_HEADER: &str = "Ancora-Signature";

/// `t=<t>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed with secret>`.
pub fn signature(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// The wait after the `attempts`-th failed attempt: 10 s doubling, at most 4 h, plus up to a
/// tenth of jitter.
pub fn retry_delay(attempts: i32) -> Duration {
    let exp = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(20);
    let base = FIRST_DELAY.saturating_mul(1 << exp).min(MAX_DELAY);
    base + base.mul_f64(rand::random::<f64>() * 0.1)
}

/// What one attempt came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx answer.
    Delivered(u16),
    /// Anything else: the status when there was one, and why.
    Failed {
        /// The HTTP status answered.
        status: Option<u16>,
        /// Why it failed (no secret in it).
        error: String,
    },
}

/// POSTs `body` to the checked URL, signed; redirects are answers (failures), not followed.
pub async fn post(
    cfg: &WebhookConfig,
    to: &Checked,
    secret: &str,
    event_id: Uuid,
    event_type: &str,
    body: Vec<u8>,
) -> Outcome {
    let failed = |status: Option<u16>, error: String| Outcome::Failed { status, error };
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(cfg.timeout)
        .connect_timeout(cfg.timeout)
        .user_agent(concat!("Ancora-Webhooks/", env!("CARGO_PKG_VERSION")));
    if let Some(domain) = &to.domain {
        // Connect only to the addresses that were checked (no second DNS answer).
        builder = builder.resolve_to_addrs(domain, &to.addrs);
    }
    let client = match builder.build() {
        Ok(c) => c,
        Err(e) => return failed(None, format!("cannot build the HTTP client: {e}")),
    };
    let t = OffsetDateTime::now_utc().unix_timestamp();
    let sig = signature(secret, t, &body);
    let sent = client
        .post(to.url.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(SIGNATURE_HEADER, sig)
        .header("Ancora-Event-Id", event_id.to_string())
        .header("Ancora-Event-Type", event_type)
        .body(body)
        .send()
        .await;
    match sent {
        Ok(resp) => {
            let status = resp.status();
            if status.is_success() {
                Outcome::Delivered(status.as_u16())
            } else if status.is_redirection() {
                let to = resp
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("nowhere")
                    .chars()
                    .take(200)
                    .collect::<String>();
                failed(
                    Some(status.as_u16()),
                    format!("the receiver redirects (to {to}); redirects are not followed"),
                )
            } else {
                failed(
                    Some(status.as_u16()),
                    format!("the receiver answered {status}"),
                )
            }
        }
        Err(e) if e.is_timeout() => failed(
            None,
            format!("no answer within {} ms", cfg.timeout.as_millis()),
        ),
        Err(e) if e.is_connect() => failed(None, "cannot connect to the receiver".into()),
        Err(e) => failed(None, format!("sending failed: {}", e.without_url())),
    }
}

/// Runs one attempt of delivery `id` (the `webhook_delivery` job): read it, check its URL
/// again, send, then — in one transaction that takes the job — record the outcome and, on
/// failure, enqueue the next attempt (or give up a day after the delivery was made). A
/// delivery whose endpoint is gone, or that is settled already, just ends.
pub async fn deliver(svc: &Services, job: &Job, tenant: TenantId, id: Uuid) -> anyhow::Result<()> {
    let mut tx = svc.db.tenant_tx(tenant).await?;
    let found = store::delivery(&mut tx, tenant, id).await?;
    tx.commit().await?;
    let Some(d) = found.filter(|d| d.state == "pending") else {
        let mut tx = svc.db.tenant_tx(tenant).await?;
        if jobs::take(&mut tx, job).await? {
            tx.commit().await?;
        }
        return Ok(());
    };
    let cfg = &svc.settings.webhooks;
    let body = serde_json::to_vec(&d.payload)?;
    let outcome = match guard::check(&d.url, cfg.allow_loopback).await {
        Ok(checked) => post(cfg, &checked, &d.secret, d.id, &d.event_type, body).await,
        Err(refused) => Outcome::Failed {
            status: None,
            error: refused.to_string(),
        },
    };
    let attempts = d.attempts + 1;
    let mut tx = svc.db.tenant_tx(tenant).await?;
    if !jobs::take(&mut tx, job).await? {
        return Ok(());
    }
    match &outcome {
        Outcome::Delivered(status) => {
            store::record_attempt(
                &mut tx,
                tenant,
                id,
                &Attempt {
                    state: "delivered",
                    status: Some(i32::from(*status)),
                    error: None,
                    next_attempt_at: None,
                },
            )
            .await?;
        }
        Outcome::Failed { status, error } => {
            let next = OffsetDateTime::now_utc() + retry_delay(attempts);
            let give_up = next > d.created_at + RETRY_FOR;
            store::record_attempt(
                &mut tx,
                tenant,
                id,
                &Attempt {
                    state: if give_up { "failed" } else { "pending" },
                    status: status.map(i32::from),
                    error: Some(error),
                    next_attempt_at: (!give_up).then_some(next),
                },
            )
            .await?;
            if !give_up {
                jobs::enqueue_webhook_delivery(&mut tx, tenant, id, next).await?;
            }
        }
    }
    tx.commit().await?;
    match outcome {
        Outcome::Delivered(status) => {
            tracing::debug!(tenant_id = %tenant, delivery_id = %id, status, attempts, "webhook delivered");
        }
        Outcome::Failed { status, error } => {
            tracing::warn!(tenant_id = %tenant, delivery_id = %id, status, attempts, error = %error, "webhook delivery failed");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_hex_hmac_of_time_dot_body() {
        // HMAC-SHA256("whsec_test", "1700000000.{}"), computed independently.
        let mut mac = Hmac::<Sha256>::new_from_slice(b"whsec_test").expect("key");
        mac.update(b"1700000000.{}");
        let want = hex::encode(mac.finalize().into_bytes());
        assert_eq!(
            signature("whsec_test", 1_700_000_000, b"{}"),
            format!("t=1700000000,v1={want}")
        );
        assert_ne!(
            signature("whsec_other", 1_700_000_000, b"{}"),
            signature("whsec_test", 1_700_000_000, b"{}")
        );
    }

    #[test]
    fn retries_back_off_exponentially_to_four_hours_and_fit_about_seventeen_in_a_day() {
        assert!(retry_delay(1) >= FIRST_DELAY && retry_delay(1) <= Duration::from_secs(11));
        assert!(retry_delay(2) >= Duration::from_secs(20));
        assert!(retry_delay(30) <= MAX_DELAY.mul_f64(1.1));
        let mut total = Duration::ZERO;
        let mut n = 0;
        while total < RETRY_FOR {
            n += 1;
            total += retry_delay(n);
        }
        assert!((14..=20).contains(&n), "{n} attempts in a day");
    }
}
