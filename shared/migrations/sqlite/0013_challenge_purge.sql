-- Finished and expired challenges are removed by the server's purge task instead of by the
-- user's next login (one statement less on every login), found through this index.
CREATE INDEX challenges_done ON challenges ((COALESCE(completed_at, expires_at)));
