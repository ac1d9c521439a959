//! Following redirects: which responses are redirects, and what the next request looks like (method
//! rewriting for 303 and for 301/302 after a POST, relative `location`s, credentials kept on the same
//! origin only).

use crate::request::Prepared;
use crate::url;

/// Whether `status` is a redirect this plugin follows.
pub fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// The request to send after `current` was answered with redirect `status` to `location`.
///
/// 303 turns any method but HEAD into GET, and so do 301 and 302 after a POST (what browsers and curl
/// do); the body and its headers go with it. 307 and 308 repeat the request as it was. Credentials
/// (`authorization`, `cookie`) are not sent to another origin.
pub fn next_request(current: &Prepared, status: u16, location: &str) -> Result<Prepared, String> {
    let target = url::resolve(&current.url, location).map_err(|e| {
        format!("{} {} redirected ({status}) to an unusable location: {e}", current.method, current.url)
    })?;
    let switch_to_get = match status {
        303 => current.method != "HEAD",
        301 | 302 => current.method == "POST",
        _ => false,
    };
    let same_origin = target.origin() == current.url.origin();
    let mut next = current.clone();
    next.url = target;
    if switch_to_get {
        next.method = "GET".to_string();
        next.body.clear();
        next.headers.retain(|(name, _)| !is_body_header(name));
    }
    if !same_origin {
        next.headers.retain(|(name, _)| !is_credential_header(name));
    }
    Ok(next)
}

/// Headers that describe the request body.
fn is_body_header(name: &str) -> bool {
    ["content-type", "content-length", "content-encoding", "transfer-encoding"]
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h))
}

/// Headers that carry credentials.
fn is_credential_header(name: &str) -> bool {
    ["authorization", "cookie", "proxy-authorization"].iter().any(|h| name.eq_ignore_ascii_case(h))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::url::Parts;

    fn post() -> Prepared {
        Prepared {
            method: "POST".into(),
            url: Parts::parse("http://h/a/b").expect("valid"),
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                ("authorization".into(), "Bearer t".into()),
                ("x-trace".into(), "1".into()),
            ],
            body: b"{}".to_vec(),
        }
    }

    #[test]
    fn redirect_statuses() {
        for status in [301, 302, 303, 307, 308] {
            assert!(is_redirect(status));
        }
        for status in [200, 300, 304, 305, 306, 400] {
            assert!(!is_redirect(status));
        }
    }

    #[test]
    fn see_other_switches_to_get_without_body() {
        let next = next_request(&post(), 303, "/done").expect("valid");
        assert_eq!(next.method, "GET");
        assert!(next.body.is_empty());
        assert_eq!(next.header("content-type"), None);
        assert_eq!(next.header("authorization"), Some("Bearer t"));
        assert_eq!(next.header("x-trace"), Some("1"));
        assert_eq!(next.url.to_string(), "http://h/done");
    }

    #[test]
    fn moved_and_found_switch_a_post_only() {
        for status in [301, 302] {
            let next = next_request(&post(), status, "c").expect("valid");
            assert_eq!((next.method.as_str(), next.body.is_empty()), ("GET", true));
            assert_eq!(next.url.to_string(), "http://h/a/c");
            let mut put = post();
            put.method = "PUT".into();
            let next = next_request(&put, status, "c").expect("valid");
            assert_eq!((next.method.as_str(), next.body.as_slice()), ("PUT", b"{}".as_slice()));
        }
        let mut head = post();
        head.method = "HEAD".into();
        assert_eq!(next_request(&head, 303, "/x").expect("valid").method, "HEAD");
    }

    #[test]
    fn temporary_and_permanent_keep_method_and_body() {
        for status in [307, 308] {
            let next = next_request(&post(), status, "http://h:80/new").expect("valid");
            assert_eq!(next.method, "POST");
            assert_eq!(next.body, b"{}");
            assert_eq!(next.header("content-type"), Some("application/json"));
            assert_eq!(next.header("authorization"), Some("Bearer t"), "same origin keeps credentials");
        }
    }

    #[test]
    fn credentials_stay_on_their_origin() {
        let next = next_request(&post(), 307, "https://other.example/x").expect("valid");
        assert_eq!(next.header("authorization"), None);
        assert_eq!(next.header("x-trace"), Some("1"));
    }

    #[test]
    fn unusable_locations_are_errors() {
        let err = next_request(&post(), 302, "mailto:someone@example.com").expect_err("scheme");
        assert!(err.contains("POST http://h/a/b redirected (302)"), "{err}");
    }
}
