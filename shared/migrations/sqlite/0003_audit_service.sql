-- The PAM service (sshd, login, service_id=) an event came through.
ALTER TABLE audit_events ADD COLUMN service TEXT;
