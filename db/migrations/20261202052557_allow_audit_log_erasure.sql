-- migrate:up
-- Why: erasure (DELETE /me) keeps each audit row of the user (the fact, the actor id, the
-- target id) but not what its details said (a failed document's error names its URL or
-- file): the append-only trigger now admits exactly that change, and only in a transaction
-- that asked for it (SET LOCAL audit_log.erasing = 'on', store.erasure).
SET LOCAL lock_timeout = '2s';
SET LOCAL statement_timeout = '10s';

CREATE OR REPLACE FUNCTION audit_log_reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND current_setting('audit_log.erasing', true) = 'on'
       AND NEW.details = '{"erased": true}'::jsonb
       AND (NEW.id, NEW.occurred_at, NEW.actor_user_id, NEW.action, NEW.target_type,
            NEW.target_id, NEW.request_id)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.occurred_at, OLD.actor_user_id, OLD.action, OLD.target_type,
            OLD.target_id, OLD.request_id)
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

COMMENT ON FUNCTION audit_log_reject_change() IS 'Trigger that keeps audit_log append-only, except for erasing the details of a row (audit_log.erasing on, details set to {"erased": true}).';

-- migrate:down
SET LOCAL lock_timeout = '2s';
SET LOCAL statement_timeout = '10s';

CREATE OR REPLACE FUNCTION audit_log_reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

COMMENT ON FUNCTION audit_log_reject_change() IS 'Trigger that keeps audit_log append-only.';
