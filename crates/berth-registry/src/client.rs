//! HTTP plumbing: one session per (endpoint, repository) with the auth dance
//! (anonymous → `WWW-Authenticate` challenge → basic or bearer token) and retries with
//! exponential backoff on transient failures.

use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::sync::Mutex;
use std::time::Duration;

use ureq::http::Response;
use ureq::{Agent, Body};

use crate::auth::{self, Challenge, Credentials};
use crate::config::RegistryConfig;
use crate::error::{Error, Result};

const ATTEMPTS: u32 = 4;
const BACKOFF: Duration = Duration::from_millis(200);

/// The registry client. Cheap to share between threads.
pub struct Client {
    pub(crate) cfg: RegistryConfig,
    pub(crate) agent: Agent,
    pub(crate) chunk_size: u64,
}

impl Client {
    pub fn new(cfg: RegistryConfig) -> Client {
        let config = Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(15)))
            .user_agent("berth")
            .build();
        Client {
            cfg,
            agent: Agent::new_with_config(config),
            chunk_size: crate::push::CHUNK,
        }
    }

    /// Upload blobs larger than `bytes` in chunks of that size (default [`crate::CHUNK`]).
    pub fn with_chunk_size(mut self, bytes: u64) -> Client {
        self.chunk_size = bytes.max(1);
        self
    }

    /// Client with the config from `BERTH_CONFIG` or /etc/berth/berth.toml.
    pub fn from_default_config() -> Result<Client> {
        Ok(Client::new(RegistryConfig::load_default()?))
    }

    pub fn config(&self) -> &RegistryConfig {
        &self.cfg
    }
}

/// What a request carries.
pub(crate) enum Payload<'a> {
    Empty,
    Bytes(&'a [u8]),
    File(&'a File),
}

/// A session against one endpoint (registry or mirror) for one repository.
pub(crate) struct Session<'c> {
    client: &'c Client,
    pub(crate) registry: String,
    pub(crate) repo: String,
    pub(crate) base: String,
    actions: &'static str,
    creds: Option<Credentials>,
    auth_header: Mutex<Option<String>>,
}

impl<'c> Session<'c> {
    pub(crate) fn new(
        client: &'c Client,
        registry: &str,
        repo: &str,
        base: &str,
        actions: &'static str,
    ) -> Result<Self> {
        if !client.cfg.http_allowed(registry, base) {
            return Err(Error::InsecureRefused(base.to_owned()));
        }
        Ok(Session {
            client,
            registry: registry.to_owned(),
            repo: repo.to_owned(),
            base: base.trim_end_matches('/').to_owned(),
            actions,
            creds: auth::lookup(registry),
            auth_header: Mutex::new(None),
        })
    }

    pub(crate) fn chunk_size(&self) -> u64 {
        self.client.chunk_size
    }

    pub(crate) fn url(&self, rest: &str) -> String {
        format!("{}/v2/{}/{rest}", self.base, self.repo)
    }

    /// Resolve a Location header (absolute or path-only) against the endpoint.
    pub(crate) fn absolute(&self, loc: &str) -> String {
        if loc.starts_with("http://") || loc.starts_with("https://") {
            loc.to_owned()
        } else {
            format!(
                "{}{}",
                self.base,
                if loc.starts_with('/') {
                    loc.to_owned()
                } else {
                    format!("/{loc}")
                }
            )
        }
    }

    fn current_auth(&self) -> Option<String> {
        self.auth_header.lock().ok().and_then(|g| g.clone())
    }

    /// Send a request, answering one auth challenge and retrying transient failures.
    pub(crate) fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        payload: Payload<'_>,
    ) -> Result<Response<Body>> {
        let mut challenged = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            if let Payload::File(mut f) = payload {
                f.seek(SeekFrom::Start(0))
                    .map_err(|e| self.unavailable(e.to_string()))?;
            }
            let res = self.once(method, url, headers, &payload, self.current_auth());
            match res {
                Ok(resp) if resp.status().as_u16() == 401 && !challenged => {
                    challenged = true;
                    let h = resp
                        .headers()
                        .get("www-authenticate")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    let header = self.authenticate(h.as_deref())?;
                    if let Ok(mut g) = self.auth_header.lock() {
                        *g = Some(header);
                    }
                    attempt -= 1;
                }
                Ok(resp) if resp.status().as_u16() == 401 => {
                    return Err(Error::Unauthorized(format!(
                        "{}/{}",
                        self.registry, self.repo
                    )));
                }
                Ok(resp)
                    if (resp.status().as_u16() == 429 || resp.status().as_u16() >= 500)
                        && attempt < ATTEMPTS =>
                {
                    tracing::debug!("{method} {url}: {}, retrying", resp.status());
                    std::thread::sleep(BACKOFF * 2u32.pow(attempt - 1));
                }
                Ok(resp) => return Ok(resp),
                Err(e) if attempt < ATTEMPTS && transient(&e) => {
                    tracing::debug!("{method} {url}: {e}, retrying");
                    std::thread::sleep(BACKOFF * 2u32.pow(attempt - 1));
                }
                Err(e) => return Err(self.unavailable(e.to_string())),
            }
        }
    }

    fn once(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        payload: &Payload<'_>,
        auth: Option<String>,
    ) -> std::result::Result<Response<Body>, ureq::Error> {
        let a = &self.client.agent;
        macro_rules! with_headers {
            ($req:expr) => {{
                let mut r = $req;
                for (k, v) in headers {
                    r = r.header(*k, *v);
                }
                if let Some(h) = &auth {
                    r = r.header("Authorization", h.as_str());
                }
                r
            }};
        }
        match method {
            "GET" => with_headers!(a.get(url)).call(),
            "HEAD" => with_headers!(a.head(url)).call(),
            "DELETE" => with_headers!(a.delete(url)).call(),
            m => {
                let r = match m {
                    "PUT" => with_headers!(a.put(url)),
                    "PATCH" => with_headers!(a.patch(url)),
                    _ => with_headers!(a.post(url)),
                };
                match payload {
                    Payload::Empty => r.send_empty(),
                    Payload::Bytes(b) => r.send(*b),
                    Payload::File(f) => r.send(*f),
                }
            }
        }
    }

    /// Answer a challenge: basic credentials, or a bearer token from the realm.
    fn authenticate(&self, header: Option<&str>) -> Result<String> {
        let unauthorized = || Error::Unauthorized(format!("{}/{}", self.registry, self.repo));
        match header.and_then(auth::parse_challenge) {
            Some(Challenge::Basic) => self
                .creds
                .as_ref()
                .map(auth::basic_header)
                .ok_or_else(unauthorized),
            Some(Challenge::Bearer {
                realm,
                service,
                scope,
            }) => {
                let scope =
                    scope.unwrap_or_else(|| format!("repository:{}:{}", self.repo, self.actions));
                let mut req = self.client.agent.get(&realm).query("scope", &scope);
                if let Some(s) = &service {
                    req = req.query("service", s);
                }
                if let Some(c) = &self.creds {
                    req = req.header("Authorization", auth::basic_header(c));
                }
                let mut resp = req
                    .call()
                    .map_err(|e| self.unavailable(format!("token from {realm}: {e}")))?;
                if resp.status().as_u16() != 200 {
                    return Err(unauthorized());
                }
                #[derive(serde::Deserialize)]
                struct Token {
                    token: Option<String>,
                    access_token: Option<String>,
                }
                let body = resp
                    .body_mut()
                    .with_config()
                    .limit(1 << 20)
                    .read_to_vec()
                    .map_err(|e| self.unavailable(e.to_string()))?;
                let t: Token = serde_json::from_slice(&body).map_err(|e| Error::Protocol {
                    registry: self.registry.clone(),
                    reason: format!("token response: {e}"),
                })?;
                let tok = t.token.or(t.access_token).ok_or_else(unauthorized)?;
                Ok(format!("Bearer {tok}"))
            }
            None => Err(unauthorized()),
        }
    }

    pub(crate) fn unavailable(&self, reason: String) -> Error {
        Error::Unavailable {
            registry: self.base.clone(),
            reason,
        }
    }

    /// An error for an unexpected status, with the start of the body.
    pub(crate) fn status_error(&self, what: &str, mut resp: Response<Body>) -> Error {
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(4096)
            .read_to_string()
            .unwrap_or_default();
        Error::Status {
            registry: self.base.clone(),
            what: what.to_owned(),
            status,
            body: body.chars().take(300).collect(),
        }
    }
}

fn transient(e: &ureq::Error) -> bool {
    matches!(
        e,
        ureq::Error::Io(_)
            | ureq::Error::Timeout(_)
            | ureq::Error::ConnectionFailed
            | ureq::Error::HostNotFound
    )
}

impl Client {
    /// GET /v2/ with stored credentials; Ok when the registry accepts them (or needs none).
    pub fn check_login(&self, registry: &str) -> Result<()> {
        let base = self
            .cfg
            .endpoints(registry)
            .last()
            .cloned()
            .unwrap_or_default();
        let s = Session::new(self, registry, "", &base, "pull")?;
        let url = format!("{}/v2/", s.base);
        let resp = s.send("GET", &url, &[], Payload::Empty)?;
        match resp.status().as_u16() {
            200 => Ok(()),
            _ => Err(s.status_error("login", resp)),
        }
    }
}
