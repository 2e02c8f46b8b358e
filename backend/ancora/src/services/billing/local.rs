//! The embedded default: no Stripe. Plans, metering, quotas and the billing page all work;
//! usage stays in Postgres and nothing calls out. Plans are set by an operator
//! (`ancora admin plan set`).

use super::provider::{Checkout, PaymentProvider, ProviderError, ProviderFuture, UsageReport};

/// The provider when no Stripe key is configured.
#[derive(Debug, Default)]
pub struct LocalProvider;

impl PaymentProvider for LocalProvider {
    fn name(&self) -> &'static str {
        "local"
    }

    fn reports_usage(&self) -> bool {
        false
    }

    fn create_customer<'a>(&'a self, _: &'a str, _: &'a str) -> ProviderFuture<'a, String> {
        Box::pin(async { Err(ProviderError::NotConfigured) })
    }

    fn checkout<'a>(&'a self, _: &'a Checkout) -> ProviderFuture<'a, String> {
        Box::pin(async { Err(ProviderError::NotConfigured) })
    }

    fn manage<'a>(&'a self, _: &'a str, _: &'a str) -> ProviderFuture<'a, String> {
        Box::pin(async { Err(ProviderError::NotConfigured) })
    }

    fn report_usage<'a>(&'a self, _: &'a UsageReport) -> ProviderFuture<'a, ()> {
        Box::pin(async { Err(ProviderError::NotConfigured) })
    }
}
