-- Billing: orders (one payment for one or more seats), refunds in money,
-- what Stripe tells us about charges and disputes, subscriptions, and the
-- webhook events already processed (each exactly once).

CREATE TABLE orders (
    id                  TEXT PRIMARY KEY,
    -- the payer (a party's leader pays for the whole party)
    account_id          TEXT NOT NULL REFERENCES accounts(id),
    campaign_id         TEXT NOT NULL REFERENCES campaigns(id),
    -- test | stripe
    provider            TEXT NOT NULL,
    -- pending | paid | expired | failed
    status              TEXT NOT NULL,
    seats               BIGINT NOT NULL,
    unit_minor          BIGINT NOT NULL,
    amount_minor        BIGINT NOT NULL,
    discount_minor      BIGINT NOT NULL DEFAULT 0,
    currency            TEXT NOT NULL,
    checkout_id         TEXT,
    checkout_url        TEXT,
    payment_intent      TEXT,
    expires_at          BIGINT,
    created_at          BIGINT NOT NULL,
    paid_at             BIGINT,
    updated_at          BIGINT NOT NULL
);
CREATE INDEX orders_account ON orders (account_id, created_at);
CREATE INDEX orders_campaign ON orders (campaign_id);
CREATE UNIQUE INDEX orders_checkout ON orders (checkout_id);
CREATE INDEX orders_payment_intent ON orders (payment_intent);

ALTER TABLE seats ADD COLUMN order_id TEXT;
CREATE INDEX seats_order ON seats (order_id);

-- One refund per seat at most: a retried release can never pay twice.
CREATE TABLE refunds (
    id                  TEXT PRIMARY KEY,
    order_id            TEXT,
    seat_id             TEXT NOT NULL,
    account_id          TEXT NOT NULL,
    amount_minor        BIGINT NOT NULL,
    currency            TEXT NOT NULL,
    reason              TEXT NOT NULL,
    -- pending | succeeded | failed
    status              TEXT NOT NULL,
    provider_refund_id  TEXT,
    attempts            BIGINT NOT NULL DEFAULT 0,
    last_error          TEXT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
CREATE UNIQUE INDEX refunds_seat ON refunds (seat_id);
CREATE INDEX refunds_status ON refunds (status, created_at);
CREATE INDEX refunds_order ON refunds (order_id);

-- Charges as Stripe reports them (receipts, refunds made anywhere,
-- disputes), keyed by charge and joined to orders by payment intent, so
-- events may arrive in any order.
CREATE TABLE charges (
    id                  TEXT PRIMARY KEY,
    payment_intent      TEXT,
    amount_minor        BIGINT NOT NULL,
    amount_refunded     BIGINT NOT NULL DEFAULT 0,
    currency            TEXT NOT NULL,
    receipt_url         TEXT,
    updated_at          BIGINT NOT NULL
);
CREATE INDEX charges_payment_intent ON charges (payment_intent);

CREATE TABLE disputes (
    id                  TEXT PRIMARY KEY,
    charge_id           TEXT NOT NULL,
    payment_intent      TEXT,
    amount_minor        BIGINT NOT NULL,
    currency            TEXT NOT NULL,
    reason              TEXT NOT NULL,
    status              TEXT NOT NULL,
    event_created       BIGINT NOT NULL,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);

CREATE TABLE billing_customers (
    account_id          TEXT PRIMARY KEY REFERENCES accounts(id),
    customer_id         TEXT NOT NULL,
    created_at          BIGINT NOT NULL
);
CREATE UNIQUE INDEX billing_customers_customer ON billing_customers (customer_id);

CREATE TABLE subscriptions (
    id                  TEXT PRIMARY KEY,
    account_id          TEXT NOT NULL,
    customer_id         TEXT NOT NULL,
    -- monthly | annual (from the plan's price), or the price id if unknown
    plan                TEXT NOT NULL,
    -- Stripe's status: active, trialing, past_due, canceled, ...
    status              TEXT NOT NULL,
    amount_minor        BIGINT NOT NULL,
    currency            TEXT NOT NULL,
    -- month | year
    billing_interval    TEXT NOT NULL,
    current_period_end  BIGINT,
    cancel_at_period_end BIGINT NOT NULL DEFAULT 0,
    started_at          BIGINT NOT NULL,
    ended_at            BIGINT,
    -- the newest event applied (older deliveries never undo newer state)
    event_created       BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
CREATE INDEX subscriptions_account ON subscriptions (account_id, status);

CREATE TABLE stripe_events (
    id                  TEXT PRIMARY KEY,
    kind                TEXT NOT NULL,
    -- processing | done
    status              TEXT NOT NULL,
    claimed_at          BIGINT NOT NULL,
    done_at             BIGINT
);
