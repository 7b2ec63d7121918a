-- Security (SEC-3, SEC-4): API keys, stored as hashes, and the append-only audit log.

CREATE TABLE api_keys (
    key_id        bigserial PRIMARY KEY,
    name          text NOT NULL,
    role          text NOT NULL CHECK (role IN ('viewer', 'trainer', 'admin')),
    key_hash      text NOT NULL UNIQUE,         -- SHA-256 of the key; the key is never stored
    hint          text NOT NULL,                -- its first characters, to recognise it
    created_at    timestamptz NOT NULL DEFAULT now(),
    created_by    text NOT NULL,
    expires_at    timestamptz,
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
-- One live key per name: rotating is create-new, then revoke-old.
CREATE UNIQUE INDEX api_keys_live_name ON api_keys (name) WHERE revoked_at IS NULL;

CREATE TABLE audit_log (
    entry_id    bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor       text NOT NULL,
    action      text NOT NULL,
    outcome     text NOT NULL,
    series_id   text,
    version     integer,
    details     jsonb NOT NULL DEFAULT '{}',
    request_id  text,
    trace_id    text,
    client      text
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_series ON audit_log (series_id, entry_id) WHERE series_id IS NOT NULL;
CREATE INDEX audit_log_actor ON audit_log (actor, entry_id);

-- Append-only: no UPDATE, no TRUNCATE, and DELETE only from the retention purge,
-- which says so for its own transaction (SET LOCAL sigmawatch.audit_purge = 'on').
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('sigmawatch.audit_purge', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only (%)', TG_OP;
END
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
