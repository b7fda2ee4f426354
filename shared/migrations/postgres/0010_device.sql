-- Approvals in the browser: a device (or, later, another door) waits while its user approves
-- or denies on /device. The device holds a 256-bit device code, stored only as a SHA-256 hash;
-- the person types a short user code, stored only as an HMAC under the secrets key (so the
-- row can be found from what was typed, and a copy of the table shows no live code).
CREATE TABLE device_authorizations (
    id               TEXT PRIMARY KEY,
    device_code_hash TEXT NOT NULL UNIQUE,
    user_code_hash   TEXT NOT NULL UNIQUE,
    -- The OpenID Connect client that asked (the device authorization grant).
    client_id        TEXT REFERENCES oidc_clients(client_id) ON DELETE CASCADE,
    scope            TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'denied', 'expired', 'consumed')),
    poll_interval    BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    last_poll_at     BIGINT,
    -- Who approved or denied, when, and how they had signed in (RFC 8176 amr, acr).
    user_id          TEXT REFERENCES users(id) ON DELETE CASCADE,
    amr              TEXT,
    acr              TEXT,
    auth_time        BIGINT,
    decided_at       BIGINT
);
CREATE INDEX device_authorizations_expiry ON device_authorizations (expires_at);

-- Wrong user codes entered on /device, as token buckets (GCRA: the time at which the bucket
-- is full again), one per browser, per address and one for everyone.
CREATE TABLE device_code_buckets (
    bucket     TEXT PRIMARY KEY,
    full_at    BIGINT NOT NULL
);
