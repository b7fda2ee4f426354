-- Access tokens are signed JWTs that name their grant (claim `gid`, none for a client's own
-- client_credentials tokens), so issuing one writes nothing. Only tokens revoked one by one
-- (RFC 7009) are recorded, until they expire. Tokens issued before this migration carry no
-- `gid` and stop being accepted (they live minutes: [server] access_token_lifetime).
CREATE TABLE oidc_revoked_access_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
INSERT INTO oidc_revoked_access_tokens (jti, expires_at)
    SELECT jti, expires_at FROM oidc_access_tokens WHERE revoked_at IS NOT NULL;
DROP TABLE oidc_access_tokens;
