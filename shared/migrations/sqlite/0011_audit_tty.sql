-- The terminal (PAM_TTY: pts/3, tty1, ssh) of a PAM event, beside its service and remote address.
ALTER TABLE audit_events ADD COLUMN tty TEXT;
