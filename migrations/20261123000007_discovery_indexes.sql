-- Discovery filtered by mode or tier walks these instead of every
-- published campaign in start order.
CREATE INDEX campaigns_by_mode ON campaigns (status, visibility, mode, first_session_at, id);
CREATE INDEX campaigns_by_tier ON campaigns (status, visibility, llm_tier, first_session_at, id);
