-- Cron schedules (PostgreSQL). Keep in step with ../sqlite/0004_schedules.sql.
--
-- A schedule keeps the next fire time not yet examined (`next_fire_at`): every scheduler replica
-- looks at the schedules due, and claims each fire time by inserting its `schedule_fires` row —
-- the primary key makes exactly one replica win, whatever the others believed. `overlap` says what
-- a fire does while an earlier run of the schedule is unfinished (allow, forbid, replace);
-- `catch_up` what happens to fire times missed while no scheduler ran (latest, all, none) within
-- `catch_up_window_seconds`.
ALTER TABLE schedules
    ADD COLUMN description TEXT NOT NULL DEFAULT '',
    ADD COLUMN overlap TEXT NOT NULL DEFAULT 'forbid',
    ADD COLUMN catch_up TEXT NOT NULL DEFAULT 'latest',
    ADD COLUMN catch_up_window_seconds BIGINT NOT NULL DEFAULT 3600,
    ADD COLUMN next_fire_at TIMESTAMPTZ;
CREATE INDEX schedules_due ON schedules (enabled, next_fire_at);

-- What became of each claimed fire time: `started` (with its run), `skipped` (overlap), `missed`
-- (outside the catch-up window), `triggered` (by hand).
ALTER TABLE schedule_fires ADD COLUMN outcome TEXT NOT NULL DEFAULT 'started';
CREATE INDEX schedule_fires_recent ON schedule_fires (schedule_id, fire_time DESC);
