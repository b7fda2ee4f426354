-- Stepgate's own API is a resource with its own scopes (stepgate:account, stepgate:admin).
-- A client may be granted them only when an administrator registers it for them, so every
-- existing client starts with none: nothing it could do before through a user's token or an
-- `admin` client scope carries over implicitly.
ALTER TABLE oidc_clients ADD COLUMN api_scopes TEXT NOT NULL DEFAULT '[]';
