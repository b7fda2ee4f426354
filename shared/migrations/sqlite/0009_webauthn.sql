-- Passkeys (WebAuthn). A user may have several, so they live beside user_providers (whose
-- WEBAUTHN row says the provider is on) rather than in its one config_enc per provider.
CREATE TABLE webauthn_credentials (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- The authenticator's credential id (base64url); one credential belongs to one account.
    credential_id TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    -- webauthn-rs's stored credential (public key, signature counter, flags) as JSON.
    credential    TEXT NOT NULL,
    discoverable  INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER
);
CREATE INDEX webauthn_credentials_user ON webauthn_credentials (user_id);

-- The server half of a registration or assertion between the two requests of a ceremony:
-- single use (deleted when taken) and short-lived (a login's expires with its challenge).
CREATE TABLE webauthn_states (
    id           TEXT PRIMARY KEY,
    purpose      TEXT NOT NULL CHECK (purpose IN ('register', 'login', 'passwordless')),
    user_id      TEXT REFERENCES users(id) ON DELETE CASCADE,
    challenge_id TEXT,
    state        TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX webauthn_states_expiry ON webauthn_states (expires_at);
