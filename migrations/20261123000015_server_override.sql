-- Operators' standing instruction for a campaign's game server (suspend or
-- drain); NULL follows the schedule.
ALTER TABLE campaigns ADD COLUMN server_override TEXT;
CREATE INDEX campaigns_scheduled ON campaigns (status, first_session_at);
