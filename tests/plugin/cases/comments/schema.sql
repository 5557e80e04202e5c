CREATE TYPE visibility AS ENUM ('private', 'public');

COMMENT ON TYPE visibility IS 'Who can read a note.';

CREATE TABLE notes (
    id bigserial PRIMARY KEY,
    body text NOT NULL,
    visibility visibility NOT NULL,
    archived_at timestamptz
);

COMMENT ON TABLE notes IS 'A note a user wrote.
Kept until the user deletes it.';
COMMENT ON COLUMN notes.body IS 'Markdown text.';
COMMENT ON COLUMN notes.archived_at IS 'When the note was archived;
NULL while it is active.';

CREATE TABLE tags (
    name text PRIMARY KEY
);
