-- Seats and waitlists. A seat holds the quote it was sold at. A player has
-- at most one live seat and one live waitlist place per campaign (partial
-- unique indexes, supported by SQLite and Postgres alike).
CREATE TABLE seats (
    id               TEXT PRIMARY KEY,
    campaign_id      TEXT NOT NULL REFERENCES campaigns(id),
    account_id       TEXT NOT NULL REFERENCES accounts(id),
    party_id         TEXT,
    -- held | confirmed | released
    status           TEXT NOT NULL,
    hold_expires_at  BIGINT,
    price_minor      BIGINT NOT NULL,
    currency         TEXT NOT NULL,
    quote            TEXT NOT NULL,
    -- test | stripe
    provider         TEXT NOT NULL,
    refund_minor     BIGINT NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE UNIQUE INDEX seats_live ON seats (campaign_id, account_id) WHERE status IN ('held', 'confirmed');
CREATE INDEX seats_account ON seats (account_id);
CREATE INDEX seats_hold_expiry ON seats (status, hold_expires_at);

CREATE TABLE waitlist (
    id           TEXT PRIMARY KEY,
    campaign_id  TEXT NOT NULL REFERENCES campaigns(id),
    account_id   TEXT NOT NULL REFERENCES accounts(id),
    party_id     TEXT,
    -- seats wanted (a party waits as one)
    size         BIGINT NOT NULL,
    -- waiting | promoted | left
    status       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE UNIQUE INDEX waitlist_live ON waitlist (campaign_id, account_id) WHERE status = 'waiting';
CREATE INDEX waitlist_queue ON waitlist (campaign_id, status, created_at, id);
