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
-- Only discovery read these. campaigns_discovery stays: quick join walks
-- the published campaigns with a seat left in start order.
DROP INDEX campaigns_by_price;
DROP INDEX campaigns_by_seats_left;
DROP INDEX campaigns_by_mode;
DROP INDEX campaigns_by_tier;
