-- Fencing for workers: a run is claimed by incrementing `attempt` (the fencing token) and taking a
-- lease; every later write of that execution carries the attempt, so a worker that lost its lease
-- (a pause, a partition) writes nothing.
ALTER TABLE runs
    ADD COLUMN attempt BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN lease_owner TEXT,
    ADD COLUMN lease_expires_at TIMESTAMPTZ;
CREATE INDEX runs_lease ON runs (status, lease_expires_at);
