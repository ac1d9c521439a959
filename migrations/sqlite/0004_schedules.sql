-- Cron schedules (SQLite). Keep in step with ../postgres/0004_schedules.sql.
ALTER TABLE schedules ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE schedules ADD COLUMN overlap TEXT NOT NULL DEFAULT 'forbid';
ALTER TABLE schedules ADD COLUMN catch_up TEXT NOT NULL DEFAULT 'latest';
ALTER TABLE schedules ADD COLUMN catch_up_window_seconds INTEGER NOT NULL DEFAULT 3600;
ALTER TABLE schedules ADD COLUMN next_fire_at INTEGER;
CREATE INDEX schedules_due ON schedules (enabled, next_fire_at);

-- What became of each claimed fire time: started, skipped, missed, triggered.
ALTER TABLE schedule_fires ADD COLUMN outcome TEXT NOT NULL DEFAULT 'started';
CREATE INDEX schedule_fires_recent ON schedule_fires (schedule_id, fire_time DESC);
