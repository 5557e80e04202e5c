-- name: GetUserProfile :one
-- Who a user is and how much they hold: sessions, messages and private documents.
SELECT users.id,
       users.is_anonymous,
       users.created_at,
       (SELECT count(*) FROM chat_sessions
        WHERE chat_sessions.user_id = @user_id::uuid) AS session_count,
       (SELECT count(*) FROM chat_sessions AS owned
        JOIN chat_messages
          ON chat_messages.session_id = owned.id
         AND chat_messages.user_id = owned.user_id
        WHERE owned.user_id = @user_id::uuid) AS message_count,
       (SELECT count(*) FROM documents
        WHERE documents.owner_id = @user_id::uuid) AS document_count
FROM users
WHERE users.id = @user_id::uuid;

-- name: ListUserIdentities :many
-- The external identities (issuer and subject) of a user, the most recently updated first, with what their issuers last said of them.
SELECT * FROM user_identities
WHERE user_id = @user_id
ORDER BY updated_at DESC, issuer, subject;
