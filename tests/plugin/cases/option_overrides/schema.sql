CREATE TABLE accounts (
    id bigserial PRIMARY KEY,
    balance numeric(12, 2) NOT NULL,
    rate numeric NOT NULL,
    fee numeric,
    last_ip inet,
    tags text[] NOT NULL
);
