//! The SQL of [`ScheduleStore`](super::ScheduleStore), shared by both backends like `sql.rs`:
//! schedules, and their fire times claimed exactly once (the `schedule_fires` primary key) together
//! with the run a fire starts, in one transaction.

/// Implements [`ScheduleStore`](super::ScheduleStore) for `$store` (which has a `pool`) whose rows
/// are `$row`.
macro_rules! sql_schedule_store {
    ($store:ident, $row:ty) => {
        mod schedule_store {
            use super::*;
            use $crate::storage::{
                FireRecord, NewRun, NewSchedule, RunRecord, ScheduleRecord, ScheduleStore, Store, StoreError,
                StoreResult, new_id, now,
            };
            use serde_json::{Map, Value};
            use sqlx::types::Json;

            const SCHEDULE_COLUMNS: &str = "SELECT id, flow_id, description, cron, timezone, vars, environment, \
                 overlap, catch_up, catch_up_window_seconds, enabled, next_fire_at, created_at, updated_at FROM schedules";

            fn schedule_from_row(row: &$row) -> Result<ScheduleRecord, StoreError> {
                Ok(ScheduleRecord {
                    id: row.try_get("id")?,
                    flow_id: row.try_get("flow_id")?,
                    description: row.try_get("description")?,
                    cron: row.try_get("cron")?,
                    timezone: row.try_get("timezone")?,
                    vars: row.try_get::<Json<Map<String, Value>>, _>("vars")?.0,
                    environment: row.try_get("environment")?,
                    overlap: row.try_get("overlap")?,
                    catch_up: row.try_get("catch_up")?,
                    catch_up_window_seconds: row.try_get("catch_up_window_seconds")?,
                    enabled: row.try_get("enabled")?,
                    next_fire_at: get_opt_ts(row, "next_fire_at")?,
                    created_at: get_ts(row, "created_at")?,
                    updated_at: get_ts(row, "updated_at")?,
                })
            }

            /// A foreign key that names no flow: the schedule's flow does not exist.
            fn no_flow(error: sqlx::Error) -> StoreError {
                match error {
                    sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                        StoreError::Invalid("the schedule's flow does not exist".into())
                    }
                    other => other.into(),
                }
            }

            impl $store {
                async fn schedule(&self, id: &str) -> Result<ScheduleRecord, StoreError> {
                    let row = sqlx::query(sqlx::AssertSqlSafe(format!("{SCHEDULE_COLUMNS} WHERE id = $1")))
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?
                        .ok_or(StoreError::NotFound)?;
                    schedule_from_row(&row)
                }
            }

            impl ScheduleStore for $store {
                fn create_schedule(&self, schedule: NewSchedule) -> StoreResult<'_, ScheduleRecord> {
                    Box::pin(async move {
                        let id = new_id("sch");
                        let now = now();
                        sqlx::query(
                            "INSERT INTO schedules (id, flow_id, description, cron, timezone, vars, environment, \
                             overlap, catch_up, catch_up_window_seconds, enabled, next_fire_at, created_at, \
                             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)",
                        )
                        .bind(&id)
                        .bind(&schedule.flow_id)
                        .bind(&schedule.description)
                        .bind(&schedule.cron)
                        .bind(&schedule.timezone)
                        .bind(Json(&schedule.vars))
                        .bind(&schedule.environment)
                        .bind(&schedule.overlap)
                        .bind(&schedule.catch_up)
                        .bind(schedule.catch_up_window_seconds)
                        .bind(schedule.enabled)
                        .bind(opt_ts(schedule.next_fire_at))
                        .bind(ts(now))
                        .execute(&self.pool)
                        .await
                        .map_err(no_flow)?;
                        self.schedule(&id).await
                    })
                }

                fn get_schedule<'a>(&'a self, id: &'a str) -> StoreResult<'a, ScheduleRecord> {
                    Box::pin(self.schedule(id))
                }

                fn list_schedules(&self) -> StoreResult<'_, Vec<ScheduleRecord>> {
                    Box::pin(async move {
                        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                            "{SCHEDULE_COLUMNS} ORDER BY created_at DESC, id DESC"
                        )))
                        .fetch_all(&self.pool)
                        .await?;
                        rows.iter().map(schedule_from_row).collect()
                    })
                }

                fn update_schedule<'a>(&'a self, id: &'a str, schedule: NewSchedule) -> StoreResult<'a, ScheduleRecord> {
                    Box::pin(async move {
                        let done = sqlx::query(
                            "UPDATE schedules SET flow_id = $2, description = $3, cron = $4, timezone = $5, vars = $6, \
                             environment = $7, overlap = $8, catch_up = $9, catch_up_window_seconds = $10, \
                             enabled = $11, next_fire_at = $12, updated_at = $13 WHERE id = $1",
                        )
                        .bind(id)
                        .bind(&schedule.flow_id)
                        .bind(&schedule.description)
                        .bind(&schedule.cron)
                        .bind(&schedule.timezone)
                        .bind(Json(&schedule.vars))
                        .bind(&schedule.environment)
                        .bind(&schedule.overlap)
                        .bind(&schedule.catch_up)
                        .bind(schedule.catch_up_window_seconds)
                        .bind(schedule.enabled)
                        .bind(opt_ts(schedule.next_fire_at))
                        .bind(ts(now()))
                        .execute(&self.pool)
                        .await
                        .map_err(no_flow)?;
                        if done.rows_affected() == 0 {
                            return Err(StoreError::NotFound);
                        }
                        self.schedule(id).await
                    })
                }

                fn delete_schedule<'a>(&'a self, id: &'a str) -> StoreResult<'a, ()> {
                    Box::pin(async move {
                        let done = sqlx::query("DELETE FROM schedules WHERE id = $1").bind(id).execute(&self.pool).await?;
                        if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
                    })
                }

                fn due_schedules(
                    &self,
                    now: chrono::DateTime<chrono::Utc>,
                    limit: i64,
                ) -> StoreResult<'_, Vec<ScheduleRecord>> {
                    Box::pin(async move {
                        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                            "{SCHEDULE_COLUMNS} WHERE enabled = TRUE AND next_fire_at <= $1 \
                             ORDER BY next_fire_at LIMIT $2"
                        )))
                        .bind(ts(now))
                        .bind(limit.max(1))
                        .fetch_all(&self.pool)
                        .await?;
                        rows.iter().map(schedule_from_row).collect()
                    })
                }

                fn advance_schedule<'a>(
                    &'a self,
                    id: &'a str,
                    next_fire_at: Option<chrono::DateTime<chrono::Utc>>,
                ) -> StoreResult<'a, ()> {
                    Box::pin(async move {
                        // Only forward: a replica with a stale view cannot move it back.
                        sqlx::query(
                            "UPDATE schedules SET next_fire_at = $2 \
                             WHERE id = $1 AND (next_fire_at IS NULL OR $2 IS NULL OR next_fire_at < $2)",
                        )
                        .bind(id)
                        .bind(opt_ts(next_fire_at))
                        .execute(&self.pool)
                        .await?;
                        Ok(())
                    })
                }

                fn claim_fire<'a>(
                    &'a self,
                    schedule_id: &'a str,
                    fire_time: chrono::DateTime<chrono::Utc>,
                    outcome: &'a str,
                    run: Option<NewRun>,
                ) -> StoreResult<'a, Option<Option<RunRecord>>> {
                    Box::pin(async move {
                        let now = now();
                        let mut tx = self.pool.begin().await?;
                        let claimed = sqlx::query(
                            "INSERT INTO schedule_fires (schedule_id, fire_time, outcome, claimed_at) \
                             VALUES ($1, $2, $3, $4) ON CONFLICT (schedule_id, fire_time) DO NOTHING",
                        )
                        .bind(schedule_id)
                        .bind(ts(fire_time))
                        .bind(outcome)
                        .bind(ts(now))
                        .execute(&mut *tx)
                        .await?;
                        if claimed.rows_affected() == 0 {
                            return Ok(None);
                        }
                        let Some(run) = run else {
                            tx.commit().await?;
                            return Ok(Some(None));
                        };
                        let run_id = new_id("run");
                        let run = NewRun { schedule_id: Some(schedule_id.to_string()), ..run };
                        Self::insert_run(&mut tx, &run_id, &run, now).await?;
                        sqlx::query("UPDATE schedule_fires SET run_id = $3 WHERE schedule_id = $1 AND fire_time = $2")
                            .bind(schedule_id)
                            .bind(ts(fire_time))
                            .bind(&run_id)
                            .execute(&mut *tx)
                            .await?;
                        tx.commit().await?;
                        Ok(Some(Some(self.get_run(&run_id).await?)))
                    })
                }

                fn schedule_fires<'a>(&'a self, schedule_id: &'a str, limit: i64) -> StoreResult<'a, Vec<FireRecord>> {
                    Box::pin(async move {
                        let rows = sqlx::query(
                            "SELECT fire_time, run_id, outcome, claimed_at FROM schedule_fires \
                             WHERE schedule_id = $1 ORDER BY fire_time DESC LIMIT $2",
                        )
                        .bind(schedule_id)
                        .bind(limit.max(1))
                        .fetch_all(&self.pool)
                        .await?;
                        rows.iter()
                            .map(|row| {
                                Ok(FireRecord {
                                    fire_time: get_ts(row, "fire_time")?,
                                    run_id: row.try_get("run_id")?,
                                    outcome: row.try_get("outcome")?,
                                    claimed_at: get_ts(row, "claimed_at")?,
                                })
                            })
                            .collect()
                    })
                }

                fn unfinished_schedule_runs<'a>(&'a self, schedule_id: &'a str) -> StoreResult<'a, Vec<String>> {
                    Box::pin(async move {
                        let rows = sqlx::query(
                            "SELECT id FROM runs WHERE schedule_id = $1 AND finished_at IS NULL ORDER BY created_at",
                        )
                        .bind(schedule_id)
                        .fetch_all(&self.pool)
                        .await?;
                        rows.iter().map(|row| Ok(row.try_get("id")?)).collect()
                    })
                }
            }
        }
    };
}
