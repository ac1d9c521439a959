-- The server (PostgreSQL). Keep in step with ../sqlite/0003_server.sql.
--
-- Runs: an ad-hoc run (`POST /runs`) carries its flow's source; cancellation is requested through
-- the run row, so that a worker on another machine sees it at its next lease renewal; `enqueued_at`
-- lets the reconciler tell a run whose job was lost from one that is merely waiting; `schedule_id`
-- names the schedule that fired the run.
ALTER TABLE runs
    ADD COLUMN source TEXT,
    ADD COLUMN cancel_requested_at TIMESTAMPTZ,
    ADD COLUMN enqueued_at TIMESTAMPTZ,
    ADD COLUMN schedule_id TEXT REFERENCES schedules (id) ON DELETE SET NULL;
CREATE INDEX runs_schedule ON runs (schedule_id, created_at DESC);

-- What happened in a run, in order: the log behind `GET /runs/{id}/events` (Server-Sent Events,
-- resumed with `Last-Event-ID` = `seq`). One writer per run appends at a time (the worker holding it,
-- or the store when a run ends), so a run's events commit in `seq` order.
CREATE TABLE run_events (
    seq    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    kind   TEXT NOT NULL,
    data   JSONB NOT NULL,
    at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX run_events_run ON run_events (run_id, seq);

-- Installed plugins: when grants or the enabled flag last changed (workers reload on a change), and
-- the component's size for listings (the blob itself is read only by digest).
ALTER TABLE plugins
    ADD COLUMN updated_at TIMESTAMPTZ,
    ADD COLUMN size BIGINT NOT NULL DEFAULT 0;
