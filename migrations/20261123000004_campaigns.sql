-- Campaigns: what a game master sets up, with the settings, seed and
-- generator version fixed at creation, the schedule, and the seat price
-- quoted when it was last priced. Seeds are u64, kept as decimal text.
CREATE TABLE campaigns (
    id                 TEXT PRIMARY KEY,
    gm_id              TEXT NOT NULL REFERENCES accounts(id),
    title              TEXT NOT NULL,
    description        TEXT NOT NULL,
    mode               TEXT NOT NULL,
    settings           TEXT NOT NULL,
    generator_version  TEXT NOT NULL,
    seed               TEXT NOT NULL,
    llm_tier           TEXT NOT NULL,
    min_players        BIGINT NOT NULL,
    max_players        BIGINT NOT NULL,
    -- public | invite
    visibility         TEXT NOT NULL,
    schedule           TEXT NOT NULL,
    first_session_at   BIGINT NOT NULL,
    last_session_end   BIGINT NOT NULL,
    session_count      BIGINT NOT NULL,
    price_minor        BIGINT NOT NULL,
    currency           TEXT NOT NULL,
    quote              TEXT NOT NULL,
    -- draft | published | full | running | completed | cancelled
    status             TEXT NOT NULL,
    seats_taken        BIGINT NOT NULL DEFAULT 0,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    published_at       BIGINT
);
CREATE INDEX campaigns_gm ON campaigns (gm_id);
CREATE INDEX campaigns_discovery ON campaigns (status, visibility, first_session_at, id);
CREATE INDEX campaigns_by_price ON campaigns (status, visibility, price_minor, id);
