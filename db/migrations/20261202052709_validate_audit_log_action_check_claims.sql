-- migrate:up
-- Why: audit_log_action_check, added NOT VALID with the claim action, checked for the rows
-- already there. VALIDATE takes a SHARE UPDATE EXCLUSIVE lock: appends go on while it scans,
-- so the scan may take longer than the usual statement_timeout on a large log.
SET LOCAL lock_timeout = '2s';
SET LOCAL statement_timeout = '10min';

ALTER TABLE audit_log VALIDATE CONSTRAINT audit_log_action_check;

-- migrate:down
-- Nothing to undo: the previous migration's down puts the narrower check back.
