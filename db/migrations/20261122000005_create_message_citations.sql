-- migrate:up
CREATE TABLE message_citations (
    message_id uuid NOT NULL,
    user_id uuid NOT NULL,
    -- 1 for the best source.
    rank smallint NOT NULL,
    document_id uuid REFERENCES documents (id) ON DELETE SET NULL,
    chunk_id uuid REFERENCES document_chunks (id) ON DELETE SET NULL,
    point_id uuid,
    score double precision,
    -- Snapshot taken when the answer was given: stays readable after the document is deleted.
    document_title text,
    document_url text,
    snippet text,
    PRIMARY KEY (message_id, rank),
    CONSTRAINT message_citations_message_fkey FOREIGN KEY (message_id, user_id)
        REFERENCES chat_messages (id, user_id) ON DELETE CASCADE,
    CONSTRAINT message_citations_rank_check CHECK (rank >= 1)
);

COMMENT ON TABLE message_citations IS 'The ranked document chunks an assistant message used, queryable rather than opaque JSON.';

-- A message determines the user of its citations (see chat_messages' statistics).
CREATE STATISTICS message_citations_message_id_user_id_stats (dependencies)
    ON message_id, user_id FROM message_citations;

-- Serve ON DELETE SET NULL when a document or chunk is deleted.
CREATE INDEX message_citations_document_id_idx ON message_citations (document_id)
    WHERE document_id IS NOT NULL;
CREATE INDEX message_citations_chunk_id_idx ON message_citations (chunk_id)
    WHERE chunk_id IS NOT NULL;

-- migrate:down
DROP TABLE message_citations;
