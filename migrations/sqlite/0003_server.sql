-- The server (SQLite). Keep in step with ../postgres/0003_server.sql; timestamps are integer
-- microseconds, JSON is text.
--
-- Runs: an ad-hoc run (`POST /runs`) carries its flow's source; cancellation is requested through
-- the run row; `enqueued_at` lets the reconciler tell a run whose job was lost from one that is
-- merely waiting; `schedule_id` names the schedule that fired the run.
ALTER TABLE runs ADD COLUMN source TEXT;
ALTER TABLE runs ADD COLUMN cancel_requested_at INTEGER;
ALTER TABLE runs ADD COLUMN enqueued_at INTEGER;
ALTER TABLE runs ADD COLUMN schedule_id TEXT REFERENCES schedules (id) ON DELETE SET NULL;
CREATE INDEX runs_schedule ON runs (schedule_id, created_at DESC);

-- What happened in a run, in order: the log behind `GET /runs/{id}/events` (`Last-Event-ID` =
-- `seq`).
CREATE TABLE run_events (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    kind   TEXT NOT NULL,
    data   TEXT NOT NULL,
    at     INTEGER NOT NULL
);
CREATE INDEX run_events_run ON run_events (run_id, seq);

-- Installed plugins: when grants or the enabled flag last changed, and the component's size.
ALTER TABLE plugins ADD COLUMN updated_at INTEGER;
ALTER TABLE plugins ADD COLUMN size INTEGER NOT NULL DEFAULT 0;
