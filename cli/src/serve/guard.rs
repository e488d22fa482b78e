//! Who may use the server's pages. Every page and the setup answer only to a known `Host`
//! (the public URL's host, loopback names, the address listened on), which stops a web
//! page from reaching the server through a name it controls (DNS rebinding). The pages —
//! the status page, the setup — are the operator's: they need the session cookie that
//! `/signin?token=…` sets, or the token as `Authorization: Bearer`; a form posted with the
//! cookie must come from a known origin. `/webhook` (signed by GitHub), `/healthz`, and
//! routes with their own credential stay outside: the guard is a layer on the routes it
//! protects.

use super::operator_token::OperatorToken;
use crate::browser::{self, SameSite};
use crate::pages;
use axum::Router;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use secrecy::ExposeSecret;
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// The operator's session cookie.
pub const SESSION_COOKIE: &str = "ota_operator";

/// A signed-in browser stays signed in this long, or until the token changes.
const SESSION_MAX_AGE: Duration = Duration::from_secs(30 * 24 * 3600);

/// What the guard checks against.
pub struct Gate {
    pub token: OperatorToken,
    pub hosts: KnownHosts,
}

/// The names this server answers to.
#[derive(Debug, Clone)]
pub struct KnownHosts {
    listen: IpAddr,
    /// The public URL's host, and whether it is HTTPS.
    public: Option<(String, bool)>,
}

impl KnownHosts {
    pub fn new(listen: SocketAddr, public_url: Option<&str>) -> Self {
        let public = public_url.and_then(|url| {
            let (scheme, authority) = browser::origin_of(url)?;
            Some((
                browser::host_of(authority)?,
                scheme.eq_ignore_ascii_case("https"),
            ))
        });
        Self {
            listen: listen.ip(),
            public,
        }
    }

    /// Whether `host` (without port) names this server: `localhost`, a loopback address,
    /// the address listened on (any address, when listening on all of them: a rebinding
    /// page cannot make a browser send an address as its Host), or the public URL's host.
    pub fn allows(&self, host: &str) -> bool {
        if host == "localhost" || self.public.as_ref().is_some_and(|(name, _)| name == host) {
            return true;
        }
        match host.parse::<IpAddr>() {
            Ok(ip) => ip.is_loopback() || ip == self.listen || self.listen.is_unspecified(),
            Err(_) => false,
        }
    }

    /// Whether a browser that reached the server as `host` did so over HTTPS (as far as
    /// this server can know: the public URL's host, when that URL is HTTPS).
    fn is_https(&self, host: &str) -> bool {
        self.public
            .as_ref()
            .is_some_and(|(name, https)| *https && name == host)
    }

    /// The refusal, logged, of a request addressed to a host this server is not.
    fn refusal(&self, request: &Request) -> Option<Response> {
        let sent = browser::host_header(request.headers());
        match sent.and_then(browser::host_of) {
            Some(host) if self.allows(&host) => None,
            _ => {
                tracing::warn!(
                    path = %request.uri().path(),
                    host = sent.unwrap_or("(none)"),
                    peer = %peer(request),
                    "refused a request addressed to a host this server is not known as"
                );
                Some(page(
                    StatusCode::MISDIRECTED_REQUEST,
                    "Unknown host",
                    &format!(
                        "This server answers to its public URL's host and to loopback names, \
                         not to “{}”. Open it at its own address, or start it with \
                         --public-url set to the URL it is reached at.",
                        sent.unwrap_or("")
                    ),
                ))
            }
        }
    }
}

/// Pages any browser may open, on a known host: the sign-in, the setup's callback.
pub async fn known_host_only(
    State(gate): State<Arc<Gate>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(refusal) = gate.hosts.refusal(&request) {
        return refusal;
    }
    hardened(next.run(request).await)
}

/// Whether the request carries the operator's token (bearer) or session cookie.
pub fn is_operator(gate: &Gate, headers: &HeaderMap) -> bool {
    bearer(headers).is_some_and(|token| gate.token.matches(token))
        || browser::cookie(headers, SESSION_COOKIE)
            .is_some_and(|session| gate.token.matches_session(session))
}

/// The operator's pages: a known host, the operator signed in, and a form posted with the
/// session cookie from a page of this server.
pub async fn operator_only(
    State(gate): State<Arc<Gate>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(refusal) = gate.hosts.refusal(&request) {
        return refusal;
    }
    let headers = request.headers();
    let by_bearer = bearer(headers).is_some_and(|token| gate.token.matches(token));
    let by_cookie = !by_bearer
        && browser::cookie(headers, SESSION_COOKIE)
            .is_some_and(|session| gate.token.matches_session(session));
    if !(by_bearer || by_cookie) {
        tracing::info!(path = %request.uri().path(), peer = %peer(&request), "a page was asked for without signing in");
        return hardened(sign_in_required(bearer(headers).is_some()));
    }
    // A browser sends the cookie with a form another site makes it post; it also says
    // which site that is. A script with the bearer token is not a browser.
    let changes_state = !matches!(*request.method(), Method::GET | Method::HEAD);
    if by_cookie && changes_state {
        let origin = headers
            .get(header::ORIGIN)
            .or_else(|| headers.get(header::REFERER))
            .and_then(|value| value.to_str().ok());
        let known = origin
            .and_then(browser::origin_of)
            .and_then(|(_, authority)| browser::host_of(authority))
            .is_some_and(|host| gate.hosts.allows(&host));
        if !known {
            tracing::warn!(
                path = %request.uri().path(),
                origin = origin.unwrap_or("(none)"),
                peer = %peer(&request),
                "refused a form not posted from this server's own page"
            );
            return hardened(page(
                StatusCode::FORBIDDEN,
                "Refused",
                "This form was not sent from this server's own page (its Origin is another \
                 site's, or missing). Open the server's page and send the form from there.",
            ));
        }
    }
    hardened(next.run(request).await)
}

/// `GET /signin`: with the operator's token, sets the session cookie and goes to the status
/// page; without, shows where the token is.
pub fn routes(gate: Arc<Gate>) -> Router {
    Router::new()
        .route("/signin", get(sign_in))
        .with_state(gate)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SignInQuery {
    token: String,
}

async fn sign_in(State(gate): State<Arc<Gate>>, request: Request) -> Response {
    let token = Query::<SignInQuery>::try_from_uri(request.uri())
        .map(|Query(query)| query.token)
        .unwrap_or_default();
    let peer = peer(&request);
    if token.is_empty() {
        return sign_in_required(false);
    }
    if !gate.token.matches(token.trim()) {
        tracing::warn!(%peer, "sign-in with a wrong operator token");
        return sign_in_required(true);
    }
    let secure = browser::host_header(request.headers())
        .and_then(browser::host_of)
        .is_some_and(|host| gate.hosts.is_https(&host));
    let cookie = browser::set_cookie(
        SESSION_COOKIE,
        gate.token.session().expose_secret(),
        "/",
        SameSite::Strict,
        SESSION_MAX_AGE,
        secure,
    );
    tracing::info!(%peer, "the operator signed in");
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, "/")]).into_response();
    if let Some(cookie) = cookie {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

/// 403 and the page that says where the token is. The sign-in link carries the token
/// in its query: that page is never cached nor sent on as a referrer.
pub(super) fn sign_in_required(wrong_token: bool) -> Response {
    let mut response = (
        StatusCode::FORBIDDEN,
        Html(pages::sign_in_page(wrong_token)),
    )
        .into_response();
    response.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// Pages are not framed by other sites nor cached ([`ota_web::hardened`]).
pub(super) fn hardened(response: Response) -> Response {
    ota_web::hardened(response)
}

fn page(status: StatusCode, title: &str, text: &str) -> Response {
    (status, Html(pages::message_page(title, text))).into_response()
}

pub(super) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The client's address, for the logs (a tunnel's requests come from loopback: it proves
/// nothing, and the guard never trusts it).
fn peer(request: &Request) -> String {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(
            || "unknown".to_owned(),
            |ConnectInfo(addr)| addr.to_string(),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_hosts_are_loopback_the_listen_address_and_the_public_host() {
        let local = KnownHosts::new(
            "127.0.0.1:3000".parse().unwrap(),
            Some("https://Ota.Example.test/"),
        );
        for host in [
            "localhost",
            "127.0.0.1",
            "127.0.0.2",
            "::1",
            "ota.example.test",
        ] {
            assert!(local.allows(host), "{host}");
        }
        for host in ["evil.example", "192.168.1.5", "localhost.evil.example", ""] {
            assert!(!local.allows(host), "{host}");
        }
        assert!(local.is_https("ota.example.test"));
        assert!(!local.is_https("localhost"));

        let lan = KnownHosts::new("0.0.0.0:3000".parse().unwrap(), None);
        assert!(lan.allows("192.168.1.5"));
        assert!(!lan.allows("rebound.evil.example"));
        let one = KnownHosts::new("192.168.1.5:3000".parse().unwrap(), None);
        assert!(one.allows("192.168.1.5"));
        assert!(!one.allows("192.168.1.6"));
    }

    #[test]
    fn bearer_tokens_are_read_from_the_authorization_header() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer(&headers), None);
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc "),
        );
        assert_eq!(bearer(&headers), Some("abc"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&headers), None);
    }
}
