-- Secret calendar feed addresses, one per account: calendar apps fetch
-- them without a bearer token. Only the token's hash is kept.
CREATE TABLE calendar_feeds (
    account_id  TEXT PRIMARY KEY REFERENCES accounts(id),
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);
