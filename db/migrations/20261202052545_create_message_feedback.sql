-- migrate:up
-- Why: users rate answers (up or down, with a comment), and the rated answers with the
-- passages they cited become an evaluation set (issue 17); setting and deleting a rating is
-- audited.
-- Never hold the service's reads and writes in a lock queue for long: give up after
-- lock_timeout and run it again later. Raise statement_timeout only for a backfill.
SET LOCAL lock_timeout = '2s';
SET LOCAL statement_timeout = '10s';

-- The passages a rating judged are the answer's message_citations rows, reached by the
-- message: they are written once, when the answer completes, and only a complete answer can
-- be rated (a complete answer is never answered again in place; a regenerated answer is a
-- new message), so the message names exactly the citations the user saw. A copy of them here
-- would only go stale. They share the rating's lifetime: both cascade from the message.
CREATE TABLE message_feedback (
    user_id uuid NOT NULL,
    message_id uuid NOT NULL,
    rating text NOT NULL,
    comment text,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- When the rating or comment last changed: the export's rated_at.
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- One rating per user per message. The key also serves the export (a user's ratings in
    -- message id order, keyset paged) and the cascade from chat_messages.
    PRIMARY KEY (user_id, message_id),
    -- The composite key makes a rating follow its message's owner.
    CONSTRAINT message_feedback_message_fkey FOREIGN KEY (message_id, user_id)
        REFERENCES chat_messages (id, user_id) ON DELETE CASCADE,
    CONSTRAINT message_feedback_rating_check CHECK (rating IN ('up', 'down')),
    CONSTRAINT message_feedback_comment_check CHECK (char_length(comment) BETWEEN 1 AND 2000)
);

COMMENT ON TABLE message_feedback IS 'Each user''s rating of an assistant answer; the passages rated are the answer''s message_citations.';

CREATE TRIGGER message_feedback_set_updated_at
    BEFORE UPDATE ON message_feedback
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- The audit actions of ratings. Added NOT VALID: widening the list cannot make a row invalid,
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
        'feedback.deleted'
)) NOT VALID;

-- migrate:down
SET LOCAL lock_timeout = '2s';
SET LOCAL statement_timeout = '10s';
-- NOT VALID: the append-only log keeps the feedback entries already written.
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
        'retention.purged'
)) NOT VALID;
DROP TABLE message_feedback;
