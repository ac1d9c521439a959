-- Fencing for workers: a run is claimed by incrementing `attempt` (the fencing token) and taking a
-- lease; every later write of that execution carries the attempt, so a worker that lost its lease
-- (a pause, a partition) writes nothing. Timestamps are integer microseconds, as in 0001.
ALTER TABLE runs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN lease_owner TEXT;
ALTER TABLE runs ADD COLUMN lease_expires_at INTEGER;
CREATE INDEX runs_lease ON runs (status, lease_expires_at);
