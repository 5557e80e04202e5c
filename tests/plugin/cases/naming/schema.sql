-- Column names that are Python keywords or not snake_case.
CREATE TABLE user_accounts (
    id bigserial PRIMARY KEY,
    "class" text NOT NULL,
    "from" date,
    "displayName" text NOT NULL,
    "e-mail" text
);

CREATE TABLE people (
    id bigserial PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES user_accounts (id)
);

CREATE TABLE statuses (
    code text PRIMARY KEY
);
