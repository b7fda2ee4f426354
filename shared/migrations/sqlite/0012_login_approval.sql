-- "Approve in your browser" for PAM logins through the host protocol: an approval waits on
-- /device like a device authorization, but for one login (a challenge) instead of a client.
-- Exactly one of client_id and challenge_id is set; only the challenge's user may answer it,
-- and the page shows where the login comes from (host, PAM service, remote address, tty).
ALTER TABLE device_authorizations ADD COLUMN challenge_id TEXT REFERENCES challenges(id) ON DELETE CASCADE;
ALTER TABLE device_authorizations ADD COLUMN host TEXT;
ALTER TABLE device_authorizations ADD COLUMN service TEXT;
ALTER TABLE device_authorizations ADD COLUMN remote_addr TEXT;
ALTER TABLE device_authorizations ADD COLUMN tty TEXT;
CREATE INDEX device_authorizations_challenge ON device_authorizations (challenge_id);

-- The second factor a web session was verified with, so an approval made from that session
-- counts as that kind of verification (amr alone cannot tell an app's code from an email's).
ALTER TABLE oidc_sessions ADD COLUMN second_factor TEXT;
