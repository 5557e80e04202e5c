CREATE TYPE message_role AS ENUM ('user', 'assistant', 'system');

-- Values that are not Python identifiers still become valid member names.
CREATE TYPE job_state AS ENUM ('in-progress', 'done', '2fa required', 'Mixed Case');

CREATE SCHEMA billing;

CREATE TYPE billing.plan AS ENUM ('free', 'pro');

CREATE TABLE messages (
    id bigserial PRIMARY KEY,
    role message_role NOT NULL,
    previous_role message_role,
    state job_state NOT NULL DEFAULT 'in-progress'
);

CREATE TABLE billing.accounts (
    id bigserial PRIMARY KEY,
    plan billing.plan NOT NULL
);
