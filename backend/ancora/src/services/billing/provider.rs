//! The payment provider: what billing asks of Stripe, as a trait with one file per backend
//! ([`super::stripe`], [`super::local`]). With no Stripe key the local provider is used and
//! nothing calls out.

use std::future::Future;
use std::pin::Pin;

/// What a provider call returns.
pub type ProviderFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, ProviderError>> + Send + 'a>>;

/// Why a provider call failed.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// No payment provider is configured (the local default).
    #[error("Stripe is not configured on this deployment (no ANCORA_STRIPE_SECRET_KEY)")]
    NotConfigured,
    /// The provider refused the request; retrying it unchanged will not help.
    #[error("{0}")]
    Refused(String),
    /// The provider could not be reached or failed: retry later.
    #[error("{0}")]
    Unavailable(String),
}

/// One usage report: `value` units of a meter for a customer, deduplicated by `identifier`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageReport {
    /// The meter's event name.
    pub event_name: String,
    /// The customer (`cus_…`).
    pub customer: String,
    /// Units.
    pub value: u64,
    /// Unique per report; a retry sends the same.
    pub identifier: String,
    /// When (Unix seconds).
    pub timestamp: i64,
}

/// A Checkout session to open for a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    /// The customer.
    pub customer: String,
    /// The price of the plan chosen.
    pub price: String,
    /// The tenant (Stripe echoes it back in `checkout.session.completed`).
    pub tenant_id: String,
    /// Back to the portal after paying.
    pub success_url: String,
    /// Back to the portal after giving up.
    pub cancel_url: String,
    /// Makes the call idempotent.
    pub idempotency_key: String,
}

/// A payment backend.
pub trait PaymentProvider: Send + Sync + std::fmt::Debug {
    /// `stripe` or `local`.
    fn name(&self) -> &'static str;
    /// Whether usage is reported anywhere (the local provider keeps it in Postgres only).
    fn reports_usage(&self) -> bool;
    /// Creates a customer for a tenant; returns its id.
    fn create_customer<'a>(
        &'a self,
        tenant_id: &'a str,
        name: &'a str,
    ) -> ProviderFuture<'a, String>;
    /// Opens a Checkout session; returns the URL to send the person to.
    fn checkout<'a>(&'a self, checkout: &'a Checkout) -> ProviderFuture<'a, String>;
    /// Opens the provider's customer portal (a subscribed customer changes plan there, on
    /// the subscription it has); returns its URL.
    fn manage<'a>(&'a self, customer: &'a str, return_url: &'a str) -> ProviderFuture<'a, String>;
    /// Reports usage.
    fn report_usage<'a>(&'a self, report: &'a UsageReport) -> ProviderFuture<'a, ()>;
}
