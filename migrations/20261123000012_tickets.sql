-- Quick-join tickets: preferences waiting to be matched to an open
-- campaign. A player has at most one waiting ticket. A matched ticket keeps
-- the campaign and the explained score it was matched with.
CREATE TABLE tickets (
    id               TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL REFERENCES accounts(id),
    party            BIGINT NOT NULL,
    party_size       BIGINT NOT NULL,
    -- JSON arrays; empty means any
    modes            TEXT NOT NULL,
    tiers            TEXT NOT NULL,
    max_price_minor  BIGINT,
    -- JSON: the week's 15-minute slots (UTC) the players are free, or null for any time
    availability     TEXT,
    -- waiting | matched | cancelled
    status           TEXT NOT NULL,
    campaign_id      TEXT REFERENCES campaigns(id),
    score            BIGINT,
    reasons          TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE UNIQUE INDEX tickets_waiting_per_account ON tickets (account_id) WHERE status = 'waiting';
CREATE INDEX tickets_queue ON tickets (status, created_at, id);
