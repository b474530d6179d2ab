-- Price books set by admins. The newest row is in force; without any, the
-- book from the orchestrator's configuration is. Rows are never changed,
-- so every quote's version can be looked up later.
CREATE TABLE price_books (
    version     TEXT PRIMARY KEY,
    body        TEXT NOT NULL,
    created_by  TEXT REFERENCES accounts(id),
    created_at  BIGINT NOT NULL,
    -- 1 while in force; cleared when an admin returns to the configured book
    active      BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX price_books_newest ON price_books (active, created_at);
