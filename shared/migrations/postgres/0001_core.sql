-- Stepgate verification core (PostgreSQL). Times are Unix seconds; flags are 0/1.
CREATE TABLE users (
    id                TEXT PRIMARY KEY,
    username          TEXT NOT NULL UNIQUE,
    email             TEXT NOT NULL,
    phone             TEXT,
    display_name      TEXT NOT NULL DEFAULT '',
    role              TEXT NOT NULL CHECK (role IN ('admin', 'user')),
    password_hash     TEXT,
    disabled          BIGINT NOT NULL DEFAULT 0,
    locked            BIGINT NOT NULL DEFAULT 0,
    locked_at         BIGINT,
    twofa_failures    BIGINT NOT NULL DEFAULT 0,
    password_failures BIGINT NOT NULL DEFAULT 0,
    last_code_sent_at BIGINT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);

CREATE TABLE user_providers (
    user_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    provider       TEXT NOT NULL,
    is_default     BIGINT NOT NULL DEFAULT 0,
    config_enc     TEXT NOT NULL,
    last_used_step BIGINT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (user_id, provider)
);

CREATE TABLE backup_codes (
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash  TEXT NOT NULL,
    used_at    BIGINT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE pending_enrolments (
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    provider   TEXT NOT NULL,
    config_enc TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, provider)
);

CREATE TABLE verification_codes (
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    provider   TEXT NOT NULL,
    purpose    TEXT NOT NULL,
    code_hash  TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, provider, purpose)
);

CREATE TABLE code_checks (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    at      BIGINT NOT NULL
);
CREATE INDEX code_checks_user_at ON code_checks (user_id, at);

CREATE TABLE challenges (
    id                TEXT PRIMARY KEY,
    user_id           TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    source            TEXT NOT NULL,
    state             TEXT NOT NULL,
    verified_provider TEXT,
    created_at        BIGINT NOT NULL,
    expires_at        BIGINT NOT NULL,
    completed_at      BIGINT
);
CREATE INDEX challenges_user ON challenges (user_id);

CREATE TABLE platform_settings (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE audit_events (
    id          BIGSERIAL PRIMARY KEY,
    at          BIGINT NOT NULL,
    user_id     TEXT,
    username    TEXT,
    event       TEXT NOT NULL,
    provider    TEXT,
    source      TEXT NOT NULL,
    remote_addr TEXT,
    detail      TEXT
);
CREATE INDEX audit_events_user_at ON audit_events (user_id, at);
CREATE INDEX audit_events_at ON audit_events (at);
