-- migrate:up
CREATE TABLE chat_sessions (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title text,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    -- Changed when the session itself (title, metadata) is edited.
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- Bumped by every message write; drives listing order and retention.
    last_activity_at timestamptz NOT NULL DEFAULT now(),
    -- Bumped by reads, at most once a minute (see TouchSessionAccess).
    last_accessed_at timestamptz NOT NULL DEFAULT now(),
    -- Sequence number of the last message appended to this session.
    last_seq bigint NOT NULL DEFAULT 0,
    -- Lets chat_messages reference (session_id, user_id).
    CONSTRAINT chat_sessions_id_user_id_key UNIQUE (id, user_id),
    CONSTRAINT chat_sessions_metadata_check CHECK (jsonb_typeof(metadata) = 'object'),
    CONSTRAINT chat_sessions_last_seq_check CHECK (last_seq >= 0)
);

COMMENT ON TABLE chat_sessions IS 'Conversations, each owned by exactly one user, holding the per-session message counter.';

-- A user's sessions by last activity (keyset pagination); also serves the user FK.
CREATE INDEX chat_sessions_user_id_last_activity_at_idx
    ON chat_sessions (user_id, last_activity_at DESC, id DESC);
-- Retention: sessions inactive since a cutoff.
CREATE INDEX chat_sessions_last_activity_at_idx ON chat_sessions (last_activity_at);

-- Only edits of the session itself move updated_at, not message appends or reads.
CREATE TRIGGER chat_sessions_set_updated_at
    BEFORE UPDATE OF title, metadata ON chat_sessions
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

CREATE TABLE chat_messages (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id uuid NOT NULL,
    user_id uuid NOT NULL,
    -- Position in the session, assigned from chat_sessions.last_seq.
    seq bigint NOT NULL,
    role text NOT NULL,
    status text NOT NULL DEFAULT 'complete',
    error text,
    content text NOT NULL,
    sources jsonb NOT NULL DEFAULT '[]',
    confidence double precision,
    token_count integer,
    metadata jsonb NOT NULL DEFAULT '{}',
    -- Idempotency key supplied by the client for the user message of a turn.
    client_message_id text,
    -- The user message an assistant message answers.
    reply_to_id uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- The composite key makes a message follow its session's owner.
    CONSTRAINT chat_messages_session_fkey FOREIGN KEY (session_id, user_id)
        REFERENCES chat_sessions (id, user_id) ON DELETE CASCADE,
    CONSTRAINT chat_messages_reply_to_fkey FOREIGN KEY (reply_to_id, user_id)
        REFERENCES chat_messages (id, user_id) ON DELETE CASCADE,
    CONSTRAINT chat_messages_session_id_seq_key UNIQUE (session_id, seq),
    CONSTRAINT chat_messages_session_id_client_message_id_key UNIQUE (session_id, client_message_id),
    -- Lets message_citations reference (message_id, user_id).
    CONSTRAINT chat_messages_id_user_id_key UNIQUE (id, user_id),
    CONSTRAINT chat_messages_seq_check CHECK (seq > 0),
    CONSTRAINT chat_messages_role_check CHECK (role IN ('user', 'assistant', 'system')),
    CONSTRAINT chat_messages_status_check CHECK (status IN ('pending', 'complete', 'failed')),
    CONSTRAINT chat_messages_status_role_check CHECK (status = 'complete' OR role = 'assistant'),
    CONSTRAINT chat_messages_error_check CHECK ((status = 'failed') = (error IS NOT NULL)),
    CONSTRAINT chat_messages_sources_check CHECK (jsonb_typeof(sources) = 'array'),
    CONSTRAINT chat_messages_confidence_check CHECK (confidence BETWEEN 0 AND 1),
    CONSTRAINT chat_messages_token_count_check CHECK (token_count >= 0),
    CONSTRAINT chat_messages_metadata_check CHECK (jsonb_typeof(metadata) = 'object'),
    CONSTRAINT chat_messages_client_message_id_check
        CHECK (char_length(client_message_id) BETWEEN 1 AND 200),
    CONSTRAINT chat_messages_reply_to_check
        CHECK (reply_to_id IS NULL OR (role = 'assistant' AND reply_to_id <> id))
);

COMMENT ON TABLE chat_messages IS 'The totally ordered messages of a session, including the lifecycle of assistant replies.';

-- The planner must know that a session determines its user, or it assumes
-- "session_id = $1 AND user_id = $2" matches almost nothing and sorts instead
-- of reading the (session_id, seq) index backwards.
CREATE STATISTICS chat_messages_session_id_user_id_stats (dependencies)
    ON session_id, user_id FROM chat_messages;

-- Finds the reply to a user message; also serves the reply_to foreign key.
CREATE INDEX chat_messages_reply_to_id_idx ON chat_messages (reply_to_id)
    WHERE reply_to_id IS NOT NULL;

CREATE TRIGGER chat_messages_set_updated_at
    BEFORE UPDATE ON chat_messages
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- migrate:down
DROP TABLE chat_messages;
DROP TABLE chat_sessions;
