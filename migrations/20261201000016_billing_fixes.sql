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
