//! Stripe, through the `ancora-billing-stripe` crate (async-stripe, in a crate of its own so
//! that edits here never recompile Stripe's generated types).

use std::time::Duration;

use ancora_billing_stripe::{CheckoutRequest, MeterEvent, StripeClient, StripeError};

use super::provider::{Checkout, PaymentProvider, ProviderError, ProviderFuture, UsageReport};

/// Stripe as the payment provider.
#[derive(Debug)]
pub struct StripeProvider {
    client: StripeClient,
}

impl StripeProvider {
    /// A provider with `secret_key` against `api_base`.
    pub fn new(secret_key: &str, api_base: &str) -> Result<Self, ProviderError> {
        let client = StripeClient::new(secret_key, api_base, Duration::from_secs(20))
            .map_err(|e| ProviderError::Refused(e.to_string()))?;
        Ok(StripeProvider { client })
    }
}

fn translate(e: StripeError) -> ProviderError {
    if e.is_retryable() {
        ProviderError::Unavailable(e.to_string())
    } else {
        ProviderError::Refused(e.to_string())
    }
}

impl PaymentProvider for StripeProvider {
    fn name(&self) -> &'static str {
        "stripe"
    }

    fn reports_usage(&self) -> bool {
        true
    }

    fn create_customer<'a>(
        &'a self,
        tenant_id: &'a str,
        name: &'a str,
    ) -> ProviderFuture<'a, String> {
        Box::pin(async move {
            // One customer per tenant, whoever asks twice.
            let key = format!("ancora-customer-{tenant_id}");
            self.client
                .create_customer(tenant_id, name, &key)
                .await
                .map_err(translate)
        })
    }

    fn checkout<'a>(&'a self, c: &'a Checkout) -> ProviderFuture<'a, String> {
        Box::pin(async move {
            let session = self
                .client
                .create_checkout_session(&CheckoutRequest {
                    customer: c.customer.clone(),
                    price: c.price.clone(),
                    client_reference_id: c.tenant_id.clone(),
                    success_url: c.success_url.clone(),
                    cancel_url: c.cancel_url.clone(),
                    idempotency_key: c.idempotency_key.clone(),
                })
                .await
                .map_err(translate)?;
            session.url.ok_or_else(|| {
                ProviderError::Refused(format!("Checkout session {} has no URL", session.id))
            })
        })
    }

    fn manage<'a>(&'a self, customer: &'a str, return_url: &'a str) -> ProviderFuture<'a, String> {
        Box::pin(async move {
            self.client
                .create_portal_session(customer, return_url)
                .await
                .map_err(translate)
        })
    }

    fn report_usage<'a>(&'a self, r: &'a UsageReport) -> ProviderFuture<'a, ()> {
        Box::pin(async move {
            self.client
                .report_meter_event(&MeterEvent {
                    event_name: r.event_name.clone(),
                    customer: r.customer.clone(),
                    value: r.value,
                    identifier: r.identifier.clone(),
                    timestamp: r.timestamp,
                })
                .await
                .map_err(translate)
        })
    }
}
