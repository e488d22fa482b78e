//! What the server reads from a browser's request and sets in it: cookies, and the host
//! and origin it was addressed to. Shared by the server's guards and the setup flow.

use axum::http::{HeaderMap, HeaderValue, header};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// The server's URL from the machine itself: an unspecified listen address (`0.0.0.0`)
/// is reached on loopback.
pub fn local_url(listen: SocketAddr) -> String {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, listen.port()))
}

/// The value of the cookie `name`, from any of the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

/// How a cookie is sent back: `Strict` for what proves who the browser is (never sent
/// with a request another site started); `Lax` for what must come back with GitHub's
/// redirect (a top-level navigation from github.com).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    Strict,
    Lax,
}

/// A `Set-Cookie` value: HttpOnly (no script reads it), limited to `path`, for `max_age`
/// (zero removes it); `Secure` when the browser came over HTTPS.
pub fn set_cookie(
    name: &str,
    value: &str,
    path: &str,
    same_site: SameSite,
    max_age: Duration,
    secure: bool,
) -> Option<HeaderValue> {
    let same_site = match same_site {
        SameSite::Strict => "Strict",
        SameSite::Lax => "Lax",
    };
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path={path}; Max-Age={}; HttpOnly; SameSite={same_site}{secure}",
        max_age.as_secs()
    ))
    .ok()
}

/// The request's `Host` header, as sent.
pub fn host_header(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|value| !value.is_empty())
}

/// The host part of an authority (`host[:port]`, `[v6]:port`), lowercased, without a
/// trailing dot; `None` when it is not one.
pub fn host_of(authority: &str) -> Option<String> {
    let authority = authority.trim();
    let host = if let Some(rest) = authority.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.starts_with(':')) {
            return None;
        }
        inside
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) if port.bytes().all(|byte| byte.is_ascii_digit()) => host,
            Some(_) => return None,
            None => authority,
        }
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let valid = !host.is_empty()
        && host
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-' | b'_' | b':'));
    valid.then_some(host)
}

/// The `scheme://authority` of a URL (an `Origin` or a `Referer`), if it is a web one.
pub fn origin_of(url: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = url.trim().split_once("://")?;
    if !(scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")) {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    (!authority.is_empty() && !authority.contains('@')).then_some((scheme, authority))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("a=1; b = 2"));
        headers.append(header::COOKIE, HeaderValue::from_static("c=3;d="));
        assert_eq!(cookie(&headers, "a"), Some("1"));
        assert_eq!(cookie(&headers, "b"), None, "a name with spaces is not `b`");
        assert_eq!(cookie(&headers, "c"), Some("3"));
        assert_eq!(cookie(&headers, "d"), None);
        assert_eq!(cookie(&headers, "e"), None);
    }

    #[test]
    fn hosts_are_read_from_authorities() {
        assert_eq!(host_of("127.0.0.1:3000").as_deref(), Some("127.0.0.1"));
        assert_eq!(host_of("LocalHost").as_deref(), Some("localhost"));
        assert_eq!(host_of("[::1]:8080").as_deref(), Some("::1"));
        assert_eq!(host_of("a.example.").as_deref(), Some("a.example"));
        assert_eq!(host_of("a.example:x"), None);
        assert_eq!(host_of("[::1]x"), None);
        assert_eq!(host_of("a b"), None);
        assert_eq!(host_of(""), None);
    }

    #[test]
    fn origins_are_web_urls_without_credentials() {
        assert_eq!(
            origin_of("https://a.example:8443/setup?x"),
            Some(("https", "a.example:8443"))
        );
        assert_eq!(origin_of("http://[::1]:3000"), Some(("http", "[::1]:3000")));
        assert_eq!(origin_of("null"), None);
        assert_eq!(origin_of("file:///etc"), None);
        assert_eq!(origin_of("https://me@evil.example/"), None);
    }

    #[test]
    fn cookies_are_http_only_and_same_site() {
        let value = set_cookie(
            "s",
            "v",
            "/",
            SameSite::Strict,
            Duration::from_secs(60),
            true,
        )
        .unwrap();
        assert_eq!(
            value,
            "s=v; Path=/; Max-Age=60; HttpOnly; SameSite=Strict; Secure"
        );
    }
}
