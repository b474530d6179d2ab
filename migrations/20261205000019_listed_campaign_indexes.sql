-- Discovery lists public campaigns that are published or full (a full
-- campaign still takes waitlist places). The listing indexes led with
-- status, so one walk in sort order covered one status only and a listing
-- of two had to read and sort every listed row. These hold only the listed
-- rows, in each sort order; the listing's WHERE clause repeats their
-- condition word for word, which SQLite needs to use a partial index.
CREATE INDEX campaigns_listed_by_start ON campaigns (first_session_at, id)
    WHERE status IN ('published', 'full') AND visibility = 'public';
CREATE INDEX campaigns_listed_by_price ON campaigns (price_minor, id)
    WHERE status IN ('published', 'full') AND visibility = 'public';
CREATE INDEX campaigns_listed_by_seats_left ON campaigns ((seats_taken - max_players), id)
    WHERE status IN ('published', 'full') AND visibility = 'public';
CREATE INDEX campaigns_listed_by_mode ON campaigns (mode, first_session_at, id)
    WHERE status IN ('published', 'full') AND visibility = 'public';
CREATE INDEX campaigns_listed_by_tier ON campaigns (llm_tier, first_session_at, id)
    WHERE status IN ('published', 'full') AND visibility = 'public';
-- Only discovery read these.
DROP INDEX campaigns_by_price;
DROP INDEX campaigns_by_seats_left;
DROP INDEX campaigns_by_mode;
DROP INDEX campaigns_by_tier;
-- No index leads with status any more: without statistics (SQLite keeps
-- none for a young database) a status-first index looked selective to
-- the planner, which read every listed campaign through it and sorted
-- them rather than walk a listing index in order. Quick join walks
-- campaigns_listed_by_start; the others get partial indexes of their own,
-- whose conditions their queries repeat word for word.
DROP INDEX campaigns_discovery;
DROP INDEX campaigns_scheduled;
-- The session scheduler: open or running campaigns by first session.
CREATE INDEX campaigns_scheduled ON campaigns (first_session_at, id)
    WHERE status IN ('published', 'full', 'running');
-- The waitlist's background round: campaigns that take seats.
CREATE INDEX campaigns_taking_seats ON campaigns (id) WHERE status = 'published';
-- Lines left in campaigns that stopped taking players lately.
CREATE INDEX campaigns_closed ON campaigns (updated_at)
    WHERE status IN ('cancelled', 'running', 'completed');
