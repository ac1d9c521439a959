//! The SQL shared by both [`Store`](super::Store) implementations, as a macro expanded in each backend
//! module: the statements are portable (`$n` parameters, `ON CONFLICT … DO UPDATE`, `RETURNING`,
//! JSON bound as `Json`), and only how a timestamp is bound and read differs. Each backend module
//! provides `ts`, `opt_ts`, `get_ts` and `get_opt_ts` for that, and a struct with a `pool` field.

/// Implements [`Store`](super::Store) for `$store` (which has a `pool`) whose rows are `$row`.
macro_rules! sql_store {
    ($store:ident, $row:ty, $backend:literal) => {
        use $crate::storage::{
            constant_time_eq, contains_pattern, decode_cursor, generate_key, into_page, key_digest, lease_end, new_id, now,
            page_limit, parse_key_id, unique_tags, ApiKeyRecord, AuditEntry, AuditRecord, EnvironmentRecord,
            FlowFilter, FlowRecord, FlowVersion, LeaseState, NewFlow, NewKey, NewRun, Page, Role, RunEventRecord,
            RunFilter, RunRecord, StepEvent, StepRow, Store, StoreError, StoreResult, FINAL_RUN_STATUSES,
        };
        use serde_json::{Map, Value};
        use sqlx::Row as _;
        use sqlx::types::Json;
        use std::collections::BTreeMap;

        const FLOW_COLUMNS_WHERE_ID: &str = "SELECT id, name, description, tags, suite, version, source, created_at, \
             updated_at FROM flows WHERE id = $1 AND deleted_at IS NULL";
        const RUN_BY_ID: &str = "SELECT id, flow_id, flow_version, flow_name, status, vars, environment, created_at, \
             started_at, finished_at, error, result, attempt, source, cancel_requested_at, schedule_id FROM runs \
             WHERE id = $1";

        fn flow_from_row(row: &$row) -> Result<FlowRecord, StoreError> {
            Ok(FlowRecord {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                description: row.try_get("description")?,
                tags: row.try_get::<Json<Vec<String>>, _>("tags")?.0,
                suite: row.try_get("suite")?,
                version: row.try_get("version")?,
                source: row.try_get("source")?,
                created_at: get_ts(row, "created_at")?,
                updated_at: get_ts(row, "updated_at")?,
            })
        }

        fn version_from_row(row: &$row) -> Result<FlowVersion, StoreError> {
            Ok(FlowVersion {
                version: row.try_get("version")?,
                name: row.try_get("name")?,
                source: row.try_get("source")?,
                created_at: get_ts(row, "created_at")?,
            })
        }

        fn run_from_row(row: &$row) -> Result<RunRecord, StoreError> {
            Ok(RunRecord {
                id: row.try_get("id")?,
                flow_id: row.try_get("flow_id")?,
                flow_version: row.try_get("flow_version")?,
                flow_name: row.try_get("flow_name")?,
                status: row.try_get("status")?,
                vars: row.try_get::<Json<Value>, _>("vars")?.0,
                environment: row.try_get("environment")?,
                created_at: get_ts(row, "created_at")?,
                started_at: get_opt_ts(row, "started_at")?,
                finished_at: get_opt_ts(row, "finished_at")?,
                error: row.try_get("error")?,
                result: row.try_get::<Option<Json<Value>>, _>("result")?.map(|json| json.0),
                attempt: row.try_get("attempt")?,
                source: row.try_get("source")?,
                cancel_requested_at: get_opt_ts(row, "cancel_requested_at")?,
                schedule_id: row.try_get("schedule_id")?,
            })
        }

        fn key_from_row(row: &$row) -> Result<ApiKeyRecord, StoreError> {
            let role: String = row.try_get("role")?;
            Ok(ApiKeyRecord {
                id: row.try_get("id")?,
                role: role.parse::<Role>().map_err(|e| StoreError::Database(e.to_string()))?,
                description: row.try_get("description")?,
                created_at: get_ts(row, "created_at")?,
                expires_at: get_opt_ts(row, "expires_at")?,
                revoked_at: get_opt_ts(row, "revoked_at")?,
            })
        }

        /// The payload of a `run.finished` event.
        fn finished_event(id: &str, status: &str, error: Option<&str>) -> Value {
            serde_json::json!({"run_id": id, "status": status, "error": error})
        }

        /// A unique violation on a flow's name, said for people.
        fn name_conflict(error: sqlx::Error, name: &str) -> StoreError {
            match StoreError::from(error) {
                StoreError::Conflict(_) => StoreError::Conflict(format!("a flow named `{name}` already exists")),
                other => other,
            }
        }

        impl $store {
            /// Appends one event to a run's log (inside the caller's transaction, so that the event
            /// commits with the change it tells of).
            async fn append_event(
                tx: &mut sqlx::Transaction<'_, <$row as sqlx::Row>::Database>,
                run_id: &str,
                kind: &str,
                data: Value,
            ) -> Result<(), StoreError> {
                sqlx::query("INSERT INTO run_events (run_id, kind, data, at) VALUES ($1, $2, $3, $4)")
                    .bind(run_id)
                    .bind(kind)
                    .bind(Json(&data))
                    .bind(ts(now()))
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }

            /// Inserts a run, `queued` (inside the caller's transaction); a flow id that names no
            /// flow is [`StoreError::NotFound`].
            async fn insert_run(
                tx: &mut sqlx::Transaction<'_, <$row as sqlx::Row>::Database>,
                id: &str,
                run: &NewRun,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO runs (id, flow_id, flow_version, flow_name, status, vars, environment, \
                     created_at, enqueued_at, source, schedule_id) \
                     VALUES ($1, $2, $3, $4, 'queued', $5, $6, $7, $7, $8, $9)",
                )
                .bind(id)
                .bind(&run.flow_id)
                .bind(run.flow_version)
                .bind(&run.flow_name)
                .bind(Json(&run.vars))
                .bind(&run.environment)
                .bind(ts(now))
                .bind(&run.source)
                .bind(&run.schedule_id)
                .execute(&mut **tx)
                .await
                .map_err(|e| match e {
                    sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
                    other => other.into(),
                })?;
                Ok(())
            }

            /// Writes a step result (inside the caller's transaction); the same (run, path,
            /// attempt) again replaces it in place.
            async fn upsert_step(
                tx: &mut sqlx::Transaction<'_, <$row as sqlx::Row>::Database>,
                run_id: &str,
                step: &StepRow,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO step_results (run_id, path, attempt, phase, status, result, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (run_id, path, attempt) DO UPDATE SET phase = excluded.phase, \
                     status = excluded.status, result = excluded.result, updated_at = excluded.updated_at",
                )
                .bind(run_id)
                .bind(&step.path)
                .bind(step.attempt)
                .bind(&step.phase)
                .bind(&step.status)
                .bind(Json(&step.result))
                .bind(ts(now()))
                .execute(&mut **tx)
                .await
                .map_err(|e| match e {
                    sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
                    other => other.into(),
                })?;
                Ok(())
            }

            /// Replaces a flow's tag rows (inside the caller's transaction).
            async fn write_tags(
                tx: &mut sqlx::Transaction<'_, <$row as sqlx::Row>::Database>,
                id: &str,
                tags: &[String],
            ) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM flow_tags WHERE flow_id = $1").bind(id).execute(&mut **tx).await?;
                for tag in unique_tags(tags) {
                    sqlx::query("INSERT INTO flow_tags (flow_id, tag) VALUES ($1, $2)")
                        .bind(id)
                        .bind(tag)
                        .execute(&mut **tx)
                        .await?;
                }
                Ok(())
            }

            /// The record of an environment, with its secrets' names.
            async fn environment_record(&self, name: &str) -> Result<EnvironmentRecord, StoreError> {
                let row = sqlx::query("SELECT name, vars, updated_at FROM environments WHERE name = $1")
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await?
                    .ok_or(StoreError::NotFound)?;
                let secret_names = sqlx::query(
                    "SELECT name FROM environment_secrets WHERE environment = $1 ORDER BY name",
                )
                .bind(name)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|row| row.try_get::<String, _>("name"))
                .collect::<Result<Vec<_>, _>>()?;
                Ok(EnvironmentRecord {
                    name: row.try_get("name")?,
                    vars: row.try_get::<Json<Map<String, Value>>, _>("vars")?.0,
                    secret_names,
                    updated_at: get_ts(&row, "updated_at")?,
                })
            }

            /// Whether a run exists, to tell "no rows" from "no run".
            async fn run_exists(&self, id: &str) -> Result<bool, StoreError> {
                Ok(sqlx::query("SELECT 1 FROM runs WHERE id = $1").bind(id).fetch_optional(&self.pool).await?.is_some())
            }

            /// The error of a run update that touched no row: the run is missing or already finished.
            async fn run_not_updated(&self, id: &str) -> StoreError {
                match self.run_exists(id).await {
                    Ok(true) => StoreError::Conflict("the run has already finished".into()),
                    Ok(false) => StoreError::NotFound,
                    Err(error) => error,
                }
            }
        }

        impl Store for $store {
            fn backend(&self) -> &'static str {
                $backend
            }

            fn create_flow(&self, flow: NewFlow) -> StoreResult<'_, FlowRecord> {
                Box::pin(async move {
                    let id = new_id("flw");
                    let now = now();
                    let mut tx = self.pool.begin().await?;
                    sqlx::query(
                        "INSERT INTO flows (id, name, description, tags, suite, version, source, created_at, \
                         updated_at) VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $7)",
                    )
                    .bind(&id)
                    .bind(&flow.name)
                    .bind(&flow.description)
                    .bind(Json(&flow.tags))
                    .bind(&flow.suite)
                    .bind(&flow.source)
                    .bind(ts(now))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| name_conflict(e, &flow.name))?;
                    sqlx::query(
                        "INSERT INTO flow_versions (flow_id, version, name, description, tags, suite, source, \
                         created_at) VALUES ($1, 1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(&id)
                    .bind(&flow.name)
                    .bind(&flow.description)
                    .bind(Json(&flow.tags))
                    .bind(&flow.suite)
                    .bind(&flow.source)
                    .bind(ts(now))
                    .execute(&mut *tx)
                    .await?;
                    Self::write_tags(&mut tx, &id, &flow.tags).await?;
                    tx.commit().await?;
                    Ok(FlowRecord {
                        id,
                        name: flow.name,
                        description: flow.description,
                        tags: flow.tags,
                        suite: flow.suite,
                        version: 1,
                        source: flow.source,
                        created_at: now,
                        updated_at: now,
                    })
                })
            }

            fn get_flow<'a>(&'a self, id: &'a str) -> StoreResult<'a, FlowRecord> {
                Box::pin(async move {
                    let row = sqlx::query(FLOW_COLUMNS_WHERE_ID)
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?
                        .ok_or(StoreError::NotFound)?;
                    flow_from_row(&row)
                })
            }

            fn get_flow_by_name<'a>(&'a self, name: &'a str) -> StoreResult<'a, FlowRecord> {
                Box::pin(async move {
                    let row = sqlx::query(
                        "SELECT id, name, description, tags, suite, version, source, created_at, updated_at \
                         FROM flows WHERE name = $1 AND deleted_at IS NULL",
                    )
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await?
                    .ok_or(StoreError::NotFound)?;
                    flow_from_row(&row)
                })
            }

            fn list_flows(&self, filter: FlowFilter) -> StoreResult<'_, Page<FlowRecord>> {
                Box::pin(async move {
                    let limit = page_limit(filter.limit);
                    let cursor = filter.cursor.as_deref().map(decode_cursor).transpose()?;
                    let (after_at, after_id) = cursor.map_or((None, None), |(at, id)| (Some(at), Some(id)));
                    let rows = sqlx::query(
                        "SELECT f.id, f.name, f.description, f.tags, f.suite, f.version, f.source, f.created_at, \
                         f.updated_at FROM flows f WHERE f.deleted_at IS NULL \
                         AND ($1 IS NULL OR EXISTS (SELECT 1 FROM flow_tags t WHERE t.flow_id = f.id AND t.tag = $1)) \
                         AND ($2 IS NULL OR f.suite = $2) \
                         AND ($3 IS NULL OR lower(f.name) LIKE $3 ESCAPE '\\' \
                              OR lower(f.description) LIKE $3 ESCAPE '\\') \
                         AND ($4 IS NULL OR f.created_at < $4 OR (f.created_at = $4 AND f.id < $5)) \
                         ORDER BY f.created_at DESC, f.id DESC LIMIT $6",
                    )
                    .bind(&filter.tag)
                    .bind(&filter.suite)
                    .bind(filter.q.as_deref().map(contains_pattern))
                    .bind(opt_ts(after_at))
                    .bind(after_id)
                    .bind(limit + 1)
                    .fetch_all(&self.pool)
                    .await?;
                    let items = rows.iter().map(flow_from_row).collect::<Result<Vec<_>, _>>()?;
                    Ok(into_page(items, limit, |flow| (flow.created_at, flow.id.as_str())))
                })
            }

            fn update_flow<'a>(
                &'a self,
                id: &'a str,
                expected_version: Option<i64>,
                flow: NewFlow,
            ) -> StoreResult<'a, FlowRecord> {
                Box::pin(async move {
                    let now = now();
                    let mut tx = self.pool.begin().await?;
                    // Writing first: the version check and the bump are one statement, so two
                    // concurrent updates cannot both succeed on the same expected version.
                    let updated = sqlx::query(
                        "UPDATE flows SET name = $2, description = $3, tags = $4, suite = $5, source = $6, \
                         version = version + 1, updated_at = $7 \
                         WHERE id = $1 AND deleted_at IS NULL AND ($8 IS NULL OR version = $8) \
                         RETURNING version, created_at",
                    )
                    .bind(id)
                    .bind(&flow.name)
                    .bind(&flow.description)
                    .bind(Json(&flow.tags))
                    .bind(&flow.suite)
                    .bind(&flow.source)
                    .bind(ts(now))
                    .bind(expected_version)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(|e| name_conflict(e, &flow.name))?;
                    let Some(updated) = updated else {
                        let current = sqlx::query("SELECT version FROM flows WHERE id = $1 AND deleted_at IS NULL")
                            .bind(id)
                            .fetch_optional(&mut *tx)
                            .await?;
                        return match current {
                            Some(row) => {
                                Err(StoreError::PreconditionFailed { current_version: row.try_get("version")? })
                            }
                            None => Err(StoreError::NotFound),
                        };
                    };
                    let version: i64 = updated.try_get("version")?;
                    let created_at = get_ts(&updated, "created_at")?;
                    sqlx::query(
                        "INSERT INTO flow_versions (flow_id, version, name, description, tags, suite, source, \
                         created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(id)
                    .bind(version)
                    .bind(&flow.name)
                    .bind(&flow.description)
                    .bind(Json(&flow.tags))
                    .bind(&flow.suite)
                    .bind(&flow.source)
                    .bind(ts(now))
                    .execute(&mut *tx)
                    .await?;
                    Self::write_tags(&mut tx, id, &flow.tags).await?;
                    tx.commit().await?;
                    Ok(FlowRecord {
                        id: id.to_string(),
                        name: flow.name,
                        description: flow.description,
                        tags: flow.tags,
                        suite: flow.suite,
                        version,
                        source: flow.source,
                        created_at,
                        updated_at: now,
                    })
                })
            }

            fn delete_flow<'a>(&'a self, id: &'a str) -> StoreResult<'a, ()> {
                Box::pin(async move {
                    let done = sqlx::query("UPDATE flows SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL")
                        .bind(id)
                        .bind(ts(now()))
                        .execute(&self.pool)
                        .await?;
                    if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
                })
            }

            fn flow_versions<'a>(&'a self, id: &'a str) -> StoreResult<'a, Vec<FlowVersion>> {
                Box::pin(async move {
                    let rows = sqlx::query(
                        "SELECT version, name, source, created_at FROM flow_versions WHERE flow_id = $1 \
                         ORDER BY version DESC",
                    )
                    .bind(id)
                    .fetch_all(&self.pool)
                    .await?;
                    if rows.is_empty() {
                        return Err(StoreError::NotFound);
                    }
                    rows.iter().map(version_from_row).collect()
                })
            }

            fn flow_version<'a>(&'a self, id: &'a str, version: i64) -> StoreResult<'a, FlowVersion> {
                Box::pin(async move {
                    let row = sqlx::query(
                        "SELECT version, name, source, created_at FROM flow_versions WHERE flow_id = $1 \
                         AND version = $2",
                    )
                    .bind(id)
                    .bind(version)
                    .fetch_optional(&self.pool)
                    .await?
                    .ok_or(StoreError::NotFound)?;
                    version_from_row(&row)
                })
            }

            fn create_run(&self, run: NewRun) -> StoreResult<'_, RunRecord> {
                Box::pin(async move {
                    let id = new_id("run");
                    let now = now();
                    let mut tx = self.pool.begin().await?;
                    Self::insert_run(&mut tx, &id, &run, now).await?;
                    tx.commit().await?;
                    Ok(RunRecord {
                        id,
                        flow_id: run.flow_id,
                        flow_version: run.flow_version,
                        flow_name: run.flow_name,
                        status: "queued".into(),
                        vars: run.vars,
                        environment: run.environment,
                        created_at: now,
                        started_at: None,
                        finished_at: None,
                        error: None,
                        result: None,
                        attempt: 0,
                        source: run.source,
                        cancel_requested_at: None,
                        schedule_id: run.schedule_id,
                    })
                })
            }

            fn get_run<'a>(&'a self, id: &'a str) -> StoreResult<'a, RunRecord> {
                Box::pin(async move {
                    let row =
                        sqlx::query(RUN_BY_ID).bind(id).fetch_optional(&self.pool).await?.ok_or(StoreError::NotFound)?;
                    run_from_row(&row)
                })
            }

            fn list_runs(&self, filter: RunFilter) -> StoreResult<'_, Page<RunRecord>> {
                Box::pin(async move {
                    let limit = page_limit(filter.limit);
                    let cursor = filter.cursor.as_deref().map(decode_cursor).transpose()?;
                    let (after_at, after_id) = cursor.map_or((None, None), |(at, id)| (Some(at), Some(id)));
                    let rows = sqlx::query(
                        "SELECT id, flow_id, flow_version, flow_name, status, vars, environment, created_at, \
                         started_at, finished_at, error, result, attempt, source, cancel_requested_at, schedule_id \
                         FROM runs WHERE ($1 IS NULL OR flow_id = $1) AND ($2 IS NULL OR status = $2) \
                         AND ($3 IS NULL OR created_at >= $3) \
                         AND ($4 IS NULL OR created_at < $4 OR (created_at = $4 AND id < $5)) \
                         AND ($7 IS NULL OR schedule_id = $7) \
                         ORDER BY created_at DESC, id DESC LIMIT $6",
                    )
                    .bind(&filter.flow_id)
                    .bind(&filter.status)
                    .bind(opt_ts(filter.since))
                    .bind(opt_ts(after_at))
                    .bind(after_id)
                    .bind(limit + 1)
                    .bind(&filter.schedule_id)
                    .fetch_all(&self.pool)
                    .await?;
                    let items = rows.iter().map(run_from_row).collect::<Result<Vec<_>, _>>()?;
                    Ok(into_page(items, limit, |run| (run.created_at, run.id.as_str())))
                })
            }

            fn set_run_status<'a>(
                &'a self,
                id: &'a str,
                status: &'a str,
                error: Option<&'a str>,
            ) -> StoreResult<'a, RunRecord> {
                Box::pin(async move {
                    let is_final = FINAL_RUN_STATUSES.contains(&status);
                    let mut tx = self.pool.begin().await?;
                    let done = sqlx::query(
                        "UPDATE runs SET status = $2, error = COALESCE($3, error), \
                         started_at = CASE WHEN $5 THEN COALESCE(started_at, $4) ELSE started_at END, \
                         finished_at = CASE WHEN $6 THEN $4 ELSE NULL END \
                         WHERE id = $1 AND finished_at IS NULL",
                    )
                    .bind(id)
                    .bind(status)
                    .bind(error)
                    .bind(ts(now()))
                    .bind(status == "running")
                    .bind(is_final)
                    .execute(&mut *tx)
                    .await?;
                    if done.rows_affected() == 0 {
                        drop(tx);
                        return Err(self.run_not_updated(id).await);
                    }
                    if is_final {
                        Self::append_event(&mut tx, id, "run.finished", finished_event(id, status, error)).await?;
                    }
                    tx.commit().await?;
                    self.get_run(id).await
                })
            }

            fn finish_run<'a>(&'a self, id: &'a str, status: &'a str, result: Value) -> StoreResult<'a, RunRecord> {
                Box::pin(async move {
                    if !FINAL_RUN_STATUSES.contains(&status) {
                        return Err(StoreError::Invalid(format!("`{status}` is not a final run status")));
                    }
                    let mut tx = self.pool.begin().await?;
                    let done = sqlx::query(
                        "UPDATE runs SET status = $2, result = $3, finished_at = $4 \
                         WHERE id = $1 AND finished_at IS NULL",
                    )
                    .bind(id)
                    .bind(status)
                    .bind(Json(&result))
                    .bind(ts(now()))
                    .execute(&mut *tx)
                    .await?;
                    if done.rows_affected() == 0 {
                        drop(tx);
                        return Err(self.run_not_updated(id).await);
                    }
                    let error = result.get("error").and_then(Value::as_str);
                    Self::append_event(&mut tx, id, "run.finished", finished_event(id, status, error)).await?;
                    tx.commit().await?;
                    self.get_run(id).await
                })
            }

            fn claim_run<'a>(
                &'a self,
                id: &'a str,
                owner: &'a str,
                lease: std::time::Duration,
            ) -> StoreResult<'a, Option<i64>> {
                Box::pin(async move {
                    let now = now();
                    let expires = lease_end(now, lease);
                    let mut tx = self.pool.begin().await?;
                    let row = sqlx::query(
                        "UPDATE runs SET status = 'running', attempt = attempt + 1, lease_owner = $2, \
                         lease_expires_at = $3, started_at = COALESCE(started_at, $4) \
                         WHERE id = $1 AND finished_at IS NULL \
                         AND (status = 'queued' OR (status = 'running' AND lease_expires_at < $4)) \
                         RETURNING attempt, flow_name",
                    )
                    .bind(id)
                    .bind(owner)
                    .bind(ts(expires))
                    .bind(ts(now))
                    .fetch_optional(&mut *tx)
                    .await?;
                    let Some(row) = row else {
                        drop(tx);
                        return if self.run_exists(id).await? { Ok(None) } else { Err(StoreError::NotFound) };
                    };
                    let attempt: i64 = row.try_get("attempt")?;
                    let flow: String = row.try_get("flow_name")?;
                    let data = serde_json::json!({"run_id": id, "flow": flow, "attempt": attempt});
                    Self::append_event(&mut tx, id, "run.started", data).await?;
                    tx.commit().await?;
                    Ok(Some(attempt))
                })
            }

            fn renew_run_lease<'a>(
                &'a self,
                id: &'a str,
                attempt: i64,
                lease: std::time::Duration,
            ) -> StoreResult<'a, LeaseState> {
                Box::pin(async move {
                    let expires = lease_end(now(), lease);
                    let row = sqlx::query(
                        "UPDATE runs SET lease_expires_at = $3 \
                         WHERE id = $1 AND attempt = $2 AND finished_at IS NULL RETURNING cancel_requested_at",
                    )
                    .bind(id)
                    .bind(attempt)
                    .bind(ts(expires))
                    .fetch_optional(&self.pool)
                    .await?;
                    Ok(match row {
                        None => LeaseState::Lost,
                        Some(row) if get_opt_ts(&row, "cancel_requested_at")?.is_some() => LeaseState::CancelRequested,
                        Some(_) => LeaseState::Held,
                    })
                })
            }

            fn finish_claimed_run<'a>(
                &'a self,
                id: &'a str,
                attempt: i64,
                status: &'a str,
                result: Value,
            ) -> StoreResult<'a, bool> {
                Box::pin(async move {
                    if !FINAL_RUN_STATUSES.contains(&status) {
                        return Err(StoreError::Invalid(format!("`{status}` is not a final run status")));
                    }
                    let mut tx = self.pool.begin().await?;
                    let error = result.get("error").and_then(Value::as_str).map(str::to_string);
                    let done = sqlx::query(
                        "UPDATE runs SET status = $3, result = $4, finished_at = $5, lease_owner = NULL, \
                         lease_expires_at = NULL, error = COALESCE($6, error) \
                         WHERE id = $1 AND attempt = $2 AND finished_at IS NULL",
                    )
                    .bind(id)
                    .bind(attempt)
                    .bind(status)
                    .bind(Json(&result))
                    .bind(ts(now()))
                    .bind(&error)
                    .execute(&mut *tx)
                    .await?;
                    if done.rows_affected() != 1 {
                        return Ok(false);
                    }
                    Self::append_event(&mut tx, id, "run.finished", finished_event(id, status, error.as_deref()))
                        .await?;
                    tx.commit().await?;
                    Ok(true)
                })
            }

            fn put_step_result<'a>(&'a self, run_id: &'a str, step: StepRow) -> StoreResult<'a, ()> {
                Box::pin(async move {
                    let mut tx = self.pool.begin().await?;
                    Self::upsert_step(&mut tx, run_id, &step).await?;
                    tx.commit().await?;
                    Ok(())
                })
            }

            fn record_step_events<'a>(&'a self, run_id: &'a str, events: Vec<StepEvent>) -> StoreResult<'a, ()> {
                Box::pin(async move {
                    let mut tx = self.pool.begin().await?;
                    for event in &events {
                        match event {
                            StepEvent::Started { path, id, phase } => {
                                let data = serde_json::json!({"run_id": run_id, "path": path, "id": id, "phase": phase});
                                Self::append_event(&mut tx, run_id, "step.started", data).await?;
                            }
                            StepEvent::Finished(step) => {
                                Self::upsert_step(&mut tx, run_id, step).await?;
                                let data = serde_json::json!({
                                    "run_id": run_id,
                                    "path": step.path,
                                    "attempt": step.attempt,
                                    "phase": step.phase,
                                    "status": step.status,
                                    "result": step.result,
                                });
                                Self::append_event(&mut tx, run_id, "step.finished", data).await?;
                            }
                        }
                    }
                    tx.commit().await?;
                    Ok(())
                })
            }

            fn run_events<'a>(
                &'a self,
                run_id: &'a str,
                after: i64,
                limit: i64,
            ) -> StoreResult<'a, Vec<RunEventRecord>> {
                Box::pin(async move {
                    let rows = sqlx::query(
                        "SELECT seq, kind, data, at FROM run_events WHERE run_id = $1 AND seq > $2 \
                         ORDER BY seq LIMIT $3",
                    )
                    .bind(run_id)
                    .bind(after)
                    .bind(limit.clamp(1, 10_000))
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter()
                        .map(|row| {
                            Ok(RunEventRecord {
                                seq: row.try_get("seq")?,
                                kind: row.try_get("kind")?,
                                data: row.try_get::<Json<Value>, _>("data")?.0,
                                at: get_ts(row, "at")?,
                            })
                        })
                        .collect()
                })
            }

            fn request_cancel<'a>(&'a self, id: &'a str) -> StoreResult<'a, RunRecord> {
                Box::pin(async move {
                    let now = now();
                    let mut tx = self.pool.begin().await?;
                    let reason = "cancelled before a worker started it";
                    let queued = sqlx::query(
                        "UPDATE runs SET status = 'cancelled', finished_at = $2, cancel_requested_at = $2, \
                         error = $3 WHERE id = $1 AND status = 'queued' AND finished_at IS NULL",
                    )
                    .bind(id)
                    .bind(ts(now))
                    .bind(reason)
                    .execute(&mut *tx)
                    .await?;
                    if queued.rows_affected() == 1 {
                        Self::append_event(&mut tx, id, "run.finished", finished_event(id, "cancelled", Some(reason)))
                            .await?;
                    } else {
                        let running = sqlx::query(
                            "UPDATE runs SET cancel_requested_at = COALESCE(cancel_requested_at, $2) \
                             WHERE id = $1 AND finished_at IS NULL",
                        )
                        .bind(id)
                        .bind(ts(now))
                        .execute(&mut *tx)
                        .await?;
                        if running.rows_affected() == 0 {
                            drop(tx);
                            return Err(self.run_not_updated(id).await);
                        }
                    }
                    tx.commit().await?;
                    self.get_run(id).await
                })
            }

            fn stale_runs(
                &self,
                enqueued_before: chrono::DateTime<chrono::Utc>,
                limit: i64,
            ) -> StoreResult<'_, Vec<String>> {
                Box::pin(async move {
                    let rows = sqlx::query(
                        "SELECT id FROM runs WHERE finished_at IS NULL \
                         AND ((status = 'queued' AND (enqueued_at IS NULL OR enqueued_at < $1)) \
                              OR (status = 'running' AND lease_expires_at < $2)) \
                         ORDER BY created_at LIMIT $3",
                    )
                    .bind(ts(enqueued_before))
                    .bind(ts(now()))
                    .bind(limit.max(1))
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter().map(|row| Ok(row.try_get("id")?)).collect()
                })
            }

            fn mark_enqueued<'a>(&'a self, ids: &'a [String]) -> StoreResult<'a, ()> {
                Box::pin(async move {
                    let now = now();
                    let mut tx = self.pool.begin().await?;
                    for id in ids {
                        sqlx::query("UPDATE runs SET enqueued_at = $2 WHERE id = $1")
                            .bind(id)
                            .bind(ts(now))
                            .execute(&mut *tx)
                            .await?;
                    }
                    tx.commit().await?;
                    Ok(())
                })
            }

            fn run_counts(&self) -> StoreResult<'_, Vec<(String, i64)>> {
                Box::pin(async move {
                    let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM runs GROUP BY status ORDER BY status")
                        .fetch_all(&self.pool)
                        .await?;
                    rows.iter().map(|row| Ok((row.try_get("status")?, row.try_get("n")?))).collect()
                })
            }

            fn ping(&self) -> StoreResult<'_, ()> {
                Box::pin(async move {
                    sqlx::query("SELECT 1").execute(&self.pool).await?;
                    Ok(())
                })
            }

            fn step_results<'a>(&'a self, run_id: &'a str) -> StoreResult<'a, Vec<StepRow>> {
                Box::pin(async move {
                    let rows = sqlx::query(
                        "SELECT path, attempt, phase, status, result FROM step_results WHERE run_id = $1 \
                         ORDER BY seq",
                    )
                    .bind(run_id)
                    .fetch_all(&self.pool)
                    .await?;
                    if rows.is_empty() && !self.run_exists(run_id).await? {
                        return Err(StoreError::NotFound);
                    }
                    rows.iter()
                        .map(|row| {
                            Ok(StepRow {
                                path: row.try_get("path")?,
                                attempt: row.try_get("attempt")?,
                                phase: row.try_get("phase")?,
                                status: row.try_get("status")?,
                                result: row.try_get::<Json<Value>, _>("result")?.0,
                            })
                        })
                        .collect()
                })
            }

            fn put_environment<'a>(
                &'a self,
                name: &'a str,
                vars: Map<String, Value>,
                secrets: BTreeMap<String, String>,
            ) -> StoreResult<'a, EnvironmentRecord> {
                Box::pin(async move {
                    let now = now();
                    let mut tx = self.pool.begin().await?;
                    sqlx::query(
                        "INSERT INTO environments (name, vars, created_at, updated_at) VALUES ($1, $2, $3, $3) \
                         ON CONFLICT (name) DO UPDATE SET vars = excluded.vars, updated_at = excluded.updated_at",
                    )
                    .bind(name)
                    .bind(Json(&vars))
                    .bind(ts(now))
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query("DELETE FROM environment_secrets WHERE environment = $1")
                        .bind(name)
                        .execute(&mut *tx)
                        .await?;
                    for (secret, value) in &secrets {
                        sqlx::query("INSERT INTO environment_secrets (environment, name, value) VALUES ($1, $2, $3)")
                            .bind(name)
                            .bind(secret)
                            .bind(value)
                            .execute(&mut *tx)
                            .await?;
                    }
                    tx.commit().await?;
                    Ok(EnvironmentRecord {
                        name: name.to_string(),
                        vars,
                        secret_names: secrets.into_keys().collect(),
                        updated_at: now,
                    })
                })
            }

            fn get_environment<'a>(&'a self, name: &'a str) -> StoreResult<'a, EnvironmentRecord> {
                Box::pin(self.environment_record(name))
            }

            fn environment_secrets<'a>(&'a self, name: &'a str) -> StoreResult<'a, BTreeMap<String, String>> {
                Box::pin(async move {
                    let mut tx = self.pool.begin().await?;
                    let exists = sqlx::query("SELECT 1 FROM environments WHERE name = $1")
                        .bind(name)
                        .fetch_optional(&mut *tx)
                        .await?
                        .is_some();
                    if !exists {
                        return Err(StoreError::NotFound);
                    }
                    let rows = sqlx::query("SELECT name, value FROM environment_secrets WHERE environment = $1")
                        .bind(name)
                        .fetch_all(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    rows.iter().map(|row| Ok((row.try_get("name")?, row.try_get("value")?))).collect()
                })
            }

            fn list_environments(&self) -> StoreResult<'_, Vec<EnvironmentRecord>> {
                Box::pin(async move {
                    let rows = sqlx::query("SELECT name, vars, updated_at FROM environments ORDER BY name")
                        .fetch_all(&self.pool)
                        .await?;
                    let secrets = sqlx::query("SELECT environment, name FROM environment_secrets ORDER BY name")
                        .fetch_all(&self.pool)
                        .await?;
                    let mut names: BTreeMap<String, Vec<String>> = BTreeMap::new();
                    for row in &secrets {
                        names.entry(row.try_get("environment")?).or_default().push(row.try_get("name")?);
                    }
                    rows.iter()
                        .map(|row| {
                            let name: String = row.try_get("name")?;
                            Ok(EnvironmentRecord {
                                secret_names: names.remove(&name).unwrap_or_default(),
                                name,
                                vars: row.try_get::<Json<Map<String, Value>>, _>("vars")?.0,
                                updated_at: get_ts(row, "updated_at")?,
                            })
                        })
                        .collect()
                })
            }

            fn delete_environment<'a>(&'a self, name: &'a str) -> StoreResult<'a, ()> {
                Box::pin(async move {
                    let done =
                        sqlx::query("DELETE FROM environments WHERE name = $1").bind(name).execute(&self.pool).await?;
                    if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
                })
            }

            fn create_api_key(&self, key: NewKey) -> StoreResult<'_, (ApiKeyRecord, String)> {
                Box::pin(async move {
                    let (id, plaintext) = generate_key();
                    let now = now();
                    sqlx::query(
                        "INSERT INTO api_keys (id, role, description, digest, created_at, expires_at) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(&id)
                    .bind(key.role.as_str())
                    .bind(&key.description)
                    .bind(key_digest(&plaintext))
                    .bind(ts(now))
                    .bind(opt_ts(key.expires_at))
                    .execute(&self.pool)
                    .await?;
                    let record = ApiKeyRecord {
                        id,
                        role: key.role,
                        description: key.description,
                        created_at: now,
                        expires_at: key.expires_at,
                        revoked_at: None,
                    };
                    Ok((record, plaintext))
                })
            }

            fn verify_api_key<'a>(&'a self, plaintext: &'a str) -> StoreResult<'a, Option<ApiKeyRecord>> {
                Box::pin(async move {
                    let Some(id) = parse_key_id(plaintext) else { return Ok(None) };
                    let row = sqlx::query(
                        "SELECT id, role, description, digest, created_at, expires_at, revoked_at \
                         FROM api_keys WHERE id = $1",
                    )
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                    let Some(row) = row else { return Ok(None) };
                    let digest: String = row.try_get("digest")?;
                    if !constant_time_eq(digest.as_bytes(), key_digest(plaintext).as_bytes()) {
                        return Ok(None);
                    }
                    let record = key_from_row(&row)?;
                    let expired = record.expires_at.is_some_and(|at| at <= now());
                    Ok((record.revoked_at.is_none() && !expired).then_some(record))
                })
            }

            fn list_api_keys(&self) -> StoreResult<'_, Vec<ApiKeyRecord>> {
                Box::pin(async move {
                    let rows = sqlx::query(
                        "SELECT id, role, description, created_at, expires_at, revoked_at FROM api_keys \
                         ORDER BY created_at DESC, id DESC",
                    )
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter().map(key_from_row).collect()
                })
            }

            fn revoke_api_key<'a>(&'a self, id: &'a str) -> StoreResult<'a, ()> {
                Box::pin(async move {
                    let done = sqlx::query("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1")
                        .bind(id)
                        .bind(ts(now()))
                        .execute(&self.pool)
                        .await?;
                    if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
                })
            }

            fn count_api_keys(&self) -> StoreResult<'_, i64> {
                Box::pin(async move {
                    let row = sqlx::query("SELECT COUNT(*) AS n FROM api_keys").fetch_one(&self.pool).await?;
                    Ok(row.try_get("n")?)
                })
            }

            fn audit(&self, entry: AuditEntry) -> StoreResult<'_, ()> {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO audit_log (at, actor_key_id, action, target, detail) VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(ts(now()))
                    .bind(&entry.actor_key_id)
                    .bind(&entry.action)
                    .bind(&entry.target)
                    .bind(Json(&entry.detail))
                    .execute(&self.pool)
                    .await?;
                    Ok(())
                })
            }

            fn list_audit(&self, limit: Option<i64>) -> StoreResult<'_, Vec<AuditRecord>> {
                Box::pin(async move {
                    let rows = sqlx::query(
                        "SELECT seq, at, actor_key_id, action, target, detail FROM audit_log ORDER BY seq DESC \
                         LIMIT $1",
                    )
                    .bind(page_limit(limit))
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter()
                        .map(|row| {
                            Ok(AuditRecord {
                                seq: row.try_get("seq")?,
                                at: get_ts(row, "at")?,
                                actor_key_id: row.try_get("actor_key_id")?,
                                action: row.try_get("action")?,
                                target: row.try_get("target")?,
                                detail: row.try_get::<Json<Value>, _>("detail")?.0,
                            })
                        })
                        .collect()
                })
            }
        }
    };
}
