//! The `database_query` action: runs one SQL statement on a PostgreSQL or SQLite connection the
//! administrator granted, and returns its rows for assertions and captures.

pub mod config;
mod schema;
pub mod statement;

use config::Config;
use testmesh_plugin_sdk::sql::{self, QueryResult};
use testmesh_plugin_sdk::{Action, Context, Descriptor, Error, Value, json, redact};

/// The `database_query` action.
pub struct DatabaseQuery;

impl Action for DatabaseQuery {
    type Config = Config;

    fn describe() -> Descriptor {
        Descriptor::new("database_query", "0.1.0", "Runs one SQL statement and returns its rows")
            .config_schema(schema::config())
            .output_schema(schema::output())
            .capability("sql", "Runs the statements that flows give, on the connections named in their steps' config.")
    }

    fn run(_ctx: &Context, config: Config) -> Result<Value, Error> {
        config.validate()?;
        let result = sql::query(&config.connection, &config.query, &config.params).map_err(|message| {
            Error::failed(format!(
                "{message} (connection {}, statement `{}`)",
                redact::connection(&config.connection),
                statement::shorten(&config.query, 120)
            ))
        })?;
        Ok(output(result, config.max_rows, statement::query_type(&config.query)))
    }
}

/// The step's output: rows (cut to `max_rows`), their count, the first row, and what changed.
pub fn output(result: QueryResult, max_rows: Option<usize>, query_type: &str) -> Value {
    let mut rows = result.rows;
    let truncated = max_rows.is_some_and(|max| rows.len() > max);
    if let Some(max) = max_rows {
        rows.truncate(max);
    }
    json!({
        "row_count": rows.len(),
        "first_row": rows.first().cloned().unwrap_or(Value::Null),
        "rows": rows,
        "rows_affected": result.rows_affected,
        "query_type": query_type,
        "truncated": truncated,
    })
}

testmesh_plugin_sdk::export_action!(DatabaseQuery);

#[cfg(test)]
mod tests {
    use super::*;

    fn result(rows: Vec<Value>, rows_affected: u64) -> QueryResult {
        QueryResult { rows, rows_affected }
    }

    #[test]
    fn select_output() {
        let rows = vec![json!({"id": 1}), json!({"id": 2}), json!({"id": 3})];
        let out = output(result(rows, 0), None, "select");
        assert_eq!(out["row_count"], 3);
        assert_eq!(out["first_row"], json!({"id": 1}));
        assert_eq!(out["rows"][2], json!({"id": 3}));
        assert_eq!((out["rows_affected"].clone(), out["truncated"].clone()), (json!(0), json!(false)));
    }

    #[test]
    fn max_rows_caps_the_rows() {
        let rows = vec![json!({"id": 1}), json!({"id": 2}), json!({"id": 3})];
        let out = output(result(rows.clone(), 0), Some(2), "select");
        assert_eq!((out["row_count"].clone(), out["truncated"].clone()), (json!(2), json!(true)));
        let out = output(result(rows, 0), Some(3), "select");
        assert_eq!((out["row_count"].clone(), out["truncated"].clone()), (json!(3), json!(false)));
    }

    #[test]
    fn statement_without_rows() {
        let out = output(result(Vec::new(), 4), None, "update");
        assert_eq!(
            out,
            json!({"rows": [], "row_count": 0, "first_row": null, "rows_affected": 4, "query_type": "update", "truncated": false})
        );
    }

    #[test]
    fn describes_itself() {
        let d = DatabaseQuery::describe();
        assert_eq!((d.name.as_str(), d.version.as_str()), ("database_query", "0.1.0"));
        assert_eq!(d.capabilities[0].capability, "sql");
        assert_eq!(d.config_schema["required"], json!(["query"]));
    }
}
