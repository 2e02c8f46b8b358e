//! # ancora-billing-stripe
//!
//! Ancora's Stripe edge, through async-stripe: create a customer for a tenant, open a Checkout
//! session that subscribes it to a price, open the customer portal where a subscribed tenant
//! changes plan, and report usage as billing meter events. Nothing
//! else of Stripe's API is compiled in (see `Cargo.toml`). The service crate wraps this client
//! in its `PaymentProvider` trait; webhooks are verified there (by signature, whatever the
//! event's API version), not here.
//!
//! Every call that creates something takes an idempotency key: a retried call after a lost
//! answer creates nothing twice. Meter events also carry Stripe's own `identifier`, which
//! Stripe deduplicates for a day at least.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::time::Duration;

use stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeRequest};
use stripe_billing::billing_meter_event::CreateBillingMeterEvent;
use stripe_billing::billing_portal_session::CreateBillingPortalSession;
use stripe_checkout::checkout_session::{CreateCheckoutSession, CreateCheckoutSessionLineItems};
use stripe_core::customer::CreateCustomer;
use stripe_shared::CheckoutSessionMode;

/// Stripe's API base.
pub const DEFAULT_API_BASE: &str = "https://api.stripe.com/";

/// What went wrong talking to Stripe.
#[derive(Debug, thiserror::Error)]
pub enum StripeError {
    /// The configuration (base URL, key characters) is unusable.
    #[error("Stripe client configuration: {0}")]
    Config(String),
    /// An idempotency key or identifier Stripe would refuse.
    #[error("invalid idempotency key: {0}")]
    Key(String),
    /// Stripe answered with an error status (4xx: the request is wrong; 5xx: retry).
    #[error("Stripe refused the request (HTTP {status}): {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// Stripe's error message.
        message: String,
    },
    /// No answer, or one that is not Stripe's shape: retry later.
    #[error("cannot reach Stripe: {0}")]
    Transport(String),
}

impl StripeError {
    /// True when retrying the same request later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            StripeError::Refused { status, .. } => *status == 429 || *status >= 500,
            StripeError::Transport(_) => true,
            StripeError::Config(_) | StripeError::Key(_) => false,
        }
    }
}

impl From<stripe::StripeError> for StripeError {
    fn from(e: stripe::StripeError) -> Self {
        match e {
            stripe::StripeError::Stripe(err, status) => StripeError::Refused {
                status,
                message: err.message.clone().unwrap_or_else(|| "no message".into()),
            },
            stripe::StripeError::ConfigError(m) => StripeError::Config(m),
            other => StripeError::Transport(other.to_string()),
        }
    }
}

/// One meter event: `value` units of `event_name` for `customer`, at `timestamp` (Unix
/// seconds), deduplicated by Stripe on `identifier`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterEvent {
    /// The meter's event name (e.g. `ancora_events`).
    pub event_name: String,
    /// The Stripe customer (`cus_…`).
    pub customer: String,
    /// How many units.
    pub value: u64,
    /// Unique per report: a retry sends the same one.
    pub identifier: String,
    /// When the usage happened (Unix seconds).
    pub timestamp: i64,
}

/// A Checkout session to open: subscribe `customer` to `price`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutRequest {
    /// The Stripe customer (`cus_…`).
    pub customer: String,
    /// The price the subscription uses (`price_…`); a metered price takes no quantity.
    pub price: String,
    /// Set on the session and echoed back in `checkout.session.completed`: the tenant id.
    pub client_reference_id: String,
    /// Where Stripe sends the person after paying.
    pub success_url: String,
    /// Where Stripe sends the person who gives up.
    pub cancel_url: String,
    /// Makes the call idempotent.
    pub idempotency_key: String,
}

/// An opened Checkout session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutSession {
    /// `cs_…`.
    pub id: String,
    /// The page to send the person to.
    pub url: Option<String>,
}

/// A Stripe API client with Ancora's three calls.
#[derive(Clone)]
pub struct StripeClient {
    client: Client,
}

impl std::fmt::Debug for StripeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key never prints.
        f.debug_struct("StripeClient").finish_non_exhaustive()
    }
}

impl StripeClient {
    /// A client with `secret_key` against `api_base` (Stripe's, or a test double's).
    pub fn new(secret_key: &str, api_base: &str, timeout: Duration) -> Result<Self, StripeError> {
        let client = ClientBuilder::new(secret_key)
            .url(api_base)
            .timeout(timeout)
            .app_info("ancora", Some(env!("CARGO_PKG_VERSION").into()), None)
            .build()?;
        Ok(StripeClient { client })
    }

    /// `POST /v1/customers` with the tenant's name and id (metadata `tenant_id`); returns
    /// the customer id.
    pub async fn create_customer(
        &self,
        tenant_id: &str,
        name: &str,
        idempotency_key: &str,
    ) -> Result<String, StripeError> {
        let metadata = HashMap::from([("tenant_id".to_owned(), tenant_id.to_owned())]);
        let customer = CreateCustomer::new()
            .name(name)
            .metadata(metadata)
            .customize()
            .request_strategy(idempotent(idempotency_key)?)
            .send(&self.client)
            .await?;
        Ok(customer.id.to_string())
    }

    /// `POST /v1/billing/meter_events`; Stripe answers with the event it recorded.
    pub async fn report_meter_event(&self, event: &MeterEvent) -> Result<(), StripeError> {
        let payload = HashMap::from([
            ("stripe_customer_id".to_owned(), event.customer.clone()),
            ("value".to_owned(), event.value.to_string()),
        ]);
        CreateBillingMeterEvent::new(event.event_name.clone(), payload)
            .identifier(event.identifier.clone())
            .timestamp(event.timestamp)
            .customize()
            .request_strategy(idempotent(&event.identifier)?)
            .send(&self.client)
            .await?;
        Ok(())
    }

    /// `POST /v1/checkout/sessions` in subscription mode for one price.
    pub async fn create_checkout_session(
        &self,
        req: &CheckoutRequest,
    ) -> Result<CheckoutSession, StripeError> {
        let mut item = CreateCheckoutSessionLineItems::new();
        item.price = Some(req.price.clone());
        let session = CreateCheckoutSession::new()
            .mode(CheckoutSessionMode::Subscription)
            .customer(req.customer.clone())
            .client_reference_id(req.client_reference_id.clone())
            .line_items(vec![item])
            .success_url(req.success_url.clone())
            .cancel_url(req.cancel_url.clone())
            .customize()
            .request_strategy(idempotent(&req.idempotency_key)?)
            .send(&self.client)
            .await?;
        Ok(CheckoutSession {
            id: session.id.to_string(),
            url: session.url,
        })
    }
}

impl StripeClient {
    /// `POST /v1/billing_portal/sessions`: Stripe's customer portal for `customer` (change
    /// plan on the existing subscription, update payment details, see invoices); returns its
    /// URL.
    pub async fn create_portal_session(
        &self,
        customer: &str,
        return_url: &str,
    ) -> Result<String, StripeError> {
        let session = CreateBillingPortalSession::new()
            .customer(customer)
            .return_url(return_url)
            .send(&self.client)
            .await?;
        Ok(session.url)
    }
}

fn idempotent(key: &str) -> Result<RequestStrategy, StripeError> {
    let key = IdempotencyKey::new(key).map_err(|e| StripeError::Key(e.to_string()))?;
    Ok(RequestStrategy::Idempotent(key))
}
