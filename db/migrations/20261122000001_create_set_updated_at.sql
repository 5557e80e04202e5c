-- migrate:up
-- Shared BEFORE UPDATE trigger function: keeps updated_at equal to the time
-- of the transaction that last changed the row.
CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

COMMENT ON FUNCTION set_updated_at() IS 'BEFORE UPDATE trigger: sets updated_at to now().';

-- migrate:down
DROP FUNCTION set_updated_at();
