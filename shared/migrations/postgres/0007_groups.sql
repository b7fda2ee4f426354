-- Groups of users: one concept for both doors. A registered host admits the members of its
-- groups; an OpenID Connect client with allowed groups admits only their members (none listed:
-- everyone, as before); the `groups` scope releases a user's group names. Names are unique and
-- are what hosts and clients refer to.
CREATE TABLE groups (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

-- A member leaves every group when the user is deleted, and a group's memberships go with it.
CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

-- Every existing client keeps admitting everyone: an empty list means no group restriction.
ALTER TABLE oidc_clients ADD COLUMN allowed_groups TEXT NOT NULL DEFAULT '[]';
