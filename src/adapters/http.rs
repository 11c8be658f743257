//! The HTTP seam: the `http` job's [`HttpClient`], on reqwest (rustls, the same TLS stack the
//! AWS SDK links). The deployment's [`NetworkPolicy`] is applied to every address a host name
//! resolves to (so DNS cannot point a public name at the metadata service) and to every
//! redirect's address literal; no proxy is used, since one would resolve names where the
//! policy cannot see them.

use std::net::{IpAddr, SocketAddr};

use async_trait::async_trait;
use chrono::Utc;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::redirect;

use crate::job::{HttpClient, HttpFailure, HttpRequest, HttpResponse};
use crate::network::{NetworkPolicy, refusal};

/// Redirects followed before giving up.
pub const MAX_REDIRECTS: usize = 5;
/// Bytes of an answer's body read (the rest is not downloaded).
pub const BODY_BYTES_READ: usize = 512;

/// An address the policy refuses, found while resolving or redirecting: why, in words.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Refused(String);

/// Resolves names as the system does, then refuses the answer if any address is refused.
struct CheckedResolver {
    policy: NetworkPolicy,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(why) = addresses.iter().find_map(|a| refusal(a.ip(), &policy)) {
                return Err(Box::new(Refused(format!("{host} resolves to {why}"))) as _);
            }
            Ok(Box::new(addresses.into_iter()) as Addrs)
        })
    }
}

/// Why the policy refuses `url`'s host, when it is an address literal.
fn literal_refusal(url: &reqwest::Url, policy: &NetworkPolicy) -> Option<Refused> {
    let ip: IpAddr = match url.host()? {
        url::Host::Domain(_) => return None,
        url::Host::Ipv4(v4) => v4.into(),
        url::Host::Ipv6(v6) => v6.into(),
    };
    refusal(ip, policy).map(Refused)
}

/// An [`HttpClient`] on reqwest, under a [`NetworkPolicy`]. The reqwest client (its TLS roots
/// read from the system) is built at the first request, not at the function's start: most
/// invocations never make one.
#[derive(Debug)]
pub struct ReqwestClient {
    client: std::sync::OnceLock<reqwest::Client>,
    policy: NetworkPolicy,
}

impl ReqwestClient {
    /// A client that reaches public addresses, and the ranges `policy` allows.
    pub fn new(policy: NetworkPolicy) -> Self {
        ReqwestClient {
            client: std::sync::OnceLock::new(),
            policy,
        }
    }

    fn client(&self) -> &reqwest::Client {
        self.client.get_or_init(|| build(self.policy))
    }
}

/// The reqwest client: the checked resolver, the checked redirects, no proxy.
fn build(policy: NetworkPolicy) -> reqwest::Client {
    let redirects = redirect::Policy::custom(move |attempt| {
        // `previous` holds every URL requested so far, the first included: the redirect
        // about to be followed is number `previous().len()`.
        if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
        } else if !matches!(attempt.url().scheme(), "http" | "https") {
            let scheme = attempt.url().scheme().to_owned();
            attempt.error(format!("a redirect to a {scheme}: URL"))
        } else if let Some(refused) = literal_refusal(attempt.url(), &policy) {
            attempt.error(refused)
        } else {
            attempt.follow()
        }
    });
    reqwest::Client::builder()
        .dns_resolver(std::sync::Arc::new(CheckedResolver { policy }))
        .redirect(redirects)
        .no_proxy()
        .user_agent(concat!("nextdue/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("a client with rustls and a resolver builds")
}

/// The refusal somewhere in an error's sources, if that is what it is.
fn refused_in(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut source = Some(error);
    while let Some(current) = source {
        if let Some(refused) = current.downcast_ref::<Refused>() {
            return Some(refused.to_string());
        }
        source = current.source();
    }
    None
}

/// The innermost cause of an error, in one line (reqwest's own text says little).
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

/// What a `Retry-After` header asks for: seconds, or an HTTP date.
fn retry_after(value: &str) -> Option<u32> {
    if let Ok(seconds) = value.trim().parse::<u32>() {
        return Some(seconds);
    }
    let at = chrono::DateTime::parse_from_rfc2822(value.trim()).ok()?;
    let seconds = (at.with_timezone(&Utc) - Utc::now()).num_seconds().max(0);
    u32::try_from(seconds).ok()
}

#[async_trait]
impl HttpClient for ReqwestClient {
    async fn send(&self, request: &HttpRequest) -> Result<HttpResponse, HttpFailure> {
        let url = reqwest::Url::parse(&request.url)
            .map_err(|e| HttpFailure::Invalid(format!("not a URL ({e})")))?;
        if let Some(refused) = literal_refusal(&url, &self.policy) {
            return Err(HttpFailure::Refused(refused.to_string()));
        }
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .map_err(|_| HttpFailure::Invalid(format!("no method {:?}", request.method)))?;
        let mut builder = self.client().request(method, url).timeout(request.timeout);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        if let Some(body) = &request.body {
            builder = builder.body(body.clone());
        }
        let seconds = request.timeout.as_secs();
        let sent = builder.send().await.map_err(|e| classify(&e, seconds))?;
        let status = sent.status();
        let retry_after = sent
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(retry_after);
        let mut sent = sent;
        let mut body_start = Vec::new();
        while body_start.len() < BODY_BYTES_READ {
            match sent.chunk().await {
                Ok(Some(chunk)) => body_start.extend_from_slice(&chunk),
                Ok(None) => break,
                // The status is the answer; a body cut short only shortens the excerpt.
                Err(_) => break,
            }
        }
        body_start.truncate(BODY_BYTES_READ);
        Ok(HttpResponse {
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or_default().to_owned(),
            retry_after_seconds: retry_after,
            body_start,
        })
    }
}

fn classify(error: &reqwest::Error, timeout_seconds: u64) -> HttpFailure {
    if let Some(refused) = refused_in(error) {
        HttpFailure::Refused(refused)
    } else if error.is_timeout() {
        HttpFailure::TimedOut(timeout_seconds)
    } else if error.is_builder() || error.is_redirect() {
        // A redirect loop, or too many, or to another scheme: sending again would redirect
        // the same way.
        HttpFailure::Invalid(root_cause(error))
    } else {
        HttpFailure::Network(root_cause(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(retry_after("120"), Some(120));
        assert_eq!(retry_after(" 7 "), Some(7));
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(0),
            "a past date: now"
        );
        let later = (Utc::now() + chrono::TimeDelta::seconds(300)).to_rfc2822();
        assert!(matches!(retry_after(&later), Some(298..=300)));
        assert_eq!(retry_after("soon"), None);
    }

    /// A GET of `/hop/0` on a local server whose `/hop/N` redirects to `/hop/N+1` up to
    /// `hops` and then answers 200.
    async fn follow_redirects(hops: usize) -> Result<HttpResponse, HttpFailure> {
        use wiremock::matchers::path;
        use wiremock::{Mock, MockServer, ResponseTemplate};
        let server = MockServer::start().await;
        for hop in 0..hops {
            Mock::given(path(format!("/hop/{hop}")))
                .respond_with(
                    ResponseTemplate::new(302)
                        .insert_header("location", format!("/hop/{}", hop + 1)),
                )
                .mount(&server)
                .await;
        }
        Mock::given(path(format!("/hop/{hops}")))
            .respond_with(ResponseTemplate::new(200))
            .mount(&server)
            .await;
        let client = ReqwestClient::new(NetworkPolicy::parse("loopback").unwrap());
        client
            .send(&HttpRequest {
                method: "GET".into(),
                url: format!("{}/hop/0", server.uri()),
                headers: Vec::new(),
                body: None,
                timeout: std::time::Duration::from_secs(5),
            })
            .await
    }

    #[tokio::test]
    async fn up_to_max_redirects_are_followed_and_one_more_fails_for_good() {
        let followed = follow_redirects(MAX_REDIRECTS)
            .await
            .expect("five redirects");
        assert_eq!(followed.status, 200);
        let Err(HttpFailure::Invalid(why)) = follow_redirects(MAX_REDIRECTS + 1).await else {
            panic!("a sixth redirect was followed, or failed as if sending again could help")
        };
        assert!(why.contains("more than 5 redirects"), "{why}");
    }

    #[tokio::test]
    async fn a_name_that_resolves_to_a_refused_address_is_refused_before_connecting() {
        let client = ReqwestClient::new(NetworkPolicy::default());
        let request = HttpRequest {
            method: "GET".into(),
            url: "http://localhost:9/".into(),
            headers: Vec::new(),
            body: None,
            timeout: std::time::Duration::from_secs(5),
        };
        let Err(HttpFailure::Refused(why)) = client.send(&request).await else {
            panic!("localhost was reached")
        };
        assert!(why.starts_with("localhost resolves to "), "{why}");
        assert!(why.contains("a loopback address"), "{why}");
        let literal = HttpRequest {
            url: "http://169.254.169.254/latest/meta-data/".into(),
            ..request
        };
        let Err(HttpFailure::Refused(why)) = client.send(&literal).await else {
            panic!("the metadata service was reached")
        };
        assert!(
            why.starts_with("169.254.169.254 is a link-local address"),
            "{why}"
        );
    }
}
