-- migrate:up
CREATE TABLE audit_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    -- No foreign key: audit rows outlive the users they mention.
    actor_user_id uuid,
    action text NOT NULL,
    target_type text,
    target_id text,
    request_id text,
    details jsonb NOT NULL DEFAULT '{}',
    CONSTRAINT audit_log_action_check CHECK (action IN (
        'user.created',
        'user.deleted',
        'token.issued',
        'token.revoked',
        'session.deleted',
        'document.ingested',
        'document.failed',
        'document.deleted',
        'retention.purged'
    )),
    CONSTRAINT audit_log_details_check CHECK (jsonb_typeof(details) = 'object')
);

COMMENT ON TABLE audit_log IS 'Append-only record of security-relevant actions: who did what to which object, and when.';

CREATE FUNCTION audit_log_reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

COMMENT ON FUNCTION audit_log_reject_change() IS 'Trigger that keeps audit_log append-only.';

CREATE TRIGGER audit_log_reject_update_delete
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_reject_change();

-- migrate:down
DROP TABLE audit_log;
DROP FUNCTION audit_log_reject_change();
