CREATE TABLE orders (
    id bigserial PRIMARY KEY,
    customer text NOT NULL,
    quantity integer NOT NULL,
    price numeric NOT NULL,
    note text,
    shipped_at timestamptz
);
