//! A tenant's account: its month (usage, quotas, estimate), its plan as an operator sets it,
//! and Stripe Checkout to subscribe or change plan.

use time::OffsetDateTime;

use super::provider::Checkout;
use super::{Billing, BillingError, Metric, UsageSummary, midnight, month_of};
use crate::db;
use crate::domain::TenantId;

impl Billing {
    /// The tenant's month: plan, usage, quotas and the next invoice's estimate.
    pub async fn usage(&self, tenant: TenantId) -> Result<UsageSummary, BillingError> {
        let view = self.reload(tenant).await?;
        let (start, next) = month_of(OffsetDateTime::now_utc());
        let row = {
            let mut tx = self.db.tenant_tx(tenant).await?;
            let row = db::billing::find(&mut tx, tenant).await?;
            tx.commit().await?;
            row
        };
        let has_customer = row.as_ref().is_some_and(|r| r.stripe_customer.is_some());
        let has_subscription = row
            .as_ref()
            .is_some_and(|r| r.stripe_subscription.is_some());
        let plan = &view.plan;
        let estimate_cents = Metric::ALL.iter().fold(plan.monthly_fee_cents, |acc, m| {
            let units = u128::from(view.used(*m));
            let cost = (units * u128::from(plan.cents_per_1000(*m))).div_ceil(1000);
            acc.saturating_add(u64::try_from(cost).unwrap_or(u64::MAX))
        });
        Ok(UsageSummary {
            plan: plan.name.clone(),
            limits_plan: view.limits.name.clone(),
            payment_failed: view.payment_failed,
            period_start: midnight(start),
            period_end: midnight(next),
            usage: view.used,
            quotas: Metric::ALL.map(|m| view.limits.quota(m)),
            estimate_cents,
            has_customer,
            has_subscription,
        })
    }

    /// Puts a tenant on `plan` (an operator's decision), linking a Stripe customer when given.
    pub async fn set_plan(
        &self,
        tenant: TenantId,
        plan: &str,
        customer: Option<&str>,
    ) -> Result<(), BillingError> {
        if self.config.plans.get(plan).is_none() {
            return Err(BillingError::Invalid(format!(
                "no plan called {plan:?}; the plans are: {}",
                self.config.plans.names()
            )));
        }
        if let Some(c) = customer {
            check_customer_id(c)?;
        }
        let mut tx = self.db.system_tx().await?;
        if !db::billing::tenant_exists(&mut tx, tenant.0).await? {
            return Err(BillingError::NoSuchTenant(tenant));
        }
        drop(tx);
        let mut tx = self.db.tenant_tx(tenant).await?;
        db::billing::set_plan(&mut tx, tenant, plan, customer)
            .await
            .map_err(customer_taken)?;
        if customer.is_some() {
            db::billing::init_cursors(&mut tx, tenant, &counters()).await?;
        }
        let entry = db::audit::AuditEntry {
            tenant: Some(tenant),
            actor: "cli",
            action: "billing.plan_set",
            subject: Some(plan),
            details: serde_json::json!({ "plan": plan, "stripe_customer": customer }),
        };
        db::audit::record(&mut tx, entry).await?;
        tx.commit().await?;
        self.forget(tenant);
        Ok(())
    }

    /// Opens Stripe's customer portal for a subscribed tenant, where the plan is changed on
    /// the subscription it has (a second Checkout would start a second subscription).
    pub async fn manage_subscription(
        &self,
        tenant: TenantId,
        return_url: &str,
    ) -> Result<String, BillingError> {
        let mut tx = self.db.tenant_tx(tenant).await?;
        let row = db::billing::find(&mut tx, tenant).await?;
        tx.commit().await?;
        let customer = row
            .filter(|r| r.stripe_subscription.is_some())
            .and_then(|r| r.stripe_customer)
            .ok_or_else(|| {
                BillingError::Invalid("this tenant has no Stripe subscription to manage".into())
            })?;
        Ok(self.provider.manage(&customer, return_url).await?)
    }

    /// Opens a Stripe Checkout session that subscribes the tenant to `plan` (creating its
    /// customer first when it has none); returns the URL to send the person to.
    pub async fn start_checkout(
        &self,
        tenant: TenantId,
        tenant_name: &str,
        plan: &str,
        return_url: &str,
    ) -> Result<String, BillingError> {
        let price = self
            .config
            .plans
            .get(plan)
            .and_then(|p| p.stripe_price.clone())
            .ok_or_else(|| {
                BillingError::Invalid(format!("plan {plan:?} cannot be bought through Stripe"))
            })?;
        let mut tx = self.db.tenant_tx(tenant).await?;
        let row = db::billing::find(&mut tx, tenant).await?;
        tx.commit().await?;
        if row
            .as_ref()
            .is_some_and(|r| r.stripe_subscription.is_some())
        {
            return Err(BillingError::Invalid(
                "this tenant has a subscription already: change its plan in Stripe's customer portal (Manage subscription)".into(),
            ));
        }
        let customer = match row.and_then(|r| r.stripe_customer) {
            Some(c) => c,
            None => {
                let c = self
                    .provider
                    .create_customer(&tenant.to_string(), tenant_name)
                    .await?;
                check_customer_id(&c)?;
                let mut tx = self.db.tenant_tx(tenant).await?;
                db::billing::set_customer(&mut tx, tenant, &c, &self.config.default_plan)
                    .await
                    .map_err(customer_taken)?;
                db::billing::init_cursors(&mut tx, tenant, &counters()).await?;
                tx.commit().await?;
                c
            }
        };
        let url = self
            .provider
            .checkout(&Checkout {
                customer,
                price,
                tenant_id: tenant.to_string(),
                success_url: format!("{return_url}?checkout=done"),
                cancel_url: format!("{return_url}?checkout=cancelled"),
                idempotency_key: format!("ancora-checkout-{}", uuid::Uuid::new_v4()),
            })
            .await?;
        Ok(url)
    }
}

/// A Stripe customer linked to another tenant is refused plainly.
pub(super) fn customer_taken(e: sqlx::Error) -> BillingError {
    if db::is_unique_violation(&e, "tenant_billing_stripe_customer_key") {
        BillingError::Invalid("that Stripe customer is linked to another tenant".into())
    } else {
        e.into()
    }
}

/// Every metric's counter name.
pub(super) fn counters() -> Vec<String> {
    Metric::ALL.iter().map(|m| m.counter().to_owned()).collect()
}

/// A Stripe customer id: `cus_` and letters or digits.
pub fn check_customer_id(c: &str) -> Result<(), BillingError> {
    let ok = c.strip_prefix("cus_").is_some_and(|rest| {
        !rest.is_empty() && rest.len() <= 250 && rest.chars().all(|ch| ch.is_ascii_alphanumeric())
    });
    if ok {
        Ok(())
    } else {
        Err(BillingError::Invalid(format!(
            "{c:?} is not a Stripe customer id (cus_ followed by letters and digits)"
        )))
    }
}
