-- name: SearchMessages :many
-- The user's messages matching a web-search query (websearch_to_tsquery: words, "quoted phrases", -excluded words, OR), best first (ts_rank_cd), optionally in one session; a query with no word to find (only stopwords or -words) finds nothing; pass the last row's (rank, message_id) as the cursor for the next page. config must be the text-search configuration the chat_message_search triggers use. The snippet (ts_headline, for the returned page only) marks each match between U+0002 and U+0003, which are taken out of the content first.
WITH search AS (
    -- The query, parsed once: a scalar subquery over this is an InitPlan, computed once per
    -- statement, where websearch_to_tsquery(...) written in place would be computed again
    -- for every row (the text-to-regconfig cast is not immutable, so it is never folded).
    SELECT websearch_to_tsquery(nullif(@config::text, '')::regconfig, @query::text) AS query
), matched AS MATERIALIZED (
    -- MATERIALIZED: each match's rank is computed once. Inlined, the cursor's condition on
    -- the rank is pushed down into this scan and the rank computed again for the sort.
    SELECT f.message_id AS id,
           ts_rank_cd(f.search_vector, (SELECT search.query FROM search)) AS rank
    FROM chat_message_search AS f
    WHERE f.user_id = @user_id
      AND f.search_vector @@ (SELECT search.query FROM search)
      -- A query with no word to find (only -words) would match nearly everything the user
      -- wrote, through a scan of the whole index: it finds nothing instead.
      AND querytree((SELECT search.query FROM search)) <> 'T'
      -- Only a session filter needs the message itself (a lookup by key per match).
      AND (sqlc.narg(session_id)::uuid IS NULL OR EXISTS (
          SELECT 1 FROM chat_messages AS m
          WHERE m.id = f.message_id
            AND m.user_id = @user_id
            AND m.session_id = sqlc.narg(session_id)::uuid
      ))
), page AS (
    SELECT matched.id, matched.rank
    FROM matched
    WHERE (matched.rank, matched.id) < (
        coalesce(sqlc.narg(after_rank)::real, 'Infinity'),
        coalesce(sqlc.narg(after_id)::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff')
    )
    ORDER BY matched.rank DESC, matched.id DESC
    LIMIT sqlc.arg('limit')
)
SELECT m.id AS message_id, m.session_id, s.title AS session_title, m.role, m.created_at,
       page.rank,
       ts_headline(
           nullif(@config::text, '')::regconfig,
           translate(m.content, E'\x02\x03', ''),
           (SELECT search.query FROM search),
           E'StartSel=\x02, StopSel=\x03, MaxFragments=2, MaxWords=30, MinWords=12, FragmentDelimiter=" ... "'
       )::text AS snippet
FROM page
JOIN chat_messages AS m ON m.id = page.id AND m.user_id = @user_id
JOIN chat_sessions AS s ON s.id = m.session_id AND s.user_id = @user_id
ORDER BY page.rank DESC, page.id DESC;

-- name: ListSessionsMatching :many
-- Lists the user's sessions holding a message that matches a web-search query (as SearchMessages matches), by last activity, newest first; pass the last row's (last_activity_at, id) as the cursor for the next page. config as for SearchMessages.
SELECT s.* FROM chat_sessions AS s
WHERE s.user_id = @user_id
  AND (s.last_activity_at, s.id) < (
      coalesce(sqlc.narg(before_activity)::timestamptz, 'infinity'),
      coalesce(sqlc.narg(before_id)::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff')
  )
  AND s.id IN (
      SELECT m.session_id
      FROM chat_message_search AS f
      JOIN chat_messages AS m ON m.id = f.message_id AND m.user_id = @user_id
      WHERE f.user_id = @user_id
        AND f.search_vector @@ websearch_to_tsquery(nullif(@config::text, '')::regconfig, @query::text)
        AND querytree(websearch_to_tsquery(nullif(@config::text, '')::regconfig, @query::text)) <> 'T'
  )
ORDER BY s.last_activity_at DESC, s.id DESC
LIMIT sqlc.arg('limit');
