-- Billing fixes.
--
-- A webhook event's claim carries a token: only the delivery that holds
-- the claim (a fresh one, or one that took a stale claim over) may finish
-- or drop it.
ALTER TABLE stripe_events ADD COLUMN claim_token TEXT;

-- When a seat was confirmed (paid). A payment that arrives for a seat
-- released without ever being confirmed is refunded; one for a seat that
-- was confirmed and then left is not (leaving refunded it by policy).
-- Seats from before: confirmed ones, refunded ones, and those of paid
-- orders that were not refunded at payment were all confirmed once.
ALTER TABLE seats ADD COLUMN confirmed_at BIGINT;
UPDATE seats SET confirmed_at = updated_at
WHERE status = 'confirmed'
   OR refund_minor > 0
   OR (order_id IN (SELECT id FROM orders WHERE status = 'paid')
       AND id NOT IN (SELECT seat_id FROM refunds));

-- A waitlist place whose promotion the payment provider could not start
-- (down, or refusing) keeps its place at the head of the line and is
-- tried again from this time on, Unix ms.
ALTER TABLE waitlist ADD COLUMN retry_at BIGINT;

-- Refunds are retried with a backoff: the next attempt is due from this
-- time on (Unix ms); refunds that can never go through are failed and
-- leave the queue.
ALTER TABLE refunds ADD COLUMN next_attempt_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX refunds_due ON refunds (status, next_attempt_at);

-- A pending order whose held seats were all released (left, removed by
-- the game master, campaign cancelled) is cancelled, and its still-open
-- checkout is expired at the provider so it can no longer be paid: due
-- from this time on (Unix ms; NULL when nothing is left to do), retried
-- with a backoff.
ALTER TABLE orders ADD COLUMN expire_checkout_at BIGINT;
ALTER TABLE orders ADD COLUMN expire_checkout_attempts BIGINT NOT NULL DEFAULT 0;
CREATE INDEX orders_expire_checkout ON orders (expire_checkout_at);

-- When money went back, for revenue by the month refunds were made: our
-- refunds when the provider took them, a charge's refunds (made anywhere,
-- Stripe's dashboard too) when we last saw them grow.
ALTER TABLE refunds ADD COLUMN sent_at BIGINT;
UPDATE refunds SET sent_at = updated_at WHERE status = 'succeeded';
ALTER TABLE charges ADD COLUMN refunded_at BIGINT;
UPDATE charges SET refunded_at = updated_at WHERE amount_refunded > 0;

-- Orders whose money went back are refunded or partially_refunded (they
-- still took the money: revenue counts them, less their refunds).
UPDATE orders SET status = CASE
    WHEN COALESCE((SELECT MAX(ch.amount_refunded) FROM charges ch
                   WHERE ch.payment_intent = orders.payment_intent), 0) >= amount_minor
      OR COALESCE((SELECT SUM(r.amount_minor) FROM refunds r
                   WHERE r.order_id = orders.id AND r.status = 'succeeded'), 0) >= amount_minor
    THEN 'refunded' ELSE 'partially_refunded' END
WHERE status = 'paid'
  AND (COALESCE((SELECT MAX(ch.amount_refunded) FROM charges ch
                 WHERE ch.payment_intent = orders.payment_intent), 0) > 0
    OR COALESCE((SELECT SUM(r.amount_minor) FROM refunds r
                 WHERE r.order_id = orders.id AND r.status = 'succeeded'), 0) > 0);
