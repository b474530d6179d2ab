-- A player's live seats, looked up on every join (the conflict check and
-- "seated elsewhere"): without it a planner short of statistics walked the
-- whole live-seat index by its second column.
CREATE INDEX seats_live_by_account ON seats (account_id, campaign_id) WHERE status IN ('held', 'confirmed');
