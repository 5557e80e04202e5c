-- name: CreateVectorErasure :one
-- Records that the points of an erased user are still to be deleted from the vector store (in the transaction that deletes the user).
INSERT INTO vector_erasures (owner_id)
VALUES (@owner_id)
RETURNING *;

-- name: ClaimVectorErasureForWorker :one
-- Claims the oldest erasure job nobody holds, or whose claim (a crash, a failed attempt) is older than stale_before; no row when there is none.
UPDATE vector_erasures
SET claimed_at = now(),
    claimed_by = @claimed_by::text,
    attempts = attempts + 1
WHERE id = (
    SELECT waiting.id FROM vector_erasures AS waiting
    WHERE waiting.claimed_at IS NULL
       OR waiting.claimed_at < @stale_before::timestamptz
    ORDER BY waiting.created_at, waiting.id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
RETURNING *;

-- name: ClaimVectorErasureByIdForWorker :one
-- Claims one erasure job by id (the request that erased the user, right after its commit); no row when another worker holds it or it is done.
UPDATE vector_erasures
SET claimed_at = now(),
    claimed_by = @claimed_by::text,
    attempts = attempts + 1
WHERE id = @erasure_id
  AND (claimed_at IS NULL OR claimed_at < @stale_before::timestamptz)
RETURNING *;

-- name: FailVectorErasureForWorker :exec
-- Records why an attempt failed; the claim stays, so the job is retried once it is stale.
UPDATE vector_erasures
SET last_error = @error::text
WHERE id = @erasure_id;

-- name: DeleteVectorErasureForWorker :execrows
-- The points are gone: the job (and with it the last record of the user's id) goes too.
DELETE FROM vector_erasures
WHERE id = @erasure_id;

-- name: CountVectorErasuresForWorker :one
-- Erasure jobs not done yet (operators, tests).
SELECT count(*) FROM vector_erasures;

-- name: AllowAuditErasure :exec
-- Lets this transaction, and only it, erase audit details (the append-only trigger checks audit_log.erasing).
SELECT set_config('audit_log.erasing', 'on', true);

-- name: EraseAuditDetails :execrows
-- Keeps the user's audit rows (the fact, the actor and target ids, the time) but erases what their details said, the rows of the anonymous users whose history the user claimed included; needs AllowAuditErasure first in the same transaction.
UPDATE audit_log
SET details = '{"erased": true}'::jsonb
WHERE actor_user_id IN (
        SELECT @user_id::uuid
        UNION ALL
        SELECT claimed.target_id::uuid
        FROM audit_log AS claimed
        WHERE claimed.actor_user_id = @user_id::uuid
          AND claimed.action = 'history.claimed'
    )
  AND details <> '{"erased": true}'::jsonb;

-- name: DeleteUserRateLimits :execrows
-- Deletes the abuse-limit counters kept under the user's id in these buckets.
DELETE FROM rate_limits
WHERE bucket = ANY(@buckets::text[])
  AND key = @user_id::text;
