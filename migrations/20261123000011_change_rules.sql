-- Changes once players hold seats. A campaign's terms (schedule, tier,
-- price) carry a version that joins check, so nobody is seated on terms
-- that changed under them; a change that hurts seated players offers each
-- a full refund until the time kept on their seat.
ALTER TABLE campaigns ADD COLUMN terms_version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE seats ADD COLUMN refund_offer_until BIGINT;
