-- Whether a campaign has unpaid holds past their time is asked on every
-- join. The live-seat index answered it by reading every seat of the
-- campaign; unpaid holds are few, so this one holds only them.
CREATE INDEX seats_held_by_campaign ON seats (campaign_id, hold_expires_at) WHERE status = 'held';
