//! Payment history and revenue: a player's payments with receipts, a game
//! master's revenue per campaign, and the admins' gross, refunds and net by
//! campaign and by month, seat conversion, recurring revenue and churn.
//! The sums are plain functions over the orders and subscriptions; orders
//! taken in test mode (no real money) are not revenue.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use crate::store::billing::{OrderMoney, RefundMoment, SubscriptionRow};

/// One payment as its payer sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Payment {
    /// The order.
    pub order_id: String,
    /// The campaign.
    pub campaign_id: String,
    /// Its title.
    pub campaign_title: String,
    /// pending, paid, partially_refunded, refunded, expired, cancelled
    /// (its seats were given up before it was paid) or failed.
    pub status: String,
    /// Seats paid for.
    pub seats: i64,
    /// Total, minor units.
    pub amount_minor: i64,
    /// Subscriber discount included, minor units.
    pub discount_minor: i64,
    /// Refunded, minor units.
    pub refunded_minor: i64,
    /// Refunds on their way, minor units.
    pub refund_pending_minor: i64,
    /// Refunds that could not be sent and were given up, minor units
    /// (owed back; an admin settles them).
    pub refund_failed_minor: i64,
    /// none, partial or full.
    pub refund_status: String,
    /// Currency.
    pub currency: String,
    /// test or stripe.
    pub provider: String,
    /// Stripe's receipt page, once the charge is known.
    pub receipt_url: Option<String>,
    /// Where to pay, while pending.
    pub checkout_url: Option<String>,
    /// Made, Unix ms.
    pub created_at: i64,
    /// Paid, Unix ms.
    pub paid_at: Option<i64>,
}

impl From<&OrderMoney> for Payment {
    fn from(m: &OrderMoney) -> Self {
        let o = &m.order;
        Payment {
            order_id: o.id.clone(),
            campaign_id: o.campaign_id.clone(),
            campaign_title: m.campaign_title.clone(),
            status: o.status.clone(),
            seats: o.seats,
            amount_minor: o.amount_minor,
            discount_minor: o.discount_minor,
            refunded_minor: m.refunded_minor,
            refund_pending_minor: m.refund_pending_minor,
            refund_failed_minor: m.refund_failed_minor,
            refund_status: match m.refunded_minor {
                0 => "none",
                r if r >= o.amount_minor => "full",
                _ => "partial",
            }
            .into(),
            currency: o.currency.clone(),
            provider: o.provider.clone(),
            receipt_url: m.receipt_url.clone(),
            checkout_url: o.checkout_url.clone().filter(|_| o.status == "pending"),
            created_at: o.created_at,
            paid_at: o.paid_at,
        }
    }
}

/// Money in one currency.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Totals {
    /// Currency.
    pub currency: String,
    /// Paid in, minor units.
    pub gross_minor: i64,
    /// Paid back, minor units.
    pub refunds_minor: i64,
    /// Gross less refunds, minor units.
    pub net_minor: i64,
    /// Refunds given up on (money owed back that did not go back),
    /// minor units.
    pub refunds_failed_minor: i64,
    /// Paid orders.
    pub orders_paid: i64,
    /// Seats paid for.
    pub seats_paid: i64,
}

impl Totals {
    fn add(&mut self, m: &OrderMoney) {
        self.add_sale(m);
        self.add_refund(m.refunded_minor);
        self.refunds_failed_minor += m.refund_failed_minor;
    }

    fn add_sale(&mut self, m: &OrderMoney) {
        self.gross_minor += m.order.amount_minor;
        self.net_minor = self.gross_minor - self.refunds_minor;
        self.orders_paid += 1;
        self.seats_paid += m.order.seats;
    }

    fn add_refund(&mut self, amount: i64) {
        self.refunds_minor += amount;
        self.net_minor = self.gross_minor - self.refunds_minor;
    }
}

/// Whether an order took the money (refunds since or not).
pub fn took_money(status: &str) -> bool {
    matches!(status, "paid" | "partially_refunded" | "refunded")
}

/// Holds that became payments.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct Conversion {
    /// Orders started (each from a seat hold).
    pub orders: i64,
    /// Of those, paid.
    pub paid: i64,
    /// paid / orders (0 when there were none).
    pub rate: f64,
}

/// One campaign's revenue.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CampaignRevenue {
    /// The campaign.
    pub campaign_id: String,
    /// Its title.
    pub campaign_title: String,
    /// Money per currency.
    pub totals: Vec<Totals>,
    /// Holds that became payments.
    pub conversion: Conversion,
}

/// One month's revenue (UTC): orders paid in it as gross, refunds made in
/// it (whenever their order was paid) as refunds. Failed refunds count in
/// the totals and per campaign only.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MonthRevenue {
    /// `YYYY-MM`.
    pub month: String,
    /// Money per currency.
    pub totals: Vec<Totals>,
}

/// Subscriptions at a glance.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct SubscriptionMetrics {
    /// Live subscriptions now.
    pub active: i64,
    /// Monthly recurring revenue per currency (annual plans count a
    /// twelfth), minor units.
    pub mrr: BTreeMap<String, i64>,
    /// Subscriptions live 30 days ago.
    pub active_30_days_ago: i64,
    /// Of those, ended since.
    pub churned_last_30_days: i64,
    /// churned / live 30 days ago (0 with none).
    pub churn_rate: f64,
}

/// The admins' report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Revenue {
    /// Everything, per currency.
    pub totals: Vec<Totals>,
    /// Per campaign, most gross first.
    pub by_campaign: Vec<CampaignRevenue>,
    /// Per month, oldest first.
    pub by_month: Vec<MonthRevenue>,
    /// Holds that became payments.
    pub conversion: Conversion,
    /// Subscriptions.
    pub subscriptions: SubscriptionMetrics,
}

fn totals<'a>(orders: impl Iterator<Item = &'a OrderMoney>) -> Vec<Totals> {
    let mut by: BTreeMap<String, Totals> = BTreeMap::new();
    for m in orders.filter(|m| took_money(&m.order.status)) {
        by.entry(m.order.currency.clone())
            .or_insert_with(|| Totals {
                currency: m.order.currency.clone(),
                ..Totals::default()
            })
            .add(m);
    }
    by.into_values().collect()
}

fn conversion<'a>(orders: impl Iterator<Item = &'a OrderMoney>) -> Conversion {
    let mut c = Conversion::default();
    for m in orders {
        c.orders += 1;
        if took_money(&m.order.status) {
            c.paid += 1;
        }
    }
    // Counts of orders are far below 2^52: exact as floats.
    #[allow(clippy::cast_precision_loss)]
    if c.orders > 0 {
        c.rate = c.paid as f64 / c.orders as f64;
    }
    c
}

/// Orders that moved real money (test-mode orders are not revenue).
fn real(orders: &[OrderMoney]) -> impl Iterator<Item = &OrderMoney> + Clone {
    orders.iter().filter(|m| m.order.provider != "test")
}

/// One campaign's revenue from its orders.
pub fn campaign_revenue(id: &str, title: &str, orders: &[OrderMoney]) -> CampaignRevenue {
    CampaignRevenue {
        campaign_id: id.to_string(),
        campaign_title: title.to_string(),
        totals: totals(real(orders)),
        conversion: conversion(real(orders)),
    }
}

fn month_of(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| {
            t.to_zoned(jiff::tz::TimeZone::UTC)
                .strftime("%Y-%m")
                .to_string()
        })
        .unwrap_or_else(|_| "unknown".into())
}

/// Subscription figures at `now`.
pub fn subscription_metrics(subs: &[SubscriptionRow], now: i64) -> SubscriptionMetrics {
    let mut m = SubscriptionMetrics::default();
    let then = now - 30 * 86_400_000;
    let live_at = |s: &SubscriptionRow, t: i64| {
        s.started_at <= t
            && s.ended_at.is_none_or(|end| end > t)
            && !matches!(s.status.as_str(), "incomplete" | "incomplete_expired")
    };
    for s in subs {
        if crate::billing::subscription_is_live(s, now) {
            m.active += 1;
            let monthly = if s.billing_interval == "year" {
                s.amount_minor / 12
            } else {
                s.amount_minor
            };
            *m.mrr.entry(s.currency.clone()).or_default() += monthly;
        }
        if live_at(s, then) {
            m.active_30_days_ago += 1;
            if s.ended_at.is_some_and(|end| end <= now) || s.status == "canceled" {
                m.churned_last_30_days += 1;
            }
        }
    }
    #[allow(clippy::cast_precision_loss)]
    if m.active_30_days_ago > 0 {
        m.churn_rate = m.churned_last_30_days as f64 / m.active_30_days_ago as f64;
    }
    m
}

/// When each order's refunds were made: our refunds as sent, and what a
/// charge reports refunded beyond them (refunds made in Stripe's
/// dashboard) when we saw it. They add up to the order's `refunded_minor`.
fn refunds_by_order(moments: &[RefundMoment]) -> BTreeMap<&str, Vec<(i64, i64)>> {
    let mut ours: BTreeMap<&str, Vec<(i64, i64)>> = BTreeMap::new();
    let mut charged: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for m in moments {
        if m.from_charge {
            let e = charged.entry(m.order_id.as_str()).or_insert((m.at, 0));
            if m.amount_minor > e.1 {
                *e = (m.at, m.amount_minor);
            }
        } else {
            ours.entry(m.order_id.as_str())
                .or_default()
                .push((m.at, m.amount_minor));
        }
    }
    for (order, (at, refunded)) in charged {
        let list = ours.entry(order).or_default();
        let sent: i64 = list.iter().map(|(_, a)| a).sum();
        if refunded > sent {
            list.push((at, refunded - sent));
        }
    }
    ours
}

/// The totals of the month of `ms` in `currency`.
fn month_totals<'a>(
    months: &'a mut BTreeMap<String, BTreeMap<String, Totals>>,
    ms: i64,
    currency: &str,
) -> &'a mut Totals {
    months
        .entry(month_of(ms))
        .or_default()
        .entry(currency.to_string())
        .or_insert_with(|| Totals {
            currency: currency.to_string(),
            ..Totals::default()
        })
}

/// The admins' report from every order, the refunds made (when) and
/// every subscription.
pub fn revenue(
    orders: &[OrderMoney],
    refunds: &[RefundMoment],
    subs: &[SubscriptionRow],
    now: i64,
) -> Revenue {
    let mut per_campaign: BTreeMap<&str, Vec<&OrderMoney>> = BTreeMap::new();
    let mut per_month: BTreeMap<String, BTreeMap<String, Totals>> = BTreeMap::new();
    let refunds = refunds_by_order(refunds);
    for m in real(orders) {
        per_campaign
            .entry(m.order.campaign_id.as_str())
            .or_default()
            .push(m);
        let Some(paid) = m.order.paid_at.filter(|_| took_money(&m.order.status)) else {
            continue;
        };
        month_totals(&mut per_month, paid, &m.order.currency).add_sale(m);
        for (at, amount) in refunds.get(m.order.id.as_str()).into_iter().flatten() {
            month_totals(&mut per_month, *at, &m.order.currency).add_refund(*amount);
        }
    }
    let mut by_campaign: Vec<CampaignRevenue> = per_campaign
        .into_iter()
        .map(|(id, ms)| CampaignRevenue {
            campaign_id: id.to_string(),
            campaign_title: ms
                .first()
                .map(|m| m.campaign_title.clone())
                .unwrap_or_default(),
            totals: totals(ms.iter().copied()),
            conversion: conversion(ms.iter().copied()),
        })
        .collect();
    by_campaign
        .sort_by_key(|c| std::cmp::Reverse(c.totals.iter().map(|t| t.gross_minor).sum::<i64>()));
    Revenue {
        totals: totals(real(orders)),
        by_campaign,
        by_month: per_month
            .into_iter()
            .map(|(month, totals)| MonthRevenue {
                month,
                totals: totals.into_values().collect(),
            })
            .collect(),
        conversion: conversion(real(orders)),
        subscriptions: subscription_metrics(subs, now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::billing::OrderRow;

    fn order(id: &str, campaign: &str, status: &str, amount: i64, paid_at: i64) -> OrderMoney {
        OrderMoney {
            order: OrderRow {
                id: id.into(),
                account_id: "a".into(),
                campaign_id: campaign.into(),
                provider: "stripe".into(),
                status: status.into(),
                seats: 1,
                unit_minor: amount,
                amount_minor: amount,
                discount_minor: 0,
                currency: "eur".into(),
                checkout_id: None,
                checkout_url: None,
                payment_intent: None,
                expires_at: None,
                created_at: 0,
                paid_at: Some(paid_at),
            },
            campaign_title: campaign.to_uppercase(),
            receipt_url: None,
            refunded_minor: 0,
            refund_pending_minor: 0,
            refund_failed_minor: 0,
        }
    }

    // 2025-11-15 and 2025-12-15, UTC.
    const NOV: i64 = 1_763_164_800_000;
    const DEC: i64 = 1_765_756_800_000;

    #[test]
    fn revenue_adds_paid_orders_less_refunds_by_campaign_and_month() {
        let mut refunded = order("o2", "c1", "paid", 1_000, DEC);
        refunded.refunded_minor = 400;
        let orders = vec![
            order("o1", "c1", "paid", 1_000, NOV),
            refunded,
            order("o3", "c2", "paid", 3_000, DEC),
            order("o4", "c2", "expired", 3_000, DEC),
            OrderMoney {
                order: OrderRow {
                    provider: "test".into(),
                    ..order("o5", "c2", "paid", 9_999, DEC).order
                },
                ..order("o5", "c2", "paid", 9_999, DEC)
            },
        ];
        let refunds = [RefundMoment {
            order_id: "o2".into(),
            at: DEC,
            amount_minor: 400,
            from_charge: false,
        }];
        let r = revenue(&orders, &refunds, &[], DEC);
        assert_eq!(r.totals.len(), 1);
        assert_eq!(
            (
                r.totals[0].gross_minor,
                r.totals[0].refunds_minor,
                r.totals[0].net_minor
            ),
            (5_000, 400, 4_600)
        );
        assert_eq!(r.by_campaign[0].campaign_id, "c2");
        assert_eq!(r.by_campaign[0].conversion.orders, 2);
        assert_eq!(r.by_campaign[0].conversion.paid, 1);
        assert_eq!(r.by_campaign[1].totals[0].net_minor, 1_600);
        let months: Vec<_> = r.by_month.iter().map(|m| m.month.as_str()).collect();
        assert_eq!(months, ["2025-11", "2025-12"]);
        assert_eq!(r.by_month[1].totals[0].gross_minor, 4_000);
        assert!((r.conversion.rate - 0.75).abs() < 1e-9);
    }

    #[test]
    fn refunds_count_in_the_month_they_were_made_not_the_month_of_the_order() {
        let mut o = order("o1", "c1", "refunded", 1_000, NOV);
        o.refunded_minor = 1_000;
        let mut p = order("o2", "c1", "partially_refunded", 2_000, NOV);
        p.refunded_minor = 700;
        let moments = [
            // o1: our refund of 600 in December; Stripe's dashboard took
            // the charge to 1000 refunded: 400 more, also December.
            RefundMoment {
                order_id: "o1".into(),
                at: DEC,
                amount_minor: 600,
                from_charge: false,
            },
            RefundMoment {
                order_id: "o1".into(),
                at: DEC + 1,
                amount_minor: 1_000,
                from_charge: true,
            },
            // o2: 700 refunded on the charge in November.
            RefundMoment {
                order_id: "o2".into(),
                at: NOV + 1,
                amount_minor: 700,
                from_charge: true,
            },
        ];
        let r = revenue(&[o, p], &moments, &[], DEC);
        let months: Vec<_> = r
            .by_month
            .iter()
            .map(|m| {
                let t = &m.totals[0];
                (
                    m.month.as_str(),
                    t.gross_minor,
                    t.refunds_minor,
                    t.net_minor,
                )
            })
            .collect();
        assert_eq!(
            months,
            [
                ("2025-11", 3_000, 700, 2_300),
                ("2025-12", 0, 1_000, -1_000)
            ]
        );
        // Refunded orders still took the money: gross less refunds.
        assert_eq!(
            (r.totals[0].gross_minor, r.totals[0].refunds_minor),
            (3_000, 1_700)
        );
        assert_eq!(r.conversion.paid, 2);
    }

    fn sub(interval: &str, amount: i64, started: i64, ended: Option<i64>) -> SubscriptionRow {
        SubscriptionRow {
            id: format!("sub_{started}_{amount}"),
            account_id: "a".into(),
            customer_id: "cus".into(),
            plan: interval.into(),
            status: if ended.is_some() {
                "canceled"
            } else {
                "active"
            }
            .into(),
            amount_minor: amount,
            currency: "eur".into(),
            billing_interval: interval.into(),
            current_period_end: None,
            cancel_at_period_end: false,
            started_at: started,
            ended_at: ended,
            event_created: 0,
        }
    }

    #[test]
    fn recurring_revenue_counts_a_twelfth_of_annual_plans_and_churn_counts_the_ended() {
        let day = 86_400_000;
        let subs = vec![
            sub("month", 500, NOV - 60 * day, None),
            sub("year", 6_000, NOV - 60 * day, None),
            sub("month", 500, NOV - 60 * day, Some(NOV - 5 * day)),
            sub("month", 500, NOV - 2 * day, None),
        ];
        let m = subscription_metrics(&subs, NOV);
        assert_eq!(m.active, 3);
        assert_eq!(m.mrr["eur"], 500 + 500 + 500);
        assert_eq!(m.active_30_days_ago, 3);
        assert_eq!(m.churned_last_30_days, 1);
        assert!((m.churn_rate - 1.0 / 3.0).abs() < 1e-9);
    }
}
