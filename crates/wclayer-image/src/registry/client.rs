//! A small client of the distribution API (`/v2/`) over `ureq`: the scheme chosen once
//! (HTTPS; plain HTTP only for a loopback registry or with `insecure`), authentication on
//! the first 401 (bearer tokens from the challenge's realm, or basic), retries with backoff
//! on 429, 5xx and connection errors, redirects followed by hand so that credentials never
//! leave the registry's host, and blob downloads resumed with `Range` after an interruption.

use std::io::{self, Read};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use ureq::http::{Request, Response};
use ureq::{Body, SendBody};

use crate::Error;
use crate::digest::Digest;
use crate::doc::{self, Descriptor};
use crate::media;
use crate::registry::auth::{CredentialSource, Credentials, parse_challenges};
use crate::registry::reference::RegistryRef;

/// How to reach registries.
#[derive(Clone, Debug, Default)]
pub struct RegistryOptions {
    /// Where credentials come from.
    pub credentials: CredentialSource,
    /// PEM files with more root certificates (beside the system's).
    pub ca_certs: Vec<PathBuf>,
    /// Allow plain HTTP to the registry (always allowed for loopback addresses).
    pub insecure: bool,
    /// Retries after 429, 5xx and connection errors; `None`: [`DEFAULT_RETRIES`].
    pub retries: Option<u32>,
}

/// Retries of a request that failed for a reason that may pass.
pub const DEFAULT_RETRIES: u32 = 4;
/// Times an interrupted blob download is resumed.
const MAX_RESUMES: u32 = 5;
/// Redirects followed for one request.
const MAX_REDIRECTS: u32 = 5;
/// Largest token response read.
const MAX_TOKEN: u64 = 1 << 20;

/// The media types a manifest may be fetched as.
const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.docker.distribution.manifest.v2+json";

/// An HTTP agent with the TLS roots and the plain-HTTP rule of [`RegistryOptions`]; also
/// what foreign layers are fetched with (never with credentials).
#[derive(Clone, Debug)]
pub struct Transport {
    agent: ureq::Agent,
    insecure: bool,
}

impl Transport {
    /// An agent trusting the system's root certificates (Mozilla's when the system has
    /// none) and those of `opts.ca_certs`.
    ///
    /// # Errors
    /// A CA file that cannot be read or holds no certificate.
    pub fn new(opts: &RegistryOptions) -> Result<Transport, Error> {
        use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig, TlsProvider};
        let mut certs: Vec<Certificate<'static>> = rustls_native_certs::load_native_certs()
            .certs
            .iter()
            .map(|c| Certificate::from_der(c.as_ref()).to_owned())
            .collect();
        let system = !certs.is_empty();
        for path in &opts.ca_certs {
            let what = path.display().to_string();
            let f = crate::open_user_file(path)?;
            let pem = doc::read_limited(f, &what)?;
            let before = certs.len();
            for item in ureq::tls::parse_pem(&pem) {
                if let Ok(PemItem::Certificate(c)) = item {
                    certs.push(c);
                }
            }
            if certs.len() == before {
                return Err(Error::Invalid(format!(
                    "{what} holds no PEM certificate (--ca-cert)"
                )));
            }
        }
        let roots = if !system && opts.ca_certs.is_empty() {
            RootCerts::WebPki
        } else {
            RootCerts::Specific(Arc::new(certs))
        };
        let tls = TlsConfig::builder()
            .provider(TlsProvider::Rustls)
            .root_certs(roots)
            .build();
        let config = ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(120)))
            .timeout_per_read(Some(Duration::from_secs(120)))
            .user_agent(concat!("wclayer/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(Transport {
            agent: ureq::Agent::new_with_config(config),
            insecure: opts.insecure,
        })
    }

    /// Whether plain HTTP may be used with `host` (`HOST[:PORT]`).
    fn plain_allowed(&self, host: &str) -> bool {
        self.insecure || is_loopback(host)
    }

    /// Opens a foreign layer's blob from one of its `urls` (HTTPS, or HTTP to a loopback
    /// address), without credentials; the caller checks its digest.
    ///
    /// # Errors
    /// When no URL gives the blob.
    pub fn open_url(&self, urls: &[String], what: &str) -> Result<Box<dyn Read + Send>, Error> {
        let mut why = Vec::new();
        for url in urls {
            let host = url_host(url);
            let allowed = url.starts_with("https://")
                || (url.starts_with("http://") && self.plain_allowed(host));
            if !allowed {
                why.push(format!("{url}: not an https URL"));
                continue;
            }
            match self.agent.get(url).call() {
                Ok(r) if r.status().is_success() => {
                    return Ok(Box::new(r.into_body().into_reader()));
                }
                Ok(r) => why.push(format!("{url}: HTTP {}", r.status())),
                Err(e) => why.push(format!("{url}: {e}")),
            }
        }
        Err(Error::Invalid(format!(
            "{what}: cannot fetch the foreign layer from its urls ({})",
            why.join("; ")
        )))
    }
}

/// Whether `host` (`HOST[:PORT]`) is a loopback address or `localhost`.
#[must_use]
pub fn is_loopback(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) && !h.ends_with(':') => h,
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name == "localhost" || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `HOST[:PORT]` of a URL.
fn url_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?', '#']).next().unwrap_or(rest)
}

/// `s` percent-encoded for a query string.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `location` (absolute, or a path) made absolute against `base`.
fn absolute(base: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_string();
    }
    let scheme_host = match base.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{}", url_host(rest)),
        None => base.to_string(),
    };
    if location.starts_with('/') {
        format!("{scheme_host}{location}")
    } else {
        format!("{scheme_host}/{location}")
    }
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(200u64.saturating_mul(1u64 << attempt.min(6)))
}

fn header<'a>(r: &'a Response<Body>, name: &str) -> Option<&'a str> {
    r.headers().get(name).and_then(|v| v.to_str().ok())
}

/// A failed upload request, and whether sending the blob again may succeed: the connection
/// failed (not on TLS), or the registry answered 429 or 5xx.
#[derive(Debug)]
pub struct UploadError {
    /// What failed.
    pub error: Error,
    /// Worth another try.
    pub transient: bool,
}

impl From<Error> for UploadError {
    fn from(error: Error) -> UploadError {
        UploadError {
            error,
            transient: false,
        }
    }
}

impl From<UploadError> for Error {
    fn from(e: UploadError) -> Error {
        e.error
    }
}

fn transport_error(what: &str, e: &ureq::Error) -> Error {
    Error::io(what, io::Error::other(e.to_string()))
}

/// A session with one registry.
#[derive(Debug)]
pub struct Client {
    transport: Transport,
    /// `HOST[:PORT]` as in the reference.
    registry: String,
    /// `scheme://api-host`.
    base: String,
    creds: Option<Credentials>,
    /// The `Authorization` value the registry accepted (or will be tried).
    auth: Mutex<Option<String>>,
    /// Scopes asked for in token requests.
    scopes: Vec<String>,
    retries: u32,
}

impl Client {
    /// Connects to the registry of `r`: HTTPS (or plain HTTP when allowed and HTTPS cannot
    /// be reached), `GET /v2/`, authenticated for `scopes` (`repository:NAME:pull,push`).
    ///
    /// # Errors
    /// When the registry cannot be reached or refuses the credentials.
    pub fn connect(
        r: &RegistryRef,
        opts: &RegistryOptions,
        scopes: Vec<String>,
    ) -> Result<Arc<Client>, Error> {
        let transport = Transport::new(opts)?;
        let host = r.api_host().to_string();
        let creds = opts.credentials.lookup(&r.registry)?;
        let mut client = Client {
            transport,
            registry: r.registry.clone(),
            base: format!("https://{host}"),
            creds,
            auth: Mutex::new(None),
            scopes,
            retries: opts.retries.unwrap_or(DEFAULT_RETRIES),
        };
        // Where plain HTTP may follow, HTTPS is tried once, without retries.
        let plain = client.transport.plain_allowed(&host);
        if plain {
            client.retries = 0;
        }
        let ping = client.send("GET", "/v2/", &[], None);
        client.retries = opts.retries.unwrap_or(DEFAULT_RETRIES);
        let mut https_error = None;
        let ping = match ping {
            Err(e) if plain => {
                client.base = format!("http://{host}");
                let p = client.send("GET", "/v2/", &[], None).map_err(|e2| {
                    Error::Invalid(format!(
                        "cannot reach the registry {}: over HTTPS: {e}; over HTTP: {e2}",
                        client.registry
                    ))
                })?;
                https_error = Some(e);
                p
            }
            Err(e) => {
                return Err(e.context(&format!(
                    "cannot reach the registry {} over HTTPS (plain HTTP is used only for \
                     loopback addresses or with --insecure)",
                    client.registry
                )));
            }
            Ok(p) => p,
        };
        match ping.status().as_u16() {
            200..=299 => Ok(Arc::new(client)),
            401 => Err(client.denied("GET /v2/")),
            // An HTTPS server answering plain HTTP: its HTTPS error is the one to tell.
            s => Err(match https_error {
                Some(e) => e.context(&format!(
                    "cannot reach the registry {} over HTTPS",
                    client.registry
                )),
                None => Error::Invalid(format!(
                    "{} is not a registry of the distribution API (GET /v2/: HTTP {s})",
                    client.registry
                )),
            }),
        }
    }

    /// The registry's name as in references.
    #[must_use]
    pub fn registry(&self) -> &str {
        &self.registry
    }

    fn denied(&self, what: &str) -> Error {
        let how = if self.creds.is_some() {
            "the registry refused the credentials"
        } else {
            "the registry needs credentials: give --creds USER:PASS, set \
             WCLAYER_REGISTRY_USER and WCLAYER_REGISTRY_PASSWORD, or log in with docker login"
        };
        Error::Invalid(format!("{}: {what}: {how}", self.registry))
    }

    fn current_auth(&self) -> Option<String> {
        self.auth
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Sends a request to `path` (a path of the registry or an absolute URL), with retries,
    /// authentication on a 401 and redirects (of GET and HEAD) followed without credentials
    /// to other hosts. A 401 after authenticating is returned to the caller.
    pub(crate) fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: Option<&[u8]>,
    ) -> Result<Response<Body>, Error> {
        let mut url = absolute(&self.base, path);
        let own_host = url_host(&self.base).to_string();
        let (mut attempt, mut redirects, mut authenticated) = (0u32, 0u32, false);
        loop {
            let what = format!("{method} {url}");
            let mut b = Request::builder().method(method).uri(&url);
            for (k, v) in headers {
                b = b.header(*k, v.as_str());
            }
            let same_host = url_host(&url) == own_host;
            if same_host && let Some(a) = self.current_auth() {
                b = b.header("Authorization", a);
            }
            let sent = match body {
                Some(bytes) => b
                    .header("Content-Length", bytes.len().to_string())
                    .body(SendBody::from_owned_reader(io::Cursor::new(bytes.to_vec())))
                    .map_err(|e| Error::Invalid(format!("{what}: {e}")))
                    .map(|r| self.transport.agent.run(r))?,
                None => b
                    .body(SendBody::none())
                    .map_err(|e| Error::Invalid(format!("{what}: {e}")))
                    .map(|r| self.transport.agent.run(r))?,
            };
            let resp = match sent {
                Ok(r) => r,
                Err(e) if attempt < self.retries && !matches!(e, ureq::Error::Tls(_)) => {
                    tracing::warn!("{what}: {e}; retrying");
                    std::thread::sleep(backoff(attempt));
                    attempt = attempt.saturating_add(1);
                    continue;
                }
                Err(e) => return Err(transport_error(&what, &e)),
            };
            let status = resp.status().as_u16();
            match status {
                401 if same_host && !authenticated => {
                    authenticated = true;
                    let challenge = header(&resp, "www-authenticate").unwrap_or_default();
                    self.authenticate(challenge)?;
                }
                429 | 500 | 502..=599 if attempt < self.retries => {
                    let wait = header(&resp, "retry-after")
                        .and_then(|s| s.trim().parse::<u64>().ok())
                        .map_or_else(|| backoff(attempt), |s| Duration::from_secs(s.min(30)));
                    tracing::warn!("{what}: HTTP {status}; retrying");
                    std::thread::sleep(wait);
                    attempt = attempt.saturating_add(1);
                }
                301 | 302 | 303 | 307 | 308 if method == "GET" || method == "HEAD" => {
                    let Some(location) = header(&resp, "location") else {
                        return Ok(resp);
                    };
                    redirects = redirects.saturating_add(1);
                    if redirects > MAX_REDIRECTS {
                        return Err(Error::Invalid(format!(
                            "{what}: more than {MAX_REDIRECTS} redirects"
                        )));
                    }
                    url = absolute(&url, location);
                    if url.starts_with("http://")
                        && !self.transport.plain_allowed(url_host(&url))
                        && !self.base.starts_with("http://")
                    {
                        return Err(Error::Invalid(format!(
                            "{what}: redirected to plain HTTP ({url})"
                        )));
                    }
                }
                _ => return Ok(resp),
            }
        }
    }

    /// Answers a `WWW-Authenticate` challenge: a bearer token from its realm (with the
    /// credentials, when there are any), or basic authentication.
    fn authenticate(&self, challenge: &str) -> Result<(), Error> {
        let challenges = parse_challenges(challenge)?;
        let value = if let Some(c) = challenges.iter().find(|c| c.scheme == "bearer") {
            let realm = c.params.get("realm").ok_or_else(|| {
                Error::Invalid(format!(
                    "{}: a bearer challenge without realm: {challenge}",
                    self.registry
                ))
            })?;
            let mut url = realm.clone();
            let mut sep = if url.contains('?') { '&' } else { '?' };
            if let Some(s) = c.params.get("service") {
                url.push_str(&format!("{sep}service={}", encode(s)));
                sep = '&';
            }
            let mut scopes = self.scopes.clone();
            if let Some(s) = c.params.get("scope")
                && !scopes.contains(s)
            {
                scopes.push(s.clone());
            }
            for s in &scopes {
                url.push_str(&format!("{sep}scope={}", encode(s)));
                sep = '&';
            }
            let secure = url.starts_with("https://")
                || (url.starts_with("http://") && self.transport.plain_allowed(url_host(&url)));
            if !secure {
                return Err(Error::Invalid(format!(
                    "{}: the token realm {realm} is not an https URL",
                    self.registry
                )));
            }
            let mut req = self.transport.agent.get(&url);
            if let Some(c) = &self.creds {
                req = req.header("Authorization", c.basic());
            }
            let what = format!("{}: the token from {realm}", self.registry);
            let resp = req
                .call()
                .map_err(|e| transport_error(&format!("cannot get {what}"), &e))?;
            match resp.status().as_u16() {
                200 => {}
                401 | 403 => return Err(self.denied("the token request")),
                s => return Err(Error::Invalid(format!("cannot get {what}: HTTP {s}"))),
            }
            let mut bytes = Vec::new();
            resp.into_body()
                .into_reader()
                .take(MAX_TOKEN)
                .read_to_end(&mut bytes)
                .map_err(|e| Error::io(format!("cannot read {what}"), e))?;
            let v: Value = serde_json::from_slice(&bytes)
                .map_err(|e| Error::Invalid(format!("{what} is not valid: {e}")))?;
            let token = v
                .get("token")
                .or_else(|| v.get("access_token"))
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .ok_or_else(|| Error::Invalid(format!("{what} has no token")))?;
            format!("Bearer {token}")
        } else if challenges.iter().any(|c| c.scheme == "basic") {
            match &self.creds {
                Some(c) => c.basic(),
                None => return Err(self.denied("basic authentication")),
            }
        } else {
            return Err(Error::Invalid(format!(
                "{}: an authentication challenge wclayer does not know: {challenge:?}",
                self.registry
            )));
        };
        *self
            .auth
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(value);
        Ok(())
    }

    /// An error for an unexpected answer.
    fn status_error(&self, what: &str, resp: Response<Body>) -> Error {
        let status = resp.status().as_u16();
        if status == 401 || status == 403 {
            return self.denied(what);
        }
        let mut body = Vec::new();
        let _ = resp
            .into_body()
            .into_reader()
            .take(4096)
            .read_to_end(&mut body);
        let detail = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| {
                v.pointer("/errors/0/message")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .map(|m| format!(": {m}"))
            .unwrap_or_default();
        Error::Invalid(format!("{what}: HTTP {status}{detail}"))
    }

    /// The manifest or index `reference` (a tag or digest) of `repo`: its bytes, media type
    /// and digest (computed from the bytes, and checked against a digest reference and the
    /// `Docker-Content-Digest` header).
    ///
    /// # Errors
    /// None there, over [`doc::MAX_DOCUMENT`], or a digest that does not match.
    pub fn get_manifest(
        &self,
        repo: &str,
        reference: &str,
        what: &str,
    ) -> Result<(Vec<u8>, String, Digest), Error> {
        let resp = self.send(
            "GET",
            &format!("/v2/{repo}/manifests/{reference}"),
            &[("Accept", MANIFEST_ACCEPT.to_string())],
            None,
        )?;
        if resp.status().as_u16() == 404 {
            return Err(Error::Invalid(format!(
                "{what}: the registry has no manifest {reference} in {repo}"
            )));
        }
        if !resp.status().is_success() {
            return Err(self.status_error(what, resp));
        }
        if let Some(n) = header(&resp, "content-length").and_then(|s| s.parse::<u64>().ok()) {
            doc::check_size(n, what)?;
        }
        let media_type = header(&resp, "content-type")
            .map(|t| t.split(';').next().unwrap_or(t).trim().to_string())
            .unwrap_or_default();
        let claimed = header(&resp, "docker-content-digest").map(str::to_string);
        let bytes = doc::read_limited(resp.into_body().into_reader(), what)?;
        let digest = Digest::of(&bytes);
        if let Ok(want) = Digest::parse(reference)
            && want != digest
        {
            return Err(Error::Invalid(format!(
                "{what}: the registry sent a manifest with digest {digest}, not {want}"
            )));
        }
        if let Some(c) = claimed
            && c != digest.to_string()
        {
            return Err(Error::Invalid(format!(
                "{what}: the registry says its digest is {c}, its bytes have {digest}"
            )));
        }
        let media_type = if media::is_manifest(&media_type) || media::is_index(&media_type) {
            media_type
        } else {
            // Some registries answer application/json: the document's own field says.
            serde_json::from_slice::<Value>(&bytes)
                .ok()
                .and_then(|v| {
                    v.get("mediaType")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .unwrap_or(media_type)
        };
        Ok((bytes, media_type, digest))
    }

    /// A document (a config) stored as a blob: read whole, at most [`doc::MAX_DOCUMENT`]
    /// bytes, checked against its descriptor.
    ///
    /// # Errors
    /// Missing, too large, or not matching.
    pub fn get_document(
        self: &Arc<Self>,
        repo: &str,
        desc: &Descriptor,
        what: &str,
    ) -> Result<Vec<u8>, Error> {
        // Refused before the request, not only while reading.
        doc::check_size(desc.size, what)?;
        let r = self.open_blob(repo, desc.digest, desc.size, what)?;
        doc::read_described(r, desc, what)
    }

    /// The blob `digest` of `repo` as a stream; an interrupted download is resumed with
    /// `Range` (or restarted) where it stopped. The caller checks the digest.
    ///
    /// # Errors
    /// When the registry does not have it or cannot be reached.
    pub fn open_blob(
        self: &Arc<Self>,
        repo: &str,
        digest: Digest,
        size: u64,
        what: &str,
    ) -> Result<Box<dyn Read + Send>, Error> {
        let mut r = BlobReader {
            client: Arc::clone(self),
            path: format!("/v2/{repo}/blobs/{digest}"),
            offset: 0,
            size,
            body: None,
            resumes: 0,
            what: what.to_string(),
        };
        r.open().map_err(|e| match e.into_inner() {
            Some(inner) => match inner.downcast::<ErrorBox>() {
                Ok(b) => b.0,
                Err(other) => Error::Invalid(format!("{what}: {other}")),
            },
            None => Error::Invalid(format!("{what}: cannot fetch it")),
        })?;
        Ok(Box::new(r))
    }

    /// Whether `repo` has the blob `digest` (`HEAD`).
    ///
    /// # Errors
    /// An unexpected answer.
    pub fn has_blob(&self, repo: &str, digest: &Digest, what: &str) -> Result<bool, Error> {
        let resp = self.send("HEAD", &format!("/v2/{repo}/blobs/{digest}"), &[], None)?;
        match resp.status().as_u16() {
            200..=299 => Ok(true),
            404 => Ok(false),
            _ => Err(self.status_error(what, resp)),
        }
    }

    /// Starts an upload into `repo`, mounting `digest` from `from` when given: `Ok(None)`
    /// when the blob was mounted, else the upload's location.
    ///
    /// # Errors
    /// An unexpected answer.
    pub fn start_upload(
        &self,
        repo: &str,
        mount: Option<(&Digest, &str)>,
        what: &str,
    ) -> Result<Option<String>, Error> {
        let path = match mount {
            Some((d, from)) => format!(
                "/v2/{repo}/blobs/uploads/?mount={}&from={}",
                encode(&d.to_string()),
                encode(from)
            ),
            None => format!("/v2/{repo}/blobs/uploads/"),
        };
        let resp = self.send("POST", &path, &[], Some(&[]))?;
        match resp.status().as_u16() {
            201 if mount.is_some() => Ok(None),
            202 => header(&resp, "location")
                .map(|l| Some(absolute(&self.base, l)))
                .ok_or_else(|| Error::Invalid(format!("{what}: the upload has no Location"))),
            _ => Err(self.status_error(what, resp)),
        }
    }

    /// Sends `size` bytes of `body` to the upload `location`: the whole blob
    /// (`digest` given: `PUT`, which completes it) or one chunk starting at `start`
    /// (`PATCH`, returning the next location). The body cannot be sent twice, so a failure
    /// is not retried here: [`UploadError::transient`] tells the caller whether to upload
    /// the blob again ([`Client::retry_wait`]).
    ///
    /// # Errors
    /// A read error or an unexpected answer.
    pub fn upload(
        &self,
        location: &str,
        body: &mut dyn Read,
        start: u64,
        size: u64,
        complete: Option<&Digest>,
        what: &str,
    ) -> Result<String, UploadError> {
        let (method, url) = match complete {
            Some(d) => {
                let sep = if location.contains('?') { '&' } else { '?' };
                let url = format!("{location}{sep}digest={}", encode(&d.to_string()));
                ("PUT", url)
            }
            None => ("PATCH", location.to_string()),
        };
        let mut b = Request::builder()
            .method(method)
            .uri(&url)
            .header("Content-Type", "application/octet-stream")
            .header("Content-Length", size.to_string());
        if complete.is_none() {
            let end = start.saturating_add(size).saturating_sub(1);
            b = b.header("Content-Range", format!("{start}-{end}"));
        }
        if url_host(&url) == url_host(&self.base)
            && let Some(a) = self.current_auth()
        {
            b = b.header("Authorization", a);
        }
        let req = b
            .body(SendBody::from_reader(body))
            .map_err(|e| Error::Invalid(format!("{what}: {e}")))?;
        let resp = self.transport.agent.run(req).map_err(|e| UploadError {
            error: transport_error(&format!("{what}: {method} {url}"), &e),
            transient: !matches!(e, ureq::Error::Tls(_)),
        })?;
        if !resp.status().is_success() {
            let status = resp.status().as_u16();
            return Err(UploadError {
                error: self.status_error(what, resp),
                transient: status == 429 || status >= 500,
            });
        }
        Ok(header(&resp, "location")
            .map_or_else(|| location.to_string(), |l| absolute(&self.base, l)))
    }

    /// How long to wait before try `attempt` (0 first) of something that failed for a
    /// reason that may pass; `None` when the retries are used up.
    #[must_use]
    pub fn retry_wait(&self, attempt: u32) -> Option<Duration> {
        (attempt < self.retries).then(|| backoff(attempt))
    }

    /// Stores a manifest or index under `reference` (a tag or its digest); returns the
    /// digest the registry reports, when it does.
    ///
    /// # Errors
    /// An unexpected answer.
    pub fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
        what: &str,
    ) -> Result<Option<String>, Error> {
        let resp = self.send(
            "PUT",
            &format!("/v2/{repo}/manifests/{reference}"),
            &[("Content-Type", media_type.to_string())],
            Some(bytes),
        )?;
        if !resp.status().is_success() {
            return Err(self.status_error(what, resp));
        }
        Ok(header(&resp, "docker-content-digest").map(str::to_string))
    }
}

/// An [`Error`] carried through `io::Error`.
#[derive(Debug)]
struct ErrorBox(Error);

impl std::fmt::Display for ErrorBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for ErrorBox {}

/// A blob being downloaded; resumed where it stopped after a read error or an early end.
struct BlobReader {
    client: Arc<Client>,
    path: String,
    offset: u64,
    size: u64,
    body: Option<ureq::BodyReader<'static>>,
    resumes: u32,
    what: String,
}

impl BlobReader {
    fn open(&mut self) -> io::Result<()> {
        let headers: Vec<(&str, String)> = if self.offset > 0 {
            vec![("Range", format!("bytes={}-", self.offset))]
        } else {
            Vec::new()
        };
        let resp = self
            .client
            .send("GET", &self.path, &headers, None)
            .map_err(|e| io::Error::other(ErrorBox(e)))?;
        let status = resp.status().as_u16();
        let body = match status {
            206 if self.offset > 0 => resp.into_body().into_reader(),
            200 => {
                let mut b = resp.into_body().into_reader();
                // No range support: read again from the start, past what was read.
                if self.offset > 0 {
                    let skipped = io::copy(&mut (&mut b).take(self.offset), &mut io::sink())?;
                    if skipped != self.offset {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the blob ended early",
                        ));
                    }
                }
                b
            }
            404 => {
                return Err(io::Error::other(ErrorBox(Error::Invalid(format!(
                    "{}: the registry has no blob {}",
                    self.what, self.path
                )))));
            }
            _ => {
                return Err(io::Error::other(ErrorBox(
                    self.client.status_error(&self.what, resp),
                )));
            }
        };
        self.body = Some(body);
        Ok(())
    }
}

impl Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.body.is_none() {
                self.open()?;
            }
            let Some(body) = self.body.as_mut() else {
                return Ok(0);
            };
            let got = body.read(buf);
            match got {
                Ok(0) if self.offset >= self.size || buf.is_empty() => return Ok(0),
                Ok(n) if n > 0 => {
                    self.offset = self.offset.saturating_add(n as u64);
                    return Ok(n);
                }
                Ok(_) | Err(_) if self.resumes < MAX_RESUMES => {
                    tracing::warn!(
                        "{}: the download stopped at byte {}; resuming",
                        self.what,
                        self.offset
                    );
                    self.body = None;
                    self.resumes = self.resumes.saturating_add(1);
                }
                Ok(_) => return Ok(0),
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use crate::registry::fake::fake;

    #[test]
    fn urls_and_hosts() {
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("localhost"));
        assert!(is_loopback("[::1]:5000"));
        assert!(!is_loopback("registry.example:5000"));
        assert!(!is_loopback("10.0.0.1"));
        assert_eq!(url_host("https://a.example:5/v2/x?y"), "a.example:5");
        assert_eq!(
            absolute("https://a.example/v2/x", "/v2/y?z=1"),
            "https://a.example/v2/y?z=1"
        );
        assert_eq!(
            absolute("https://a.example/v2/x", "https://b.example/blob"),
            "https://b.example/blob"
        );
        assert_eq!(
            encode("repository:a/b:pull,push"),
            "repository%3Aa%2Fb%3Apull%2Cpush"
        );
    }

    fn client(port: u16, scopes: &[&str]) -> Arc<Client> {
        let r = RegistryRef::parse(&format!("127.0.0.1:{port}/a")).unwrap();
        let opts = RegistryOptions {
            retries: Some(2),
            ..RegistryOptions::default()
        };
        Client::connect(&r, &opts, scopes.iter().map(|s| s.to_string()).collect()).unwrap()
    }

    fn h(k: &str, v: &str) -> Vec<(String, String)> {
        vec![(k.to_string(), v.to_string())]
    }

    #[test]
    fn bearer_tokens_retries_and_redirects_without_credentials() {
        let (storage, storage_seen) = fake(|_, _| (200, Vec::new(), b"hello".to_vec(), None));
        let (tokens, token_seen) =
            fake(|_, _| (200, Vec::new(), br#"{"token":"tok"}"#.to_vec(), None));
        let blob = Digest::of(b"hello");
        let blob_path = format!("/v2/a/blobs/{blob}");
        let (registry, registry_seen) = fake(move |req, n| {
            let challenge =
                format!("Bearer realm=\"http://127.0.0.1:{tokens}/token\",service=\"fake\"");
            match (req.header("authorization"), req.path.as_str()) {
                (Some("Bearer tok"), "/v2/") => (200, Vec::new(), Vec::new(), None),
                (Some("Bearer tok"), p) if p == blob_path && n == 2 => {
                    (503, Vec::new(), Vec::new(), None)
                }
                (Some("Bearer tok"), p) if p == blob_path => (
                    307,
                    h(
                        "Location",
                        &format!("http://127.0.0.1:{storage}/blob?sig=1"),
                    ),
                    Vec::new(),
                    None,
                ),
                _ => (401, h("WWW-Authenticate", &challenge), Vec::new(), None),
            }
        });
        let c = client(registry, &["repository:a:pull"]);
        let mut got = Vec::new();
        c.open_blob("a", blob, 5, "the blob")
            .unwrap()
            .read_to_end(&mut got)
            .unwrap();
        assert_eq!(got, b"hello");
        let t = token_seen.lock().unwrap();
        assert_eq!(t[0].path, "/token?service=fake&scope=repository%3Aa%3Apull");
        let r = registry_seen.lock().unwrap();
        // 401, /v2/ with the token, the blob: 503 (retried), 307.
        assert_eq!(r.len(), 4, "{r:?}");
        assert_eq!(r[3].header("authorization"), Some("Bearer tok"));
        let s = storage_seen.lock().unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].path, "/blob?sig=1");
        assert_eq!(
            s[0].header("authorization"),
            None,
            "no credentials to another host"
        );
    }

    #[test]
    fn manifests_are_hashed_and_limited_and_downloads_resume_with_range() {
        let good = br#"{"schemaVersion":2}"#.to_vec();
        let digest = Digest::of(&good);
        let (port, seen) = fake(move |req, _| match req.path.as_str() {
            "/v2/" => (200, Vec::new(), Vec::new(), None),
            "/v2/a/manifests/lying" => (
                200,
                h(
                    "Docker-Content-Digest",
                    &format!("sha256:{}", "0".repeat(64)),
                ),
                good.clone(),
                None,
            ),
            "/v2/a/manifests/big" => (200, Vec::new(), vec![b' '; (4 << 20) + 1], None),
            "/v2/a/manifests/v1" => (200, Vec::new(), good.clone(), None),
            p if p.starts_with("/v2/a/manifests/") => (200, Vec::new(), b"{}".to_vec(), None),
            _ => match req.header("range") {
                None => (200, Vec::new(), b"0123456789".to_vec(), Some(4)),
                Some("bytes=4-") => (206, Vec::new(), b"456789".to_vec(), None),
                Some(_) => (416, Vec::new(), Vec::new(), None),
            },
        });
        let c = client(port, &[]);
        let (bytes, _, d) = c.get_manifest("a", "v1", "m").unwrap();
        assert_eq!((bytes.len(), d), (19, digest));
        let e = c.get_manifest("a", "lying", "m").unwrap_err().to_string();
        assert!(e.contains("says its digest is"), "{e}");
        let e = c.get_manifest("a", "big", "m").unwrap_err().to_string();
        assert!(e.contains("larger than 4194304 bytes"), "{e}");
        let e = c
            .get_manifest("a", &digest.to_string(), "m")
            .unwrap_err()
            .to_string();
        assert!(e.contains(&format!("not {digest}")), "{e}");
        let mut got = Vec::new();
        c.open_blob("a", Digest::of(b"0123456789"), 10, "b")
            .unwrap()
            .read_to_end(&mut got)
            .unwrap();
        assert_eq!(got, b"0123456789");
        let s = seen.lock().unwrap();
        assert!(
            s.iter().any(|r| r.header("range") == Some("bytes=4-")),
            "{s:?}"
        );
    }
}
