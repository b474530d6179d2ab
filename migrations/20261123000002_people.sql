-- Profiles, account standing, second factors, API keys, friends, blocks,
-- parties, reports, moderation and the audit log. Portable between SQLite
-- and Postgres: text ids, integer Unix-millisecond timestamps, JSON as text.

ALTER TABLE accounts ADD COLUMN bio TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'UTC';
-- JSON arrays: game modes, LLM tiers, weekly availability windows.
ALTER TABLE accounts ADD COLUMN preferred_modes TEXT NOT NULL DEFAULT '[]';
ALTER TABLE accounts ADD COLUMN llm_tiers TEXT NOT NULL DEFAULT '[]';
ALTER TABLE accounts ADD COLUMN availability TEXT NOT NULL DEFAULT '[]';
-- Seed of the generated avatar (stable for the account's life).
ALTER TABLE accounts ADD COLUMN avatar_seed TEXT NOT NULL DEFAULT '';
-- public | friends | private
ALTER TABLE accounts ADD COLUMN profile_visibility TEXT NOT NULL DEFAULT 'public';
-- everyone | nobody
ALTER TABLE accounts ADD COLUMN friend_requests_from TEXT NOT NULL DEFAULT 'everyone';
-- active | suspended | banned | deleted
ALTER TABLE accounts ADD COLUMN standing TEXT NOT NULL DEFAULT 'active';
ALTER TABLE accounts ADD COLUMN suspended_until BIGINT;
-- TOTP secret (base32) and whether it was confirmed; the last time step
-- used, so a code works once.
ALTER TABLE accounts ADD COLUMN totp_secret TEXT;
ALTER TABLE accounts ADD COLUMN totp_enabled BIGINT NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN totp_last_step BIGINT NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN deleted_at BIGINT;

-- Whether a log-in passed the second factor (admin calls need it).
ALTER TABLE refresh_tokens ADD COLUMN mfa BIGINT NOT NULL DEFAULT 0;

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    prefix        TEXT NOT NULL,
    key_hash      TEXT NOT NULL UNIQUE,
    -- space separated: read write
    scopes        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT,
    revoked_at    BIGINT
);
CREATE INDEX api_keys_account ON api_keys (account_id);

-- A friend request and, once accepted, the friendship (one row per pair,
-- written by the requester).
CREATE TABLE friendships (
    id            TEXT PRIMARY KEY,
    requester_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    addressee_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    -- pending | accepted
    status        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    UNIQUE (requester_id, addressee_id)
);
CREATE INDEX friendships_addressee ON friendships (addressee_id);

CREATE TABLE blocks (
    blocker_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    blocked_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (blocker_id, blocked_id)
);
CREATE INDEX blocks_blocked ON blocks (blocked_id);

CREATE TABLE parties (
    id            TEXT PRIMARY KEY,
    leader_id     TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    created_at    BIGINT NOT NULL,
    disbanded_at  BIGINT
);

CREATE TABLE party_members (
    party_id    TEXT NOT NULL REFERENCES parties(id) ON DELETE CASCADE,
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    -- invited | member
    status      TEXT NOT NULL,
    invited_at  BIGINT NOT NULL,
    joined_at   BIGINT,
    PRIMARY KEY (party_id, account_id)
);
CREATE INDEX party_members_account ON party_members (account_id);

CREATE TABLE reports (
    id            TEXT PRIMARY KEY,
    reporter_id   TEXT REFERENCES accounts(id) ON DELETE SET NULL,
    -- user | campaign
    subject_kind  TEXT NOT NULL,
    subject_id    TEXT NOT NULL,
    reason        TEXT NOT NULL,
    details       TEXT NOT NULL,
    -- open | resolved
    status        TEXT NOT NULL,
    -- none | warn | suspend | ban, once resolved
    action        TEXT,
    outcome       TEXT,
    created_at    BIGINT NOT NULL,
    resolved_at   BIGINT,
    resolved_by   TEXT
);
CREATE INDEX reports_status ON reports (status, created_at);
CREATE INDEX reports_reporter ON reports (reporter_id);

-- Warnings, suspensions and bans, with the report that led to them.
CREATE TABLE sanctions (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    -- warn | suspend | ban | lift
    action      TEXT NOT NULL,
    reason      TEXT NOT NULL,
    until_at    BIGINT,
    admin_id    TEXT NOT NULL,
    report_id   TEXT,
    created_at  BIGINT NOT NULL
);
CREATE INDEX sanctions_account ON sanctions (account_id);

-- Every admin action and every money-related change. Kept when accounts
-- are deleted (ids only, no personal data).
CREATE TABLE audit_log (
    id            TEXT PRIMARY KEY,
    actor_id      TEXT,
    action        TEXT NOT NULL,
    subject_kind  TEXT NOT NULL,
    subject_id    TEXT NOT NULL,
    details       TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE INDEX audit_log_created ON audit_log (created_at);
