-- The server's storage, first version (PostgreSQL). Keep in step with ../sqlite/0001_initial.sql:
-- the `Store` trait promises the same behaviour on both databases.

-- Flows: the current version of every flow; `deleted_at` marks a soft delete so that runs keep
-- pointing at the flow they ran.
CREATE TABLE flows (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    tags        JSONB NOT NULL DEFAULT '[]',
    suite       TEXT,
    version     BIGINT NOT NULL,
    source      TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    deleted_at  TIMESTAMPTZ
);
-- Names are unique among live flows; a deleted flow's name can be reused.
CREATE UNIQUE INDEX flows_name_live ON flows (name) WHERE deleted_at IS NULL;
CREATE INDEX flows_created ON flows (created_at DESC, id DESC);
CREATE INDEX flows_suite ON flows (suite);

-- One row per tag of a live flow's current version, for the `?tag=` filter.
CREATE TABLE flow_tags (
    flow_id TEXT NOT NULL REFERENCES flows (id) ON DELETE CASCADE,
    tag     TEXT NOT NULL,
    PRIMARY KEY (flow_id, tag)
);
CREATE INDEX flow_tags_tag ON flow_tags (tag);

-- Every version of every flow, as submitted: runs pin the version they ran.
CREATE TABLE flow_versions (
    flow_id     TEXT NOT NULL REFERENCES flows (id) ON DELETE CASCADE,
    version     BIGINT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    tags        JSONB NOT NULL DEFAULT '[]',
    suite       TEXT,
    source      TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (flow_id, version)
);

CREATE TABLE runs (
    id           TEXT PRIMARY KEY,
    flow_id      TEXT REFERENCES flows (id),
    flow_version BIGINT,
    flow_name    TEXT NOT NULL,
    status       TEXT NOT NULL,
    vars         JSONB NOT NULL DEFAULT '{}',
    environment  TEXT,
    created_at   TIMESTAMPTZ NOT NULL,
    started_at   TIMESTAMPTZ,
    finished_at  TIMESTAMPTZ,
    error        TEXT,
    result       JSONB
);
CREATE INDEX runs_created ON runs (created_at DESC, id DESC);
CREATE INDEX runs_flow ON runs (flow_id, created_at DESC);
CREATE INDEX runs_status ON runs (status, created_at DESC);

-- Step results as they arrive; `seq` keeps insertion order, the unique key makes re-delivery of the
-- same attempt (a worker retrying after a crash) an update instead of a duplicate.
CREATE TABLE step_results (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id     TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    path       TEXT NOT NULL,
    attempt    BIGINT NOT NULL,
    phase      TEXT NOT NULL,
    status     TEXT NOT NULL,
    result     JSONB NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    UNIQUE (run_id, path, attempt)
);

CREATE TABLE environments (
    name       TEXT PRIMARY KEY,
    vars       JSONB NOT NULL DEFAULT '{}',
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
-- Secrets live apart from the variables so that no query reading an environment for a client can
-- return them by accident.
CREATE TABLE environment_secrets (
    environment TEXT NOT NULL REFERENCES environments (name) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    value       TEXT NOT NULL,
    PRIMARY KEY (environment, name)
);

-- API keys: only the SHA-256 digest of the key is stored.
CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    role        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    digest      TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ,
    revoked_at  TIMESTAMPTZ
);

CREATE TABLE audit_log (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           TIMESTAMPTZ NOT NULL,
    actor_key_id TEXT,
    action       TEXT NOT NULL,
    target       TEXT NOT NULL,
    detail       JSONB NOT NULL DEFAULT '{}'
);

-- Installed plugins (Store methods come with the plugin API).
CREATE TABLE plugins (
    name       TEXT NOT NULL,
    version    TEXT NOT NULL,
    kind       TEXT NOT NULL,
    digest     TEXT NOT NULL,
    component  BYTEA NOT NULL,
    descriptor JSONB NOT NULL,
    grants     JSONB NOT NULL DEFAULT '[]',
    enabled    BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE INDEX plugins_digest ON plugins (digest);

-- Cron schedules (Store methods come with the scheduler).
CREATE TABLE schedules (
    id          TEXT PRIMARY KEY,
    flow_id     TEXT NOT NULL REFERENCES flows (id) ON DELETE CASCADE,
    cron        TEXT NOT NULL,
    timezone    TEXT NOT NULL DEFAULT 'UTC',
    vars        JSONB NOT NULL DEFAULT '{}',
    environment TEXT,
    enabled     BOOLEAN NOT NULL DEFAULT TRUE,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
-- One row per fire time claimed: the primary key makes a claim succeed for exactly one replica.
CREATE TABLE schedule_fires (
    schedule_id TEXT NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    fire_time   TIMESTAMPTZ NOT NULL,
    run_id      TEXT REFERENCES runs (id) ON DELETE SET NULL,
    claimed_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (schedule_id, fire_time)
);
