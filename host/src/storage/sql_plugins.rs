//! The SQL of [`PluginStore`](super::PluginStore), shared by both backends like `sql.rs`: installed
//! plugin versions with their grants, and their components stored by digest.

/// Implements [`PluginStore`](super::PluginStore) for `$store` (which has a `pool`) whose rows are
/// `$row`.
macro_rules! sql_plugin_store {
    ($store:ident, $row:ty) => {
        mod plugin_store {
            use super::*;
            use $crate::storage::{now, NewPlugin, PluginPatch, PluginRecord, PluginStore, StoreError, StoreResult};
            use serde_json::Value;
            use sqlx::types::Json;

            const PLUGIN_COLUMNS: &str =
                "SELECT name, version, kind, digest, size, descriptor, grants, enabled, created_at, updated_at \
                 FROM plugins";

            fn plugin_from_row(row: &$row) -> Result<PluginRecord, StoreError> {
                let created_at = get_ts(row, "created_at")?;
                Ok(PluginRecord {
                    name: row.try_get("name")?,
                    version: row.try_get("version")?,
                    kind: row.try_get("kind")?,
                    digest: row.try_get("digest")?,
                    size: row.try_get("size")?,
                    descriptor: row.try_get::<Json<Value>, _>("descriptor")?.0,
                    grants: row.try_get::<Json<Vec<String>>, _>("grants")?.0,
                    enabled: row.try_get("enabled")?,
                    created_at,
                    updated_at: get_opt_ts(row, "updated_at")?.unwrap_or(created_at),
                })
            }

            impl $store {
                async fn plugin(&self, name: &str, version: &str) -> Result<PluginRecord, StoreError> {
                    let row = sqlx::query(sqlx::AssertSqlSafe(format!("{PLUGIN_COLUMNS} WHERE name = $1 AND version = $2")))
                        .bind(name)
                        .bind(version)
                        .fetch_optional(&self.pool)
                        .await?
                        .ok_or(StoreError::NotFound)?;
                    plugin_from_row(&row)
                }
            }

            impl PluginStore for $store {
                fn install_plugin(&self, plugin: NewPlugin) -> StoreResult<'_, (PluginRecord, bool)> {
                    Box::pin(async move {
                        let now = now();
                        let size = i64::try_from(plugin.component.len()).unwrap_or(i64::MAX);
                        let inserted = sqlx::query(
                            "INSERT INTO plugins (name, version, kind, digest, component, descriptor, grants, enabled, \
                             created_at, updated_at, size) VALUES ($1, $2, $3, $4, $5, $6, $7, TRUE, $8, $8, $9)",
                        )
                        .bind(&plugin.name)
                        .bind(&plugin.version)
                        .bind(&plugin.kind)
                        .bind(&plugin.digest)
                        .bind(&plugin.component)
                        .bind(Json(&plugin.descriptor))
                        .bind(Json(&plugin.grants))
                        .bind(ts(now))
                        .bind(size)
                        .execute(&self.pool)
                        .await;
                        match inserted.map_err(StoreError::from) {
                            Ok(_) => Ok((self.plugin(&plugin.name, &plugin.version).await?, true)),
                            Err(StoreError::Conflict(_)) => {
                                let existing = self.plugin(&plugin.name, &plugin.version).await?;
                                if existing.digest == plugin.digest {
                                    Ok((existing, false))
                                } else {
                                    Err(StoreError::Conflict(format!(
                                        "plugin `{}` version {} is already installed with another component \
                                         (sha256:{}); give the new build a new version",
                                        plugin.name, plugin.version, existing.digest
                                    )))
                                }
                            }
                            Err(other) => Err(other),
                        }
                    })
                }

                fn list_plugins(&self) -> StoreResult<'_, Vec<PluginRecord>> {
                    Box::pin(async move {
                        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("{PLUGIN_COLUMNS} ORDER BY name, created_at DESC, version DESC")))
                            .fetch_all(&self.pool)
                            .await?;
                        rows.iter().map(plugin_from_row).collect()
                    })
                }

                fn get_plugin<'a>(&'a self, name: &'a str, version: &'a str) -> StoreResult<'a, PluginRecord> {
                    Box::pin(self.plugin(name, version))
                }

                fn plugin_component<'a>(&'a self, digest: &'a str) -> StoreResult<'a, Vec<u8>> {
                    Box::pin(async move {
                        let row = sqlx::query("SELECT component FROM plugins WHERE digest = $1 LIMIT 1")
                            .bind(digest)
                            .fetch_optional(&self.pool)
                            .await?
                            .ok_or(StoreError::NotFound)?;
                        Ok(row.try_get("component")?)
                    })
                }

                fn update_plugin<'a>(
                    &'a self,
                    name: &'a str,
                    version: &'a str,
                    patch: PluginPatch,
                ) -> StoreResult<'a, PluginRecord> {
                    Box::pin(async move {
                        let done = sqlx::query(
                            "UPDATE plugins SET grants = COALESCE($3, grants), enabled = COALESCE($4, enabled), \
                             updated_at = $5 WHERE name = $1 AND version = $2",
                        )
                        .bind(name)
                        .bind(version)
                        .bind(patch.grants.as_ref().map(Json))
                        .bind(patch.enabled)
                        .bind(ts(now()))
                        .execute(&self.pool)
                        .await?;
                        if done.rows_affected() == 0 {
                            return Err(StoreError::NotFound);
                        }
                        self.plugin(name, version).await
                    })
                }

                fn delete_plugin<'a>(&'a self, name: &'a str, version: &'a str) -> StoreResult<'a, ()> {
                    Box::pin(async move {
                        let done = sqlx::query("DELETE FROM plugins WHERE name = $1 AND version = $2")
                            .bind(name)
                            .bind(version)
                            .execute(&self.pool)
                            .await?;
                        if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
                    })
                }
            }
        }
    };
}
