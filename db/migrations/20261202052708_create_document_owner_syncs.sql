-- migrate:up
-- Why: claiming an anonymous user's history (a JWT sign-in) moves their private documents to
-- the signed-in user in one PostgreSQL transaction, but the owner each vector point carries in
-- its payload lives in a second store; this durable job, written in that transaction, is
-- worked by the process that owns the vector store until the points match the document row.
-- Also the audit action of a claim.
-- Never hold the service's reads and writes in a lock queue for long: give up after
-- lock_timeout and run it again later. Raise statement_timeout only for a backfill.
SET LOCAL lock_timeout = '2s';
SET LOCAL statement_timeout = '10s';

CREATE TABLE document_owner_syncs (
    -- The document whose points may carry a stale owner. No foreign key: a document deleted
    -- before the job runs (a duplicate dropped by the claim, a user's erasure) still has
    -- points to delete, and the job finds the row gone and deletes them.
    document_id uuid PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- Taken by a worker when claimed_at is set; taken over (a crash, a failed attempt, a
    -- document still being ingested) once claimed_at is older than the retry delay.
    claimed_at timestamptz,
    claimed_by text,
    attempts integer NOT NULL DEFAULT 0,
    last_error text,
    CONSTRAINT document_owner_syncs_attempts_check CHECK (attempts >= 0)
);

COMMENT ON TABLE document_owner_syncs IS 'Documents whose vector points must be made to match PostgreSQL (owner payload rewritten, or points deleted when the document is gone): a durable job, deleted once done.';

-- Workers take the oldest job first.
CREATE INDEX document_owner_syncs_created_at_idx ON document_owner_syncs (created_at, document_id);

-- The audit action of a claim. Added NOT VALID: widening the list cannot make a row invalid,
-- and no scan runs under the ACCESS EXCLUSIVE lock (validated in the next migration). The
-- list is every action so far: a migration that adds actions later copies it whole.
-- The check is replaced by a wider one in the same transaction: no guarantee is lost.
-- squawk-ignore ban-drop-constraint
ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check CHECK (action IN (
        'user.created',
        'user.deleted',
        'token.issued',
        'token.revoked',
        'session.deleted',
        'document.created',
        'document.ingested',
        'document.failed',
        'document.deleted',
        'retention.purged',
        'feedback.set',
        'feedback.deleted',
        'history.claimed'
)) NOT VALID;

-- migrate:down
SET LOCAL lock_timeout = '2s';
SET LOCAL statement_timeout = '10s';
-- NOT VALID: the append-only log keeps the claim entries already written.
ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check CHECK (action IN (
        'user.created',
        'user.deleted',
        'token.issued',
        'token.revoked',
        'session.deleted',
        'document.created',
        'document.ingested',
        'document.failed',
        'document.deleted',
        'retention.purged',
        'feedback.set',
        'feedback.deleted'
)) NOT VALID;
DROP TABLE document_owner_syncs;
