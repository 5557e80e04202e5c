-- migrate:up
CREATE TABLE document_sources (
    document_id uuid PRIMARY KEY REFERENCES documents (id) ON DELETE CASCADE,
    -- Copied from the document (NULL: the shared corpus), so every user-owned table has it.
    owner_id uuid,
    -- The bytes as uploaded (a file, or UTF-8 text); URL documents have none until fetched.
    content bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE document_sources IS 'The uploaded content of each document, kept until ingestion has read it, so an acknowledged upload is never lost.';

-- Uploads are security-relevant too: who put which content into the system.
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
));

-- migrate:down
ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check CHECK (action IN (
        'user.created',
        'user.deleted',
        'token.issued',
        'token.revoked',
        'session.deleted',
        'document.ingested',
        'document.failed',
        'document.deleted',
        'retention.purged'
));
DROP TABLE document_sources;
