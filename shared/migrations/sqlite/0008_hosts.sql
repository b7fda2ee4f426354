-- Registered hosts (fleet mode): each Linux host verifies logins through the server with a
-- credential of its own, stored only as a SHA-256 hash of its 256 random bits (a slow hash
-- adds nothing to a secret that cannot be guessed, and hosts authenticate on every call).
CREATE TABLE hosts (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL UNIQUE,
    credential_hash  TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    rotated_at       INTEGER NOT NULL,
    last_seen_at     INTEGER,
    last_seen_addr   TEXT
);

-- The groups whose members a host admits; a host with none admits no one.
CREATE TABLE host_groups (
    host_id    TEXT NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
    group_name TEXT NOT NULL REFERENCES groups(name) ON DELETE CASCADE,
    PRIMARY KEY (host_id, group_name)
);

-- A login begun at a host (by name) can be continued by that host only.
ALTER TABLE challenges ADD COLUMN host TEXT;

-- The host a PAM event came from.
ALTER TABLE audit_events ADD COLUMN host TEXT;
