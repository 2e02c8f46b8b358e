//! Stripe webhooks: `Stripe-Signature` verified (HMAC-SHA256 of `timestamp.payload` with the
//! endpoint's secret, the timestamp within the tolerance), each event id applied once, in the
//! transaction that records it.
//!
//! The event is read as JSON for the fields used and nothing else, so events of any
//! `api_version` are accepted as long as those fields are there:
//!
//! * `checkout.session.completed` — links `customer` to the tenant in `client_reference_id`;
//! * `customer.subscription.created|updated` — the first item's `price.id` decides the plan
//!   (`status` canceled or incomplete_expired: back to `free`; `incomplete`: nothing yet);
//! * `customer.subscription.deleted` — back to `free`;
//! * `invoice.paid` / `invoice.payment_failed` — clears / starts the grace period.
//!
//! Anything else is answered 200 and logged. An unknown customer or price changes nothing
//! (logged). A forged, stale or malformed signature is [`WebhookError`] (400), with nothing
//! changed.

use hmac::{Hmac, Mac};
use secrecy::ExposeSecret as _;
use serde_json::Value;
use sha2::Sha256;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Billing, BillingError, plans};
use crate::db::{self, Tx};
use crate::domain::TenantId;

/// A webhook refused before anything is read from it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// No webhook secret is configured.
    #[error(
        "Stripe webhooks are not configured on this deployment (no ANCORA_STRIPE_WEBHOOK_SECRET)"
    )]
    NotConfigured,
    /// The Stripe-Signature header is missing or unreadable.
    #[error("malformed or missing Stripe-Signature header: {0}")]
    MalformedHeader(String),
    /// No signature matches.
    #[error("no Stripe-Signature signature matches the payload")]
    BadSignature,
    /// The signed timestamp is outside the tolerance.
    #[error("the Stripe-Signature timestamp is {0} s away from now, beyond the tolerance")]
    Stale(i64),
    /// Signed, but not an event Ancora can read.
    #[error("the event cannot be read: {0}")]
    BadPayload(String),
}

/// What a verified webhook did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Applied.
    Applied,
    /// This event id was handled before: nothing done.
    Duplicate,
    /// Recorded, nothing changed (the reason is logged).
    Ignored(String),
}

/// Verifies `header` over `payload` with `secret` at `now` (Unix seconds).
pub fn verify_signature(
    payload: &[u8],
    header: &str,
    secret: &[u8],
    tolerance_secs: i64,
    now: i64,
) -> Result<(), WebhookError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let (k, v) = part
            .trim()
            .split_once('=')
            .ok_or_else(|| WebhookError::MalformedHeader(format!("{part:?} is not key=value")))?;
        match k {
            "t" => {
                timestamp = Some(v.parse::<i64>().map_err(|_| {
                    WebhookError::MalformedHeader("t is not a Unix timestamp".into())
                })?)
            }
            "v1" => signatures.push(
                hex::decode(v)
                    .map_err(|_| WebhookError::MalformedHeader("v1 is not hex".into()))?,
            ),
            _ => {} // v0 (test mode's old scheme) and future schemes are ignored.
        }
    }
    let t = timestamp.ok_or_else(|| WebhookError::MalformedHeader("no t=".into()))?;
    if signatures.is_empty() {
        return Err(WebhookError::MalformedHeader("no v1= signature".into()));
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| WebhookError::BadSignature)?;
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    let ok = signatures
        .iter()
        .any(|sig| mac.clone().verify_slice(sig).is_ok());
    if !ok {
        return Err(WebhookError::BadSignature);
    }
    let skew = now.saturating_sub(t);
    if skew.abs() > tolerance_secs {
        return Err(WebhookError::Stale(skew));
    }
    Ok(())
}

/// A `Stripe-Signature` header for `payload` at `timestamp` (what Stripe sends; for tests
/// and for replaying an event by hand).
pub fn sign(payload: &[u8], secret: &[u8], timestamp: i64) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(payload);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

fn need<'a>(v: &'a Value, path: &[&str]) -> Result<&'a str, WebhookError> {
    str_at(v, path).ok_or_else(|| WebhookError::BadPayload(format!("no {}", path.join("."))))
}

impl Billing {
    /// Verifies and applies one webhook delivery.
    pub async fn handle_webhook(
        &self,
        payload: &[u8],
        signature: Option<&str>,
    ) -> Result<Outcome, BillingError> {
        let secret = self
            .config
            .stripe_webhook_secret
            .as_ref()
            .ok_or(WebhookError::NotConfigured)?;
        let header = signature
            .ok_or_else(|| WebhookError::MalformedHeader("no Stripe-Signature header".into()))?;
        let tolerance = i64::try_from(self.config.webhook_tolerance.as_secs()).unwrap_or(300);
        let now = OffsetDateTime::now_utc().unix_timestamp();
        verify_signature(
            payload,
            header,
            secret.expose_secret().as_bytes(),
            tolerance,
            now,
        )?;
        let event: Value = serde_json::from_slice(payload)
            .map_err(|e| WebhookError::BadPayload(format!("not JSON: {e}")))?;
        let id = need(&event, &["id"])?;
        let kind = need(&event, &["type"])?;
        let object = event
            .get("data")
            .and_then(|d| d.get("object"))
            .filter(|o| o.is_object())
            .ok_or_else(|| WebhookError::BadPayload("no data.object".into()))?;
        let outcome = self.apply(id, kind, object).await?;
        match &outcome {
            Outcome::Ignored(why) => {
                tracing::info!(event_id = id, event_type = kind, reason = %why, "Stripe event ignored")
            }
            Outcome::Duplicate => tracing::info!(event_id = id, "Stripe event seen before"),
            Outcome::Applied => {
                tracing::info!(event_id = id, event_type = kind, "Stripe event applied")
            }
        }
        Ok(outcome)
    }

    async fn apply(&self, id: &str, kind: &str, object: &Value) -> Result<Outcome, BillingError> {
        let tenant = match kind {
            "checkout.session.completed" => {
                let t = need(object, &["client_reference_id"])?;
                match t.parse::<Uuid>() {
                    Ok(t) if self.tenant_exists(t).await? => Some(TenantId(t)),
                    _ => return self.ignore(id, kind, format!("no tenant {t:?}")).await,
                }
            }
            "customer.subscription.created"
            | "customer.subscription.updated"
            | "customer.subscription.deleted"
            | "invoice.paid"
            | "invoice.payment_failed" => {
                let customer = need(object, &["customer"])?;
                let mut tx = self.db.system_tx().await?;
                let t = db::billing::tenant_of_customer(&mut tx, customer).await?;
                drop(tx);
                match t {
                    Some(t) => Some(t),
                    None => {
                        return self
                            .ignore(id, kind, format!("no tenant has customer {customer}"))
                            .await;
                    }
                }
            }
            _ => None,
        };
        let Some(tenant) = tenant else {
            return self.ignore(id, kind, "event type not handled".into()).await;
        };
        let mut tx = self.db.tenant_tx(tenant).await?;
        if !db::billing::record_webhook_event(&mut tx, id, kind).await? {
            return Ok(Outcome::Duplicate);
        }
        let outcome = self.change(&mut tx, tenant, kind, object).await?;
        tx.commit().await?;
        self.forget(tenant);
        Ok(outcome)
    }

    async fn change(
        &self,
        tx: &mut Tx,
        tenant: TenantId,
        kind: &str,
        object: &Value,
    ) -> Result<Outcome, BillingError> {
        match kind {
            "checkout.session.completed" => {
                let customer = need(object, &["customer"])?;
                super::check_customer_id(customer)?;
                if db::billing::tenant_of_customer(tx, customer)
                    .await?
                    .is_some_and(|t| t != tenant)
                {
                    return Ok(Outcome::Ignored(format!(
                        "customer {customer} is linked to another tenant"
                    )));
                }
                db::billing::set_customer(tx, tenant, customer, &self.config.default_plan)
                    .await
                    .map_err(super::account::customer_taken)?;
                db::billing::init_cursors(tx, tenant, &super::account::counters()).await?;
            }
            "customer.subscription.created" | "customer.subscription.updated" => {
                let sub = need(object, &["id"])?;
                let status = need(object, &["status"])?;
                let price = object
                    .get("items")
                    .and_then(|i| i.get("data"))
                    .and_then(|d| d.get(0))
                    .and_then(|item| str_at(item, &["price", "id"]))
                    .ok_or_else(|| WebhookError::BadPayload("no items.data[0].price.id".into()))?;
                match status {
                    "canceled" | "incomplete_expired" => {
                        self.change_plan(tx, tenant, plans::FREE, None).await?
                    }
                    "incomplete" => {
                        return Ok(Outcome::Ignored("subscription not paid yet".into()));
                    }
                    _ => match self.config.plans.by_price(price) {
                        Some(plan) => self.change_plan(tx, tenant, &plan.name, Some(sub)).await?,
                        None => {
                            return Ok(Outcome::Ignored(format!(
                                "price {price} is no plan's stripe_price"
                            )));
                        }
                    },
                }
            }
            "customer.subscription.deleted" => {
                let sub = need(object, &["id"])?;
                let current = db::billing::find(tx, tenant)
                    .await?
                    .and_then(|r| r.stripe_subscription);
                if current.as_deref().is_some_and(|c| c != sub) {
                    return Ok(Outcome::Ignored(format!(
                        "subscription {sub} is not the tenant's current one"
                    )));
                }
                self.change_plan(tx, tenant, plans::FREE, None).await?;
            }
            "invoice.paid" => db::billing::set_payment_failed(tx, tenant, false).await?,
            "invoice.payment_failed" => db::billing::set_payment_failed(tx, tenant, true).await?,
            _ => return Ok(Outcome::Ignored("event type not handled".into())),
        }
        Ok(Outcome::Applied)
    }

    async fn change_plan(
        &self,
        tx: &mut Tx,
        tenant: TenantId,
        plan: &str,
        subscription: Option<&str>,
    ) -> Result<(), BillingError> {
        db::billing::set_subscription(tx, tenant, plan, subscription).await?;
        let entry = db::audit::AuditEntry {
            tenant: Some(tenant),
            actor: "stripe",
            action: "billing.plan_changed",
            subject: Some(plan),
            details: serde_json::json!({ "plan": plan, "subscription": subscription }),
        };
        db::audit::record(tx, entry).await?;
        Ok(())
    }

    async fn tenant_exists(&self, t: Uuid) -> Result<bool, BillingError> {
        let mut tx = self.db.system_tx().await?;
        Ok(db::billing::tenant_exists(&mut tx, t).await?)
    }

    /// Records the event id (so a replay is a duplicate) and changes nothing.
    async fn ignore(&self, id: &str, kind: &str, why: String) -> Result<Outcome, BillingError> {
        let mut tx = self.db.system_tx().await?;
        if !db::billing::record_webhook_event(&mut tx, id, kind).await? {
            return Ok(Outcome::Duplicate);
        }
        tx.commit().await?;
        Ok(Outcome::Ignored(why))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_test";

    #[test]
    fn a_signature_made_with_the_secret_verifies_and_others_do_not() {
        let payload = br#"{"id":"evt_1"}"#;
        let header = sign(payload, SECRET, 1_700_000_000);
        assert_eq!(
            verify_signature(payload, &header, SECRET, 300, 1_700_000_010),
            Ok(())
        );
        assert_eq!(
            verify_signature(payload, &header, b"whsec_other", 300, 1_700_000_010),
            Err(WebhookError::BadSignature)
        );
        assert_eq!(
            verify_signature(br#"{"id":"evt_2"}"#, &header, SECRET, 300, 1_700_000_010),
            Err(WebhookError::BadSignature)
        );
        assert_eq!(
            verify_signature(payload, &header, SECRET, 300, 1_700_000_400),
            Err(WebhookError::Stale(400))
        );
        // A second, wrong v1 beside the right one (Stripe sends several while secrets roll).
        let two = format!("{header},v1={}", "00".repeat(32));
        assert_eq!(
            verify_signature(payload, &two, SECRET, 300, 1_700_000_000),
            Ok(())
        );
    }

    #[test]
    fn malformed_headers_are_refused_as_such() {
        for h in ["", "t=abc,v1=00", "t=1", "v1=00", "t=1,v1=zz", "garbage"] {
            assert!(
                matches!(
                    verify_signature(b"{}", h, SECRET, 300, 1),
                    Err(WebhookError::MalformedHeader(_))
                ),
                "{h:?}"
            );
        }
    }
}
