-- name: SetMessageFeedback :one
-- Rates one of the user's complete answers, or replaces its rating and comment; returns the stored rating with the one it replaced (previous_rating, NULL when new), or nothing when the message is not a complete answer of the user's.
WITH previous AS (
    SELECT message_feedback.rating
    FROM message_feedback
    WHERE message_feedback.user_id = @user_id
      AND message_feedback.message_id = @message_id
), stored AS (
    INSERT INTO message_feedback (user_id, message_id, rating, comment)
    SELECT chat_messages.user_id, chat_messages.id, @rating, sqlc.narg(comment)
    FROM chat_messages
    WHERE chat_messages.id = @message_id
      AND chat_messages.user_id = @user_id
      AND chat_messages.role = 'assistant'
      AND chat_messages.status = 'complete'
    ON CONFLICT (user_id, message_id) DO UPDATE
    SET rating = excluded.rating,
        comment = excluded.comment
    RETURNING *
)
SELECT stored.*, (SELECT previous.rating FROM previous) AS previous_rating
FROM stored;

-- name: DeleteMessageFeedback :one
-- Deletes the user's rating of a message; returns the rating deleted, or nothing when there was none.
DELETE FROM message_feedback
WHERE user_id = @user_id
  AND message_id = @message_id
RETURNING rating;

-- name: ListRatedAnswers :many
-- A page of the user's rated answers in message id order, after after_message_id (keyset; NULL: from the start): each with the question it answers and its citations by rank, as JSON, with the passage's text (the chunk's, or the snippet kept with the citation once the chunk is gone).
SELECT feedback.message_id, answer.session_id, question.content AS question,
       answer.content AS answer, feedback.rating, feedback.comment,
       feedback.updated_at AS rated_at,
       coalesce((
           SELECT jsonb_agg(
               jsonb_build_object(
                   'rank', citation.rank,
                   'document_id', citation.document_id,
                   'chunk_id', citation.chunk_id,
                   'point_id', citation.point_id,
                   'score', citation.score,
                   'document_title', citation.document_title,
                   'document_url', citation.document_url,
                   'text', coalesce(chunk.content, citation.snippet)
               )
               ORDER BY citation.rank
           )
           FROM message_citations AS citation
           LEFT JOIN document_chunks AS chunk ON chunk.id = citation.chunk_id
           WHERE citation.message_id = feedback.message_id
             AND citation.user_id = feedback.user_id
       ), '[]'::jsonb)::jsonb AS citations
FROM message_feedback AS feedback
JOIN chat_messages AS answer
  ON answer.id = feedback.message_id
 AND answer.user_id = feedback.user_id
LEFT JOIN chat_messages AS question
  ON question.id = answer.reply_to_id
 AND question.user_id = feedback.user_id
WHERE feedback.user_id = @user_id
  AND feedback.message_id > coalesce(
      sqlc.narg(after_message_id)::uuid, '00000000-0000-0000-0000-000000000000'::uuid
  )
ORDER BY feedback.message_id
LIMIT sqlc.arg('limit');
