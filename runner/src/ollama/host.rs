//! Where Ollama is and how to authenticate: `OLLAMA_HOST` read the way Ollama's own CLI
//! reads it, and `OLLAMA_API_KEY` for Ollama's hosted service.

use std::fmt;

use reqwest::Url;
use secrecy::SecretString;

/// Ollama's own default: the server on this machine.
pub const DEFAULT_HOST: &str = "http://127.0.0.1:11434";

/// The port Ollama listens on, used when `OLLAMA_HOST` names a host without a scheme or
/// port (`gpu-box`), as the Ollama CLI does.
const DEFAULT_PORT: u16 = 11434;

/// `OLLAMA_HOST` could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "OLLAMA_HOST is not a usable address ({reason}); use a form such as `http://127.0.0.1:11434`, `gpu-box:11434` or `https://ollama.com`"
)]
pub struct HostError {
    reason: String,
}

/// The base URL of an Ollama server. `Display` leaves out any user info.
#[derive(Clone, PartialEq, Eq)]
pub struct OllamaHost {
    url: Url,
}

impl OllamaHost {
    /// Parses `OLLAMA_HOST`. Like the Ollama CLI: no scheme means `http` and port 11434; an
    /// explicit `http://` or `https://` without a port means 80 or 443; `:port` alone means
    /// this machine; a path is kept (for a server behind a reverse proxy). Empty means
    /// [`DEFAULT_HOST`].
    pub fn parse(raw: &str) -> Result<Self, HostError> {
        let raw = raw.trim().trim_matches(|c| c == '"' || c == '\'').trim();
        if raw.is_empty() {
            return Self::parse(DEFAULT_HOST);
        }
        let (scheme, rest, default_port) = match raw.split_once("://") {
            None => ("http", raw, DEFAULT_PORT),
            Some((scheme, rest)) => match scheme.to_ascii_lowercase().as_str() {
                "http" => ("http", rest, 80),
                "https" => ("https", rest, 443),
                _ => {
                    return Err(HostError {
                        reason: format!("the scheme `{scheme}` is neither http nor https"),
                    });
                }
            },
        };
        let (authority, path) = match rest.find('/') {
            Some(at) => rest.split_at(at),
            None => (rest, ""),
        };
        let (user_info, host_port) = match authority.rsplit_once('@') {
            Some((user, host_port)) => (format!("{user}@"), host_port),
            None => (String::new(), authority),
        };
        let host_port = if host_port.starts_with(':') {
            format!("127.0.0.1{host_port}")
        } else {
            host_port.to_owned()
        };
        let has_port = !host_port.ends_with(']')
            && host_port.rsplit_once(':').is_some_and(|(_, port)| {
                !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())
            });
        let authority = if has_port {
            format!("{user_info}{host_port}")
        } else {
            format!("{user_info}{host_port}:{default_port}")
        };
        let path = path.trim_end_matches('/');
        let url =
            Url::parse(&format!("{scheme}://{authority}{path}/")).map_err(|err| HostError {
                reason: err.to_string(),
            })?;
        if url.host_str().is_none_or(str::is_empty) {
            return Err(HostError {
                reason: "it names no host".to_owned(),
            });
        }
        Ok(Self { url })
    }

    /// The URL of an API path such as `api/chat`.
    pub fn endpoint(&self, path: &str) -> Url {
        let mut url = self.url.clone();
        let joined = format!("{}{}", url.path(), path.trim_start_matches('/'));
        url.set_path(&joined);
        url
    }

    /// Whether this is Ollama's hosted service, where an API key is required.
    pub fn is_hosted(&self) -> bool {
        self.url
            .host_str()
            .is_some_and(|h| h == "ollama.com" || h.ends_with(".ollama.com"))
    }
}

impl fmt::Display for OllamaHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = self.url.clone();
        let _ = shown.set_username("");
        let _ = shown.set_password(None);
        f.write_str(shown.as_str().trim_end_matches('/'))
    }
}

impl fmt::Debug for OllamaHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OllamaHost({self})")
    }
}

/// The connection settings read from the environment.
#[derive(Debug, Clone)]
pub struct OllamaEnv {
    pub host: OllamaHost,
    /// The API key, sent as `Authorization: Bearer`; prints as `[REDACTED]`.
    pub api_key: Option<SecretString>,
}

impl OllamaEnv {
    /// Reads `OLLAMA_HOST` and `OLLAMA_API_KEY` through `var` (the process environment in
    /// production, a map in tests). An empty key counts as none.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, HostError> {
        let host = OllamaHost::parse(&var("OLLAMA_HOST").unwrap_or_default())?;
        let api_key = var("OLLAMA_API_KEY")
            .map(|key| key.trim().to_owned())
            .filter(|key| !key.is_empty())
            .map(SecretString::from);
        Ok(Self { host, api_key })
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Self, HostError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn host(raw: &str) -> String {
        OllamaHost::parse(raw).unwrap().to_string()
    }

    #[test]
    fn reads_ollama_host_like_the_cli() {
        assert_eq!(host(""), "http://127.0.0.1:11434");
        assert_eq!(host("gpu-box"), "http://gpu-box:11434");
        assert_eq!(host("gpu-box:8080"), "http://gpu-box:8080");
        assert_eq!(host(":9999"), "http://127.0.0.1:9999");
        assert_eq!(host("0.0.0.0"), "http://0.0.0.0:11434");
        assert_eq!(host("http://gpu-box"), "http://gpu-box");
        assert_eq!(host("https://ollama.com"), "https://ollama.com");
        assert_eq!(
            host("\"https://proxy.internal/ollama/\""),
            "https://proxy.internal/ollama"
        );
        assert_eq!(host("[::1]"), "http://[::1]:11434");
        assert_eq!(host("[::1]:8000"), "http://[::1]:8000");
        assert!(OllamaHost::parse("ftp://x").is_err());
        assert!(OllamaHost::parse("http://").is_err());
    }

    #[test]
    fn endpoints_keep_the_base_path() {
        let proxied = OllamaHost::parse("https://proxy.internal/ollama").unwrap();
        assert_eq!(
            proxied.endpoint("api/chat").as_str(),
            "https://proxy.internal/ollama/api/chat"
        );
        let local = OllamaHost::parse("localhost:11434").unwrap();
        assert_eq!(
            local.endpoint("/api/chat").as_str(),
            "http://localhost:11434/api/chat"
        );
        assert!(OllamaHost::parse("https://ollama.com").unwrap().is_hosted());
        assert!(!local.is_hosted());
    }

    #[test]
    fn user_info_is_never_displayed() {
        let with_password = OllamaHost::parse("https://user:hunter2@proxy.internal").unwrap();
        assert_eq!(with_password.to_string(), "https://proxy.internal");
        assert!(!format!("{with_password:?}").contains("hunter2"));
        assert!(
            with_password
                .endpoint("api/chat")
                .as_str()
                .contains("hunter2")
        );
    }

    #[test]
    fn reads_the_key_as_a_secret() {
        let env = OllamaEnv::from_vars(|name| match name {
            "OLLAMA_HOST" => Some("https://ollama.com".into()),
            "OLLAMA_API_KEY" => Some(" sk-very-secret \n".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(
            env.api_key.as_ref().map(|k| k.expose_secret().to_owned()),
            Some("sk-very-secret".to_owned())
        );
        assert!(!format!("{env:?}").contains("sk-very-secret"));
        let none =
            OllamaEnv::from_vars(|name| (name == "OLLAMA_API_KEY").then(String::new)).unwrap();
        assert!(none.api_key.is_none());
        assert_eq!(none.host.to_string(), DEFAULT_HOST);
    }
}
