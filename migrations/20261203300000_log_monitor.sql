-- Log monitoring (issue 14, item 3): what the `log_monitor` job has checked, and the alerts it
-- raised. System tables: they hold log sizes, hashes and anchor ids, never tenant data.

-- The last checkpoint the monitor found consistent with every earlier one. Exactly one row,
-- absent until the first run (which starts from the empty log).
CREATE TABLE log_monitor_state (
    id          smallint PRIMARY KEY CHECK (id = 1),
    size        bigint NOT NULL CHECK (size >= 0),
    root        bytea NOT NULL CHECK (length(root) = 32),
    checked_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per problem found, so a problem is alerted (metric, audit entry) once however
-- often the monitor looks at it again. kind: 'fork' (a checkpoint that does not extend the
-- previous one), 'bad_signature' (a checkpoint the log's key did not sign), 'late_anchor' (an
-- anchor that has not reached its trust point within the configured bound).
CREATE TABLE log_monitor_alerts (
    kind        text NOT NULL CHECK (kind IN ('fork', 'bad_signature', 'late_anchor')),
    subject     text NOT NULL,
    detail      text NOT NULL,
    raised_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, subject)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON log_monitor_state, log_monitor_alerts TO ancora_app;
