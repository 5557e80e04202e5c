-- migrate:up
-- Why: erasing a user (DELETE /me) removes their vector points in a second store, after the
-- PostgreSQL transaction that deleted them; this durable job, written in that transaction,
-- is retried by the process that owns the vector store until the points are gone.
-- A new table only: nothing existing is rewritten or locked.
SET LOCAL lock_timeout = '2s';
SET LOCAL statement_timeout = '10s';

CREATE TABLE vector_erasures (
    id uuid PRIMARY KEY DEFAULT uuid_v7(),
    -- The erased user: every point whose payload names this owner is deleted. No foreign
    -- key: the user row is gone by the time the job runs. The job row is deleted once done,
    -- so nothing of the user remains here either.
    owner_id uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- Taken by a worker when claimed_at is set; taken over (a crash, a failed attempt) once
    -- claimed_at is older than the retry delay.
    claimed_at timestamptz,
    claimed_by text,
    attempts integer NOT NULL DEFAULT 0,
    last_error text,
    CONSTRAINT vector_erasures_attempts_check CHECK (attempts >= 0)
);

COMMENT ON TABLE vector_erasures IS 'Vector points still to delete for erased users: a durable job per erasure, deleted once the points are gone.';

-- Workers claim the oldest job first.
CREATE INDEX vector_erasures_created_at_idx ON vector_erasures (created_at, id);

-- migrate:down
SET LOCAL lock_timeout = '2s';
SET LOCAL statement_timeout = '10s';
DROP TABLE vector_erasures;
