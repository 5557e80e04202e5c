-- migrate:up
-- Why: leave a tenth of each chat_sessions page free, so that the updates which change no
-- indexed column (a read's last_accessed_at, a rename, new metadata) stay on the page as HOT
-- updates, without new index entries. A chat turn's update changes last_activity_at, the key
-- of the session list's keyset index, so it cannot be HOT; it still finds room on its page.
-- Setting a storage parameter takes SHARE UPDATE EXCLUSIVE, which lets reads and writes go
-- on, and rewrites nothing: existing pages keep their layout until their rows are updated.
-- Never hold the service's reads and writes in a lock queue for long: give up after
-- lock_timeout and run it again later. Raise statement_timeout only for a backfill.
SET LOCAL lock_timeout = '2s';
SET LOCAL statement_timeout = '10s';

ALTER TABLE chat_sessions SET (fillfactor = 90);

-- migrate:down
SET LOCAL lock_timeout = '2s';
SET LOCAL statement_timeout = '10s';

ALTER TABLE chat_sessions RESET (fillfactor);
