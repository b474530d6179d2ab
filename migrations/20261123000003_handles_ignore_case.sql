-- Handles are unique whatever their case ("Nova" and "nova" are one
-- person), and log-in by handle finds them through this index instead of
-- scanning every account.
CREATE UNIQUE INDEX accounts_handle_lower ON accounts (LOWER(handle));
