-- name: CountOrders :one
-- count() is never NULL, and an aggregate without GROUP BY always returns one row: int.
SELECT count(*) FROM orders;

-- name: CountCustomerOrders :one
SELECT count(*) AS orders FROM orders WHERE customer = @customer;

-- name: CountShippedOrders :one
SELECT count(*) FILTER (WHERE shipped_at IS NOT NULL)::integer AS shipped FROM orders;

-- name: SumQuantities :one
-- sum() over no rows is NULL: one row, but int | None.
SELECT sum(quantity) FROM orders WHERE customer = @customer;

-- name: GetOrderStats :one
SELECT count(*) AS orders,
       count(DISTINCT customer) AS customers,
       count(note) AS notes,
       sum(quantity) AS quantity,
       avg(price)::numeric AS average_price,
       max(quantity)::integer AS largest,
       min(shipped_at)::timestamptz AS first_shipped,
       bool_and(shipped_at IS NOT NULL) AS all_shipped,
       string_agg(note, ', ' ORDER BY id)::text AS notes_text
FROM orders;

-- name: DeleteCustomerOrders :one
WITH deleted AS (
    DELETE FROM orders WHERE customer = @customer RETURNING id
)
SELECT count(*) FROM deleted;

-- name: CountOrdersPerCustomer :many
SELECT customer, count(*) AS orders, sum(quantity) AS quantity
FROM orders GROUP BY customer ORDER BY customer;

-- name: GetBusyCustomer :one
-- GROUP BY (or HAVING, LIMIT...) can leave no row: None stays possible.
SELECT customer, count(*) AS orders FROM orders
GROUP BY customer HAVING count(*) > @minimum::integer
ORDER BY count(*) DESC LIMIT 1;

-- name: ListOrdersWithRunningCount :many
SELECT id, count(*) OVER (ORDER BY id) AS running_count,
       sum(quantity) OVER (PARTITION BY customer) AS customer_quantity
FROM orders;

-- name: ListCustomersWithSubqueries :many
SELECT o.customer,
       (SELECT count(*) FROM orders AS c WHERE c.customer = o.customer) AS orders,
       (SELECT max(c.price) FROM orders AS c WHERE c.customer = o.customer)::numeric AS top_price
FROM orders AS o;
