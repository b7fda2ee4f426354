-- Pending authorization requests are bounded per client and remote address (see
-- idp/src/store/requests.rs): the address is kept with each request, and the counts and the
-- purge of expired rows read indexes instead of the whole table.
ALTER TABLE oidc_auth_requests ADD COLUMN remote_addr TEXT;
CREATE INDEX oidc_auth_requests_client_addr
    ON oidc_auth_requests (client_id, remote_addr, expires_at);
CREATE INDEX oidc_auth_requests_expires ON oidc_auth_requests (expires_at);
