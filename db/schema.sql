\restrict dbmate

-- Dumped from database version 18.6
-- Dumped by pg_dump version 18.6

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET transaction_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: btree_gin; Type: EXTENSION; Schema: -; Owner: -
--

CREATE EXTENSION IF NOT EXISTS btree_gin WITH SCHEMA public;


--
-- Name: EXTENSION btree_gin; Type: COMMENT; Schema: -; Owner: -
--

COMMENT ON EXTENSION btree_gin IS 'support for indexing common datatypes in GIN';


--
-- Name: audit_log_reject_change(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.audit_log_reject_change() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
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


--
-- Name: FUNCTION audit_log_reject_change(); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.audit_log_reject_change() IS 'Trigger that keeps audit_log append-only, except for erasing the details of a row (audit_log.erasing on, details set to {"erased": true}).';


--
-- Name: chat_message_search_sync(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.chat_message_search_sync() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    vector tsvector := to_tsvector(TG_ARGV[0]::regconfig, NEW.content);
BEGIN
    IF length(vector) > 0 THEN
        INSERT INTO chat_message_search (message_id, user_id, search_vector)
        VALUES (NEW.id, NEW.user_id, vector)
        ON CONFLICT (message_id) DO UPDATE SET search_vector = excluded.search_vector;
    ELSIF TG_OP = 'UPDATE' THEN
        DELETE FROM chat_message_search WHERE message_id = NEW.id;
    END IF;
    RETURN NULL;
END;
$$;


--
-- Name: FUNCTION chat_message_search_sync(); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.chat_message_search_sync() IS 'AFTER INSERT/UPDATE trigger on chat_messages: writes the message''s chat_message_search row (to_tsvector with the configuration named by the trigger argument), or deletes it when the content has no word.';


--
-- Name: document_chunks_set_owner_id(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.document_chunks_set_owner_id() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    SELECT owner_id INTO NEW.owner_id FROM documents WHERE id = NEW.document_id;
    RETURN NEW;
END;
$$;


--
-- Name: FUNCTION document_chunks_set_owner_id(); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.document_chunks_set_owner_id() IS 'BEFORE INSERT OR UPDATE trigger: copies the owner of the chunk''s document.';


--
-- Name: set_updated_at(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.set_updated_at() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;


--
-- Name: FUNCTION set_updated_at(); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.set_updated_at() IS 'BEFORE UPDATE trigger: sets updated_at to now().';


--
-- Name: uuid_v7(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.uuid_v7() RETURNS uuid
    LANGUAGE sql PARALLEL SAFE
    AS $$
    SELECT encode(
        set_bit(
            set_bit(
                overlay(
                    uuid_send(gen_random_uuid())
                    PLACING substring(
                        int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint)
                        FROM 3
                    )
                    FROM 1 FOR 6
                ),
                52, 1
            ),
            53, 1
        ),
        'hex'
    )::uuid
    $$;


--
-- Name: FUNCTION uuid_v7(); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.uuid_v7() IS 'A time-ordered UUID (version 7, RFC 9562) with millisecond precision.';


SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: audit_log; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.audit_log (
    id bigint NOT NULL,
    occurred_at timestamp with time zone DEFAULT now() NOT NULL,
    actor_user_id uuid,
    action text NOT NULL,
    target_type text,
    target_id text,
    request_id text,
    details jsonb DEFAULT '{}'::jsonb NOT NULL,
    CONSTRAINT audit_log_action_check CHECK ((action = ANY (ARRAY['user.created'::text, 'user.deleted'::text, 'token.issued'::text, 'token.revoked'::text, 'session.deleted'::text, 'document.created'::text, 'document.ingested'::text, 'document.failed'::text, 'document.deleted'::text, 'retention.purged'::text, 'feedback.set'::text, 'feedback.deleted'::text, 'history.claimed'::text]))),
    CONSTRAINT audit_log_details_check CHECK ((jsonb_typeof(details) = 'object'::text))
);


--
-- Name: TABLE audit_log; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.audit_log IS 'Append-only record of security-relevant actions: who did what to which object, and when.';


--
-- Name: audit_log_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.audit_log ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.audit_log_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: chat_message_search; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.chat_message_search (
    message_id uuid NOT NULL,
    user_id uuid NOT NULL,
    search_vector tsvector NOT NULL
);


--
-- Name: TABLE chat_message_search; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.chat_message_search IS 'The words of each message that has any, as the search index reads them; kept by the chat_messages_*_search triggers.';


--
-- Name: COLUMN chat_message_search.search_vector; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.chat_message_search.search_vector IS 'to_tsvector of the message''s content, with the configuration the triggers name; never empty.';


--
-- Name: chat_messages; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.chat_messages (
    id uuid DEFAULT public.uuid_v7() NOT NULL,
    session_id uuid NOT NULL,
    user_id uuid NOT NULL,
    seq bigint NOT NULL,
    role text NOT NULL,
    status text DEFAULT 'complete'::text NOT NULL,
    error text,
    content text NOT NULL,
    sources jsonb DEFAULT '[]'::jsonb NOT NULL,
    confidence double precision,
    token_count integer,
    metadata jsonb DEFAULT '{}'::jsonb NOT NULL,
    client_message_id text,
    reply_to_id uuid,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    superseded_at timestamp with time zone,
    CONSTRAINT chat_messages_client_message_id_check CHECK (((char_length(client_message_id) >= 1) AND (char_length(client_message_id) <= 200))),
    CONSTRAINT chat_messages_confidence_check CHECK (((confidence >= (0)::double precision) AND (confidence <= (1)::double precision))),
    CONSTRAINT chat_messages_error_check CHECK (((status = 'failed'::text) = (error IS NOT NULL))),
    CONSTRAINT chat_messages_metadata_check CHECK ((jsonb_typeof(metadata) = 'object'::text)),
    CONSTRAINT chat_messages_reply_to_check CHECK (((reply_to_id IS NULL) OR ((role = 'assistant'::text) AND (reply_to_id <> id)))),
    CONSTRAINT chat_messages_role_check CHECK ((role = ANY (ARRAY['user'::text, 'assistant'::text, 'system'::text]))),
    CONSTRAINT chat_messages_seq_check CHECK ((seq > 0)),
    CONSTRAINT chat_messages_sources_check CHECK ((jsonb_typeof(sources) = 'array'::text)),
    CONSTRAINT chat_messages_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'complete'::text, 'failed'::text]))),
    CONSTRAINT chat_messages_status_role_check CHECK (((status = 'complete'::text) OR (role = 'assistant'::text))),
    CONSTRAINT chat_messages_superseded_at_check CHECK (((superseded_at IS NULL) OR ((role = 'assistant'::text) AND (status <> 'pending'::text)))),
    CONSTRAINT chat_messages_token_count_check CHECK ((token_count >= 0))
);


--
-- Name: TABLE chat_messages; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.chat_messages IS 'The totally ordered messages of a session, including the lifecycle of assistant replies.';


--
-- Name: COLUMN chat_messages.superseded_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.chat_messages.superseded_at IS 'When a regenerated answer to the same question replaced this answer; NULL for the current one.';


--
-- Name: chat_sessions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.chat_sessions (
    id uuid DEFAULT public.uuid_v7() NOT NULL,
    user_id uuid NOT NULL,
    title text,
    metadata jsonb DEFAULT '{}'::jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    last_activity_at timestamp with time zone DEFAULT now() NOT NULL,
    last_accessed_at timestamp with time zone DEFAULT now() NOT NULL,
    last_seq bigint DEFAULT 0 NOT NULL,
    client_key text,
    CONSTRAINT chat_sessions_client_key_check CHECK (((char_length(client_key) >= 1) AND (char_length(client_key) <= 255))),
    CONSTRAINT chat_sessions_last_seq_check CHECK ((last_seq >= 0)),
    CONSTRAINT chat_sessions_metadata_check CHECK ((jsonb_typeof(metadata) = 'object'::text))
)
WITH (fillfactor='90');


--
-- Name: TABLE chat_sessions; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.chat_sessions IS 'Conversations, each owned by exactly one user, holding the per-session message counter.';


--
-- Name: document_chunks; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.document_chunks (
    id uuid DEFAULT public.uuid_v7() NOT NULL,
    document_id uuid NOT NULL,
    owner_id uuid,
    chunk_index integer NOT NULL,
    point_id uuid NOT NULL,
    content text NOT NULL,
    char_start integer,
    char_end integer,
    token_count integer,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT document_chunks_char_range_check CHECK (((char_start >= 0) AND (char_end >= char_start))),
    CONSTRAINT document_chunks_chunk_index_check CHECK ((chunk_index >= 0)),
    CONSTRAINT document_chunks_token_count_check CHECK ((token_count >= 0))
);


--
-- Name: TABLE document_chunks; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.document_chunks IS 'The chunks of each document with their Qdrant point ids, so a document can be removed from both stores.';


--
-- Name: document_owner_syncs; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.document_owner_syncs (
    document_id uuid NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    claimed_at timestamp with time zone,
    claimed_by text,
    attempts integer DEFAULT 0 NOT NULL,
    last_error text,
    CONSTRAINT document_owner_syncs_attempts_check CHECK ((attempts >= 0))
);


--
-- Name: TABLE document_owner_syncs; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.document_owner_syncs IS 'Documents whose vector points must be made to match PostgreSQL (owner payload rewritten, or points deleted when the document is gone): a durable job, deleted once done.';


--
-- Name: document_sources; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.document_sources (
    document_id uuid NOT NULL,
    owner_id uuid,
    content bytea NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);


--
-- Name: TABLE document_sources; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.document_sources IS 'The uploaded content of each document, kept until ingestion has read it, so an acknowledged upload is never lost.';


--
-- Name: documents; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.documents (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    owner_id uuid,
    title text,
    source_url text,
    filename text,
    content_type text,
    checksum bytea NOT NULL,
    byte_size bigint,
    status text DEFAULT 'pending'::text NOT NULL,
    error text,
    chunk_count integer DEFAULT 0 NOT NULL,
    embedding_model text,
    collection text,
    metadata jsonb DEFAULT '{}'::jsonb NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    claimed_at timestamp with time zone,
    claimed_by text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT documents_attempts_check CHECK ((attempts >= 0)),
    CONSTRAINT documents_byte_size_check CHECK ((byte_size >= 0)),
    CONSTRAINT documents_checksum_check CHECK ((octet_length(checksum) = 32)),
    CONSTRAINT documents_chunk_count_check CHECK ((chunk_count >= 0)),
    CONSTRAINT documents_claim_check CHECK (((status <> 'processing'::text) OR ((claimed_at IS NOT NULL) AND (claimed_by IS NOT NULL)))),
    CONSTRAINT documents_error_check CHECK (((status = 'failed'::text) = (error IS NOT NULL))),
    CONSTRAINT documents_metadata_check CHECK ((jsonb_typeof(metadata) = 'object'::text)),
    CONSTRAINT documents_source_check CHECK ((COALESCE(source_url, filename, title) IS NOT NULL)),
    CONSTRAINT documents_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'processing'::text, 'completed'::text, 'failed'::text])))
);


--
-- Name: TABLE documents; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.documents IS 'Every ingested document (private or shared), its checksum for dedupe and its ingestion status.';


--
-- Name: message_citations; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.message_citations (
    message_id uuid NOT NULL,
    user_id uuid NOT NULL,
    rank smallint NOT NULL,
    document_id uuid,
    chunk_id uuid,
    point_id uuid,
    score double precision,
    document_title text,
    document_url text,
    snippet text,
    CONSTRAINT message_citations_rank_check CHECK ((rank >= 1))
);


--
-- Name: TABLE message_citations; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.message_citations IS 'The ranked document chunks an assistant message used, queryable rather than opaque JSON.';


--
-- Name: message_feedback; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.message_feedback (
    user_id uuid NOT NULL,
    message_id uuid NOT NULL,
    rating text NOT NULL,
    comment text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT message_feedback_comment_check CHECK (((char_length(comment) >= 1) AND (char_length(comment) <= 2000))),
    CONSTRAINT message_feedback_rating_check CHECK ((rating = ANY (ARRAY['up'::text, 'down'::text])))
);


--
-- Name: TABLE message_feedback; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.message_feedback IS 'Each user''s rating of an assistant answer; the passages rated are the answer''s message_citations.';


--
-- Name: rate_limits; Type: TABLE; Schema: public; Owner: -
--

CREATE UNLOGGED TABLE public.rate_limits (
    bucket text NOT NULL,
    key text NOT NULL,
    window_start timestamp with time zone NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    count bigint NOT NULL,
    CONSTRAINT rate_limits_count_check CHECK ((count >= 0)),
    CONSTRAINT rate_limits_window_check CHECK ((expires_at > window_start))
)
WITH (fillfactor='70');


--
-- Name: TABLE rate_limits; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.rate_limits IS 'Abuse-limit counters shared by every service replica: what was admitted per bucket, key and fixed time window.';


--
-- Name: schema_migrations; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.schema_migrations (
    version character varying NOT NULL
);


--
-- Name: user_credentials; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.user_credentials (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    user_id uuid NOT NULL,
    token_hash bytea NOT NULL,
    kind text DEFAULT 'session'::text NOT NULL,
    label text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    revoked_at timestamp with time zone,
    last_used_at timestamp with time zone,
    CONSTRAINT user_credentials_expires_at_check CHECK ((expires_at > created_at)),
    CONSTRAINT user_credentials_kind_check CHECK ((kind = ANY (ARRAY['session'::text, 'api'::text]))),
    CONSTRAINT user_credentials_token_hash_check CHECK ((octet_length(token_hash) = 32))
);


--
-- Name: TABLE user_credentials; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.user_credentials IS 'Bearer tokens that identify a user, stored only as sha256 hashes with expiry and revocation.';


--
-- Name: user_identities; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.user_identities (
    issuer text NOT NULL,
    subject text NOT NULL,
    user_id uuid NOT NULL,
    email text,
    name text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT user_identities_email_check CHECK ((char_length(email) <= 320)),
    CONSTRAINT user_identities_issuer_check CHECK (((char_length(issuer) >= 1) AND (char_length(issuer) <= 255))),
    CONSTRAINT user_identities_name_check CHECK ((char_length(name) <= 255)),
    CONSTRAINT user_identities_subject_check CHECK (((char_length(subject) >= 1) AND (char_length(subject) <= 255)))
);


--
-- Name: TABLE user_identities; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.user_identities IS 'External identities (issuer and subject) of users: forwarded by a trusted front end, or signed in.';


--
-- Name: users; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.users (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    email text,
    name text,
    is_anonymous boolean DEFAULT false NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT users_anonymous_email_check CHECK ((NOT (is_anonymous AND (email IS NOT NULL)))),
    CONSTRAINT users_email_check CHECK (((email IS NULL) OR (email ~~ '_%@_%'::text)))
);


--
-- Name: TABLE users; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.users IS 'People (or anonymous visitors) who own chat sessions, credentials and private documents.';


--
-- Name: vector_erasures; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.vector_erasures (
    id uuid DEFAULT public.uuid_v7() NOT NULL,
    owner_id uuid NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    claimed_at timestamp with time zone,
    claimed_by text,
    attempts integer DEFAULT 0 NOT NULL,
    last_error text,
    CONSTRAINT vector_erasures_attempts_check CHECK ((attempts >= 0))
);


--
-- Name: TABLE vector_erasures; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.vector_erasures IS 'Vector points still to delete for erased users: a durable job per erasure, deleted once the points are gone.';


--
-- Name: audit_log audit_log_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.audit_log
    ADD CONSTRAINT audit_log_pkey PRIMARY KEY (id);


--
-- Name: chat_message_search chat_message_search_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.chat_message_search
    ADD CONSTRAINT chat_message_search_pkey PRIMARY KEY (message_id);


--
-- Name: chat_messages chat_messages_id_user_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.chat_messages
    ADD CONSTRAINT chat_messages_id_user_id_key UNIQUE (id, user_id);


--
-- Name: chat_messages chat_messages_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.chat_messages
    ADD CONSTRAINT chat_messages_pkey PRIMARY KEY (id);


--
-- Name: chat_messages chat_messages_session_id_client_message_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.chat_messages
    ADD CONSTRAINT chat_messages_session_id_client_message_id_key UNIQUE (session_id, client_message_id);


--
-- Name: chat_messages chat_messages_session_id_seq_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.chat_messages
    ADD CONSTRAINT chat_messages_session_id_seq_key UNIQUE (session_id, seq);


--
-- Name: chat_sessions chat_sessions_id_user_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.chat_sessions
    ADD CONSTRAINT chat_sessions_id_user_id_key UNIQUE (id, user_id);


--
-- Name: chat_sessions chat_sessions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.chat_sessions
    ADD CONSTRAINT chat_sessions_pkey PRIMARY KEY (id);


--
-- Name: document_chunks document_chunks_document_id_chunk_index_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.document_chunks
    ADD CONSTRAINT document_chunks_document_id_chunk_index_key UNIQUE (document_id, chunk_index);


--
-- Name: document_chunks document_chunks_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.document_chunks
    ADD CONSTRAINT document_chunks_pkey PRIMARY KEY (id);


--
-- Name: document_chunks document_chunks_point_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.document_chunks
    ADD CONSTRAINT document_chunks_point_id_key UNIQUE (point_id);


--
-- Name: document_owner_syncs document_owner_syncs_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.document_owner_syncs
    ADD CONSTRAINT document_owner_syncs_pkey PRIMARY KEY (document_id);


--
-- Name: document_sources document_sources_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.document_sources
    ADD CONSTRAINT document_sources_pkey PRIMARY KEY (document_id);


--
-- Name: documents documents_checksum_owner_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.documents
    ADD CONSTRAINT documents_checksum_owner_id_key UNIQUE NULLS NOT DISTINCT (checksum, owner_id);


--
-- Name: documents documents_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.documents
    ADD CONSTRAINT documents_pkey PRIMARY KEY (id);


--
-- Name: message_citations message_citations_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.message_citations
    ADD CONSTRAINT message_citations_pkey PRIMARY KEY (message_id, rank);


--
-- Name: message_feedback message_feedback_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.message_feedback
    ADD CONSTRAINT message_feedback_pkey PRIMARY KEY (user_id, message_id);


--
-- Name: rate_limits rate_limits_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rate_limits
    ADD CONSTRAINT rate_limits_pkey PRIMARY KEY (bucket, key, window_start);


--
-- Name: schema_migrations schema_migrations_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.schema_migrations
    ADD CONSTRAINT schema_migrations_pkey PRIMARY KEY (version);


--
-- Name: user_credentials user_credentials_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.user_credentials
    ADD CONSTRAINT user_credentials_pkey PRIMARY KEY (id);


--
-- Name: user_credentials user_credentials_token_hash_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.user_credentials
    ADD CONSTRAINT user_credentials_token_hash_key UNIQUE (token_hash);


--
-- Name: user_identities user_identities_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.user_identities
    ADD CONSTRAINT user_identities_pkey PRIMARY KEY (issuer, subject);


--
-- Name: users users_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);


--
-- Name: vector_erasures vector_erasures_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.vector_erasures
    ADD CONSTRAINT vector_erasures_pkey PRIMARY KEY (id);


--
-- Name: audit_log_actor_user_id_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX audit_log_actor_user_id_idx ON public.audit_log USING btree (actor_user_id) WHERE (actor_user_id IS NOT NULL);


--
-- Name: chat_message_search_user_id_search_vector_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX chat_message_search_user_id_search_vector_idx ON public.chat_message_search USING gin (user_id, search_vector);


--
-- Name: chat_messages_pending_updated_at_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX chat_messages_pending_updated_at_idx ON public.chat_messages USING btree (updated_at) WHERE (status = 'pending'::text);


--
-- Name: chat_messages_reply_to_id_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX chat_messages_reply_to_id_idx ON public.chat_messages USING btree (reply_to_id) WHERE (reply_to_id IS NOT NULL);


--
-- Name: chat_messages_user_id_client_message_id_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX chat_messages_user_id_client_message_id_idx ON public.chat_messages USING btree (user_id, client_message_id) WHERE (client_message_id IS NOT NULL);


--
-- Name: chat_sessions_last_activity_at_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX chat_sessions_last_activity_at_idx ON public.chat_sessions USING btree (last_activity_at);


--
-- Name: chat_sessions_user_id_client_key_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX chat_sessions_user_id_client_key_key ON public.chat_sessions USING btree (user_id, client_key) WHERE (client_key IS NOT NULL);


--
-- Name: chat_sessions_user_id_id_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX chat_sessions_user_id_id_idx ON public.chat_sessions USING btree (user_id, id);


--
-- Name: chat_sessions_user_id_last_activity_at_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX chat_sessions_user_id_last_activity_at_idx ON public.chat_sessions USING btree (user_id, last_activity_at DESC, id DESC);


--
-- Name: document_owner_syncs_created_at_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX document_owner_syncs_created_at_idx ON public.document_owner_syncs USING btree (created_at, document_id);


--
-- Name: documents_owner_id_created_at_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX documents_owner_id_created_at_idx ON public.documents USING btree (owner_id, created_at DESC, id DESC);


--
-- Name: documents_queue_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX documents_queue_idx ON public.documents USING btree (created_at, id) WHERE (status = ANY (ARRAY['pending'::text, 'processing'::text]));


--
-- Name: documents_shared_created_at_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX documents_shared_created_at_idx ON public.documents USING btree (created_at DESC, id DESC) WHERE (owner_id IS NULL);


--
-- Name: message_citations_chunk_id_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX message_citations_chunk_id_idx ON public.message_citations USING btree (chunk_id) WHERE (chunk_id IS NOT NULL);


--
-- Name: message_citations_document_id_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX message_citations_document_id_idx ON public.message_citations USING btree (document_id) WHERE (document_id IS NOT NULL);


--
-- Name: rate_limits_expires_at_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX rate_limits_expires_at_idx ON public.rate_limits USING btree (expires_at);


--
-- Name: user_credentials_expires_at_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX user_credentials_expires_at_idx ON public.user_credentials USING btree (expires_at);


--
-- Name: user_credentials_user_id_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX user_credentials_user_id_idx ON public.user_credentials USING btree (user_id, created_at DESC);


--
-- Name: user_identities_user_id_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX user_identities_user_id_idx ON public.user_identities USING btree (user_id);


--
-- Name: users_email_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX users_email_key ON public.users USING btree (lower(email));


--
-- Name: vector_erasures_created_at_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX vector_erasures_created_at_idx ON public.vector_erasures USING btree (created_at, id);


--
-- Name: chat_messages_session_id_user_id_stats; Type: STATISTICS; Schema: public; Owner: -
--

CREATE STATISTICS public.chat_messages_session_id_user_id_stats (dependencies) ON session_id, user_id FROM public.chat_messages;


--
-- Name: document_chunks_document_id_owner_id_stats; Type: STATISTICS; Schema: public; Owner: -
--

CREATE STATISTICS public.document_chunks_document_id_owner_id_stats (dependencies) ON document_id, owner_id FROM public.document_chunks;


--
-- Name: message_citations_message_id_user_id_stats; Type: STATISTICS; Schema: public; Owner: -
--

CREATE STATISTICS public.message_citations_message_id_user_id_stats (dependencies) ON message_id, user_id FROM public.message_citations;


--
-- Name: audit_log audit_log_reject_update_delete; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER audit_log_reject_update_delete BEFORE DELETE OR UPDATE ON public.audit_log FOR EACH ROW EXECUTE FUNCTION public.audit_log_reject_change();


--
-- Name: chat_messages chat_messages_insert_search; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER chat_messages_insert_search AFTER INSERT ON public.chat_messages FOR EACH ROW WHEN ((new.content <> ''::text)) EXECUTE FUNCTION public.chat_message_search_sync('english');


--
-- Name: chat_messages chat_messages_set_updated_at; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER chat_messages_set_updated_at BEFORE UPDATE ON public.chat_messages FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();


--
-- Name: chat_messages chat_messages_update_search; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER chat_messages_update_search AFTER UPDATE OF content ON public.chat_messages FOR EACH ROW WHEN ((old.content IS DISTINCT FROM new.content)) EXECUTE FUNCTION public.chat_message_search_sync('english');


--
-- Name: chat_sessions chat_sessions_set_updated_at; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER chat_sessions_set_updated_at BEFORE UPDATE OF title, metadata ON public.chat_sessions FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();


--
-- Name: document_chunks document_chunks_set_owner_id; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER document_chunks_set_owner_id BEFORE INSERT OR UPDATE OF document_id, owner_id ON public.document_chunks FOR EACH ROW EXECUTE FUNCTION public.document_chunks_set_owner_id();


--
-- Name: documents documents_set_updated_at; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER documents_set_updated_at BEFORE UPDATE ON public.documents FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();


--
-- Name: message_feedback message_feedback_set_updated_at; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER message_feedback_set_updated_at BEFORE UPDATE ON public.message_feedback FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();


--
-- Name: user_identities user_identities_set_updated_at; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER user_identities_set_updated_at BEFORE UPDATE ON public.user_identities FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();


--
-- Name: users users_set_updated_at; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER users_set_updated_at BEFORE UPDATE ON public.users FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();


--
-- Name: chat_message_search chat_message_search_message_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.chat_message_search
    ADD CONSTRAINT chat_message_search_message_fkey FOREIGN KEY (message_id, user_id) REFERENCES public.chat_messages(id, user_id) ON UPDATE CASCADE ON DELETE CASCADE;


--
-- Name: chat_messages chat_messages_reply_to_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.chat_messages
    ADD CONSTRAINT chat_messages_reply_to_fkey FOREIGN KEY (reply_to_id, user_id) REFERENCES public.chat_messages(id, user_id) ON DELETE CASCADE;


--
-- Name: chat_messages chat_messages_session_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.chat_messages
    ADD CONSTRAINT chat_messages_session_fkey FOREIGN KEY (session_id, user_id) REFERENCES public.chat_sessions(id, user_id) ON DELETE CASCADE;


--
-- Name: chat_sessions chat_sessions_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.chat_sessions
    ADD CONSTRAINT chat_sessions_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: document_chunks document_chunks_document_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.document_chunks
    ADD CONSTRAINT document_chunks_document_id_fkey FOREIGN KEY (document_id) REFERENCES public.documents(id) ON DELETE CASCADE;


--
-- Name: document_sources document_sources_document_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.document_sources
    ADD CONSTRAINT document_sources_document_id_fkey FOREIGN KEY (document_id) REFERENCES public.documents(id) ON DELETE CASCADE;


--
-- Name: documents documents_owner_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.documents
    ADD CONSTRAINT documents_owner_id_fkey FOREIGN KEY (owner_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: message_citations message_citations_chunk_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.message_citations
    ADD CONSTRAINT message_citations_chunk_id_fkey FOREIGN KEY (chunk_id) REFERENCES public.document_chunks(id) ON DELETE SET NULL;


--
-- Name: message_citations message_citations_document_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.message_citations
    ADD CONSTRAINT message_citations_document_id_fkey FOREIGN KEY (document_id) REFERENCES public.documents(id) ON DELETE SET NULL;


--
-- Name: message_citations message_citations_message_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.message_citations
    ADD CONSTRAINT message_citations_message_fkey FOREIGN KEY (message_id, user_id) REFERENCES public.chat_messages(id, user_id) ON DELETE CASCADE;


--
-- Name: message_feedback message_feedback_message_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.message_feedback
    ADD CONSTRAINT message_feedback_message_fkey FOREIGN KEY (message_id, user_id) REFERENCES public.chat_messages(id, user_id) ON DELETE CASCADE;


--
-- Name: user_credentials user_credentials_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.user_credentials
    ADD CONSTRAINT user_credentials_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: user_identities user_identities_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.user_identities
    ADD CONSTRAINT user_identities_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- PostgreSQL database dump complete
--

\unrestrict dbmate


--
-- Dbmate schema migrations
--

INSERT INTO public.schema_migrations (version) VALUES
    ('20261122000001'),
    ('20261122000002'),
    ('20261122000003'),
    ('20261122000004'),
    ('20261122000005'),
    ('20261122000006'),
    ('20261122000007'),
    ('20261202000001'),
    ('20261202011120'),
    ('20261202030000'),
    ('20261202030100'),
    ('20261202030200'),
    ('20261202030300'),
    ('20261202030400'),
    ('20261202050000'),
    ('20261202052545'),
    ('20261202052547'),
    ('20261202052556'),
    ('20261202052557'),
    ('20261202052558'),
    ('20261202052559'),
    ('20261202052708'),
    ('20261202052709'),
    ('20261202052724'),
    ('20261202052733'),
    ('20261202052832'),
    ('20261202061216'),
    ('20261202061217'),
    ('20261202063821');
