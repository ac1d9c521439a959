//! What the plugin reads from the SQL text itself: the kind of statement, and a short form of it for
//! error messages.

/// The kind of statement from its first keyword (after comments and opening parentheses):
/// `select`, `insert`, `update`, `delete`, or `other`.
pub fn query_type(statement: &str) -> &'static str {
    match first_keyword(statement).to_ascii_lowercase().as_str() {
        "select" => "select",
        "insert" => "insert",
        "update" => "update",
        "delete" => "delete",
        _ => "other",
    }
}

/// The first word of the statement, skipping whitespace, `--` and `/* */` comments and `(`.
fn first_keyword(statement: &str) -> &str {
    let mut rest = statement;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.split_once('\n').map_or("", |(_, next)| next);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.split_once("*/").map_or("", |(_, next)| next);
        } else {
            break;
        }
    }
    let end = rest.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(rest.len());
    &rest[..end]
}

/// The statement on one line, cut to `max_chars` characters with `…`, for error messages.
pub fn shorten(statement: &str, max_chars: usize) -> String {
    let one_line = statement.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max_chars {
        return one_line;
    }
    let cut: String = one_line.chars().take(max_chars).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_types_from_the_first_keyword() {
        assert_eq!(query_type("SELECT * FROM users"), "select");
        assert_eq!(query_type("  \n select 1"), "select");
        assert_eq!(query_type("(SELECT 1) UNION (SELECT 2)"), "select");
        assert_eq!(query_type("-- fixtures\nINSERT INTO t VALUES (1)"), "insert");
        assert_eq!(query_type("/* a */ /* b */Update t SET x = 1"), "update");
        assert_eq!(query_type("DELETE FROM t"), "delete");
        assert_eq!(query_type("WITH x AS (SELECT 1) SELECT * FROM x"), "other");
        assert_eq!(query_type("CREATE TABLE t (id int)"), "other");
        assert_eq!(query_type("selection"), "other");
        assert_eq!(query_type(""), "other");
        assert_eq!(query_type("-- only a comment"), "other");
    }

    #[test]
    fn shortens_for_messages() {
        assert_eq!(shorten("SELECT *\n  FROM t", 80), "SELECT * FROM t");
        assert_eq!(shorten("SELECT é FROM a_long_table", 8), "SELECT é…");
    }
}
