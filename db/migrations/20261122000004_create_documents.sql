-- migrate:up
CREATE TABLE documents (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- NULL: the shared corpus, readable by every user.
    owner_id uuid REFERENCES users (id) ON DELETE CASCADE,
    title text,
    source_url text,
    filename text,
    content_type text,
    -- sha256 of the content: re-ingesting identical content is a no-op.
    checksum bytea NOT NULL,
    byte_size bigint,
    status text NOT NULL DEFAULT 'pending',
    error text,
    chunk_count integer NOT NULL DEFAULT 0,
    embedding_model text,
    collection text,
    metadata jsonb NOT NULL DEFAULT '{}',
    attempts integer NOT NULL DEFAULT 0,
    claimed_at timestamptz,
    claimed_by text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- One document per content and owner; the shared corpus (NULL owner) too.
    CONSTRAINT documents_checksum_owner_id_key UNIQUE NULLS NOT DISTINCT (checksum, owner_id),
    CONSTRAINT documents_source_check CHECK (coalesce(source_url, filename, title) IS NOT NULL),
    CONSTRAINT documents_checksum_check CHECK (octet_length(checksum) = 32),
    CONSTRAINT documents_byte_size_check CHECK (byte_size >= 0),
    CONSTRAINT documents_status_check
        CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
    CONSTRAINT documents_error_check CHECK ((status = 'failed') = (error IS NOT NULL)),
    CONSTRAINT documents_chunk_count_check CHECK (chunk_count >= 0),
    CONSTRAINT documents_metadata_check CHECK (jsonb_typeof(metadata) = 'object'),
    CONSTRAINT documents_attempts_check CHECK (attempts >= 0),
    CONSTRAINT documents_claim_check
        CHECK (status <> 'processing' OR (claimed_at IS NOT NULL AND claimed_by IS NOT NULL))
);

COMMENT ON TABLE documents IS 'Every ingested document (private or shared), its checksum for dedupe and its ingestion status.';

-- A user's documents, newest first (keyset pagination); also serves the owner FK.
CREATE INDEX documents_owner_id_created_at_idx ON documents (owner_id, created_at DESC, id DESC);
-- The shared corpus, newest first (owner_id IS NULL cannot drive index order).
CREATE INDEX documents_shared_created_at_idx ON documents (created_at DESC, id DESC)
    WHERE owner_id IS NULL;
-- The ingestion work queue.
CREATE INDEX documents_queue_idx ON documents (created_at, id)
    WHERE status IN ('pending', 'processing');

CREATE TRIGGER documents_set_updated_at
    BEFORE UPDATE ON documents
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE document_chunks (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    document_id uuid NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    -- Copied from documents.owner_id by a trigger (co-location by user).
    owner_id uuid,
    chunk_index integer NOT NULL,
    -- Id of the chunk's vector in Qdrant.
    point_id uuid NOT NULL,
    content text NOT NULL,
    char_start integer,
    char_end integer,
    token_count integer,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT document_chunks_document_id_chunk_index_key UNIQUE (document_id, chunk_index),
    CONSTRAINT document_chunks_point_id_key UNIQUE (point_id),
    CONSTRAINT document_chunks_chunk_index_check CHECK (chunk_index >= 0),
    CONSTRAINT document_chunks_char_range_check CHECK (char_start >= 0 AND char_end >= char_start),
    CONSTRAINT document_chunks_token_count_check CHECK (token_count >= 0)
);

COMMENT ON TABLE document_chunks IS 'The chunks of each document with their Qdrant point ids, so a document can be removed from both stores.';

-- A document determines the owner of its chunks (see chat_messages' statistics).
CREATE STATISTICS document_chunks_document_id_owner_id_stats (dependencies)
    ON document_id, owner_id FROM document_chunks;

CREATE FUNCTION document_chunks_set_owner_id() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    SELECT owner_id INTO NEW.owner_id FROM documents WHERE id = NEW.document_id;
    RETURN NEW;
END;
$$;

COMMENT ON FUNCTION document_chunks_set_owner_id() IS 'BEFORE INSERT OR UPDATE trigger: copies the owner of the chunk''s document.';

CREATE TRIGGER document_chunks_set_owner_id
    BEFORE INSERT OR UPDATE OF document_id, owner_id ON document_chunks
    FOR EACH ROW EXECUTE FUNCTION document_chunks_set_owner_id();

-- migrate:down
DROP TABLE document_chunks;
DROP FUNCTION document_chunks_set_owner_id();
DROP TABLE documents;
