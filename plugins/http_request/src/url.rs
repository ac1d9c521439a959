//! URL handling without a URL crate: checking that a URL is absolute, appending percent-encoded query
//! parameters, and resolving a redirect's `location` against the URL that answered (RFC 3986 §5).

/// An absolute `http`/`https` URL split into its parts; the fragment is dropped (it is never sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parts {
    /// `http` or `https`, lower case.
    pub scheme: String,
    /// `host[:port]`, possibly with `user:password@`.
    pub authority: String,
    /// The path, `/` when the URL has none.
    pub path: String,
    /// The query without its `?`, if the URL has one.
    pub query: Option<String>,
}

impl Parts {
    /// Splits an absolute `http://` or `https://` URL, explaining what is wrong with any other text.
    pub fn parse(url: &str) -> Result<Parts, String> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| format!("`{url}` is not an absolute URL: it must start with http:// or https://"))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(format!("`{url}` uses the scheme `{scheme}`; only http and https are supported"));
        }
        let rest = rest.split('#').next().unwrap_or_default();
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, rest) = rest.split_at(end);
        if authority.is_empty() || authority.ends_with('@') || authority.starts_with(':') {
            return Err(format!("`{url}` has no host"));
        }
        let (path, query) = match rest.split_once('?') {
            Some((path, query)) => (path, Some(query.to_string())),
            None => (rest, None),
        };
        let path = if path.is_empty() { "/".to_string() } else { path.to_string() };
        Ok(Parts { scheme, authority: authority.to_string(), path, query })
    }

    /// `scheme://authority`, lower case, with the default port left out: what decides whether a redirect
    /// stays on the same origin.
    pub fn origin(&self) -> String {
        let authority = self.authority.rsplit('@').next().unwrap_or_default().to_ascii_lowercase();
        let default_port = if self.scheme == "https" { ":443" } else { ":80" };
        let host = authority.strip_suffix(default_port).unwrap_or(&authority);
        format!("{}://{host}", self.scheme)
    }
}

impl std::fmt::Display for Parts {
    /// Writes the URL back, percent-encoding characters that may not appear in a URL (spaces,
    /// non-ASCII, quotes, …) in the path and query; existing `%XX` escapes are kept.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}{}", self.scheme, self.authority, escape_unsafe(&self.path))?;
        if let Some(query) = &self.query {
            write!(f, "?{}", escape_unsafe(query))?;
        }
        Ok(())
    }
}

/// Appends `name=value` pairs to the URL's query, each percent-encoded.
pub fn append_query(parts: &mut Parts, pairs: &[(String, String)]) {
    if pairs.is_empty() {
        return;
    }
    let encoded = pairs
        .iter()
        .map(|(name, value)| format!("{}={}", encode_component(name, false), encode_component(value, false)))
        .collect::<Vec<_>>()
        .join("&");
    parts.query = Some(match parts.query.take() {
        None => encoded,
        Some(existing) if existing.is_empty() || existing.ends_with('&') => existing + &encoded,
        Some(existing) => existing + "&" + &encoded,
    });
}

/// Percent-encodes everything but RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`). With
/// `space_as_plus`, a space becomes `+` (`application/x-www-form-urlencoded`).
pub fn encode_component(text: &str, space_as_plus: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(char::from(byte)),
            b' ' if space_as_plus => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// Percent-encodes the bytes that may not appear anywhere in a URL, leaving reserved characters and
/// `%` alone so that an already-encoded URL is unchanged.
fn escape_unsafe(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        let allowed = byte.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=%".contains(&byte);
        if allowed {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Resolves a `location` header against the URL that sent it: absolute URLs, `//host/…`, `/path`,
/// `?query` and relative paths (`../x`) are all handled; the fragment is dropped.
pub fn resolve(base: &Parts, reference: &str) -> Result<Parts, String> {
    let reference = reference.trim();
    let reference = reference.split('#').next().unwrap_or_default();
    if has_scheme(reference) {
        let mut parts = Parts::parse(reference)?;
        parts.path = remove_dot_segments(&parts.path);
        return Ok(parts);
    }
    if let Some(rest) = reference.strip_prefix("//") {
        let mut parts = Parts::parse(&format!("{}://{rest}", base.scheme))?;
        parts.path = remove_dot_segments(&parts.path);
        return Ok(parts);
    }
    let (path, query) = match reference.split_once('?') {
        Some((path, query)) => (path, Some(query.to_string())),
        None => (reference, None),
    };
    let (path, query) = if path.is_empty() {
        (base.path.clone(), query.or_else(|| base.query.clone()))
    } else if path.starts_with('/') {
        (remove_dot_segments(path), query)
    } else {
        let directory = &base.path[..base.path.rfind('/').map_or(0, |i| i + 1)];
        (remove_dot_segments(&format!("{directory}{path}")), query)
    };
    Ok(Parts { scheme: base.scheme.clone(), authority: base.authority.clone(), path, query })
}

/// Whether a reference starts with `scheme:` (RFC 3986: a letter, then letters, digits, `+ - .`).
fn has_scheme(reference: &str) -> bool {
    let Some((scheme, _)) = reference.split_once(':') else { return false };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// RFC 3986 §5.2.4: removes `.` and `..` segments from a path.
fn remove_dot_segments(path: &str) -> String {
    let mut output: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').collect();
    let last = segments.len().saturating_sub(1);
    for (index, segment) in segments.iter().enumerate() {
        match *segment {
            "." | ".." => {
                if *segment == ".." && output.len() > 1 {
                    output.pop();
                }
                if index == last {
                    output.push("");
                }
            }
            other => output.push(other),
        }
    }
    let joined = output.join("/");
    if joined.starts_with('/') { joined } else { format!("/{joined}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(url: &str) -> Parts {
        Parts::parse(url).expect("valid URL")
    }

    #[test]
    fn parses_absolute_urls() {
        let p = parts("HTTPS://api.example.com:8443/v1/users?x=1#top");
        assert_eq!(p.scheme, "https");
        assert_eq!(p.authority, "api.example.com:8443");
        assert_eq!(p.path, "/v1/users");
        assert_eq!(p.query.as_deref(), Some("x=1"));
        assert_eq!(parts("http://h").to_string(), "http://h/");
        assert_eq!(parts("http://h?a=b").to_string(), "http://h/?a=b");
    }

    #[test]
    fn refuses_what_is_not_an_http_url() {
        assert!(Parts::parse("/users").expect_err("relative").contains("http://"));
        assert!(Parts::parse("ftp://h/x").expect_err("scheme").contains("ftp"));
        assert!(Parts::parse("http:///x").expect_err("host").contains("no host"));
        assert!(Parts::parse("localhost:3000/x").is_err());
    }

    #[test]
    fn appends_encoded_query_parameters() {
        let mut p = parts("http://h/search");
        append_query(
            &mut p,
            &[("q".into(), "a b&c=d/é".into()), ("tag".into(), "x".into()), ("tag".into(), "y".into())],
        );
        assert_eq!(p.to_string(), "http://h/search?q=a%20b%26c%3Dd%2F%C3%A9&tag=x&tag=y");
        let mut p = parts("http://h/s?page=2");
        append_query(&mut p, &[("n".into(), "1".into())]);
        assert_eq!(p.to_string(), "http://h/s?page=2&n=1");
        let mut p = parts("http://h/s?");
        append_query(&mut p, &[("n".into(), "1".into())]);
        assert_eq!(p.to_string(), "http://h/s?n=1");
        let mut p = parts("http://h/s?a=1");
        append_query(&mut p, &[]);
        assert_eq!(p.to_string(), "http://h/s?a=1");
    }

    #[test]
    fn escapes_unsafe_characters_but_keeps_existing_escapes() {
        assert_eq!(parts("http://h/a b/ü?q=x y&r=%20").to_string(), "http://h/a%20b/%C3%BC?q=x%20y&r=%20");
    }

    #[test]
    fn form_encoding_uses_plus_for_spaces() {
        assert_eq!(encode_component("a b+c", true), "a+b%2Bc");
        assert_eq!(encode_component("a b", false), "a%20b");
        assert_eq!(encode_component("AZaz09-._~", false), "AZaz09-._~");
    }

    #[test]
    fn origins_ignore_default_ports_and_credentials() {
        assert_eq!(parts("http://H:80/x").origin(), parts("http://h/y").origin());
        assert_eq!(parts("https://u:p@h:443/").origin(), "https://h");
        assert_ne!(parts("http://h/").origin(), parts("https://h/").origin());
        assert_ne!(parts("http://h:8080/").origin(), parts("http://h/").origin());
    }

    #[test]
    fn resolves_redirect_locations() {
        let base = parts("http://h:8080/a/b/c?q=1");
        let cases = [
            ("https://other/x?y=2#f", "https://other/x?y=2"),
            ("//cdn.example/img", "http://cdn.example/img"),
            ("/login?next=%2F", "http://h:8080/login?next=%2F"),
            ("d", "http://h:8080/a/b/d"),
            ("./d/", "http://h:8080/a/b/d/"),
            ("../d", "http://h:8080/a/d"),
            ("../../../../d", "http://h:8080/d"),
            ("?page=2", "http://h:8080/a/b/c?page=2"),
            ("", "http://h:8080/a/b/c?q=1"),
            ("#frag", "http://h:8080/a/b/c?q=1"),
            ("/a/./b/../c", "http://h:8080/a/c"),
            ("..", "http://h:8080/a/"),
        ];
        for (location, expected) in cases {
            assert_eq!(resolve(&base, location).map(|p| p.to_string()), Ok(expected.to_string()), "{location}");
        }
        assert!(resolve(&base, "ftp://h/file").is_err());
    }
}
