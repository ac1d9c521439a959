//! Hiding secrets in text a plugin shows to users: the password of a connection string in an error
//! message, for instance.

/// Replaces the password of a connection string with `***`, in both URL form
/// (`postgres://user:secret@host/db`, `redis://:secret@host`) and key=value form
/// (`host=db password=secret`). Text without a password is returned unchanged.
pub fn connection(text: &str) -> String {
    if let Some(scheme_end) = text.find("://") {
        let rest = &text[scheme_end + 3..];
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        if let Some(at) = rest[..authority_end].rfind('@') {
            let userinfo = &rest[..at];
            if let Some(colon) = userinfo.find(':') {
                let user_end = scheme_end + 3 + colon + 1;
                return format!("{}***{}", &text[..user_end], &text[scheme_end + 3 + at..]);
            }
        }
        return text.to_string();
    }
    text.split(' ')
        .map(|part| match part.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
            _ => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::connection;

    #[test]
    fn hides_url_passwords() {
        assert_eq!(
            connection("postgres://app:s3cr@t@db:5432/x?sslmode=disable"),
            "postgres://app:***@db:5432/x?sslmode=disable"
        );
        assert_eq!(connection("redis://:pw@cache:6379/0"), "redis://:***@cache:6379/0");
        assert_eq!(connection("redis://user@cache"), "redis://user@cache");
        assert_eq!(connection("sqlite:///tmp/a:b@c.db"), "sqlite:///tmp/a:b@c.db");
        assert_eq!(connection("sqlite::memory:"), "sqlite::memory:");
    }

    #[test]
    fn hides_key_value_passwords() {
        assert_eq!(connection("host=db user=app password=hunter2 dbname=x"), "host=db user=app password=*** dbname=x");
        assert_eq!(connection("host=db"), "host=db");
    }
}
