-- Text columns limited by CHECK constraints: the values overrides type them as Literals.
CREATE TABLE tickets (
    id bigserial PRIMARY KEY,
    title text NOT NULL,
    status text NOT NULL DEFAULT 'open',
    priority varchar(10),
    labels text[] NOT NULL DEFAULT '{}',
    resolution text,
    CONSTRAINT tickets_status_check CHECK (status IN ('open', 'in-progress', 'closed')),
    CONSTRAINT tickets_priority_check CHECK (priority IN ('low', 'normal', 'high'))
);

CREATE TABLE user_credentials (
    id bigserial PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('session', 'api'))
);
