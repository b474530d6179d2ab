-- Invite-only campaigns are joined with a code; only its SHA-256 is kept,
-- and rotating the code revokes the old one.
ALTER TABLE campaigns ADD COLUMN invite_code_hash TEXT;
