-- Discovery sorted by seats left (most first): the key is
-- seats_taken - max_players, ascending.
CREATE INDEX campaigns_by_seats_left ON campaigns (status, visibility, (seats_taken - max_players), id);
