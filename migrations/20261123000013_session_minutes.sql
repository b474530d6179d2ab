-- Session length, so listings filtered by time of day can drop campaigns
-- whose sessions overrun the window in the database. Older rows keep 0,
-- which only makes that prefilter weaker, never wrong.
ALTER TABLE campaigns ADD COLUMN session_minutes BIGINT NOT NULL DEFAULT 0;
