//! The AWS clients, built once per process (per Lambda cold start) from one SDK config.

use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::config::{Credentials, SharedInterceptor};

/// The region used against a local emulator when none is configured.
pub const LOCAL_REGION: &str = "us-east-1";

/// One client per service nextdue talks to.
#[derive(Clone, Debug)]
pub struct Clients {
    /// DynamoDB: the workers and runs tables.
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// DynamoDB Streams: read only by the local glue (Lambda reads the stream in production).
    #[cfg(feature = "dev")]
    pub streams: aws_sdk_dynamodbstreams::Client,
    /// EventBridge: the events about workers.
    pub events: aws_sdk_eventbridge::Client,
    /// SNS: the alert digests.
    pub sns: aws_sdk_sns::Client,
    /// SQS: delivery and the executor's queues.
    pub sqs: aws_sdk_sqs::Client,
    /// EventBridge Scheduler: one-time schedules for long waits.
    pub scheduler: aws_sdk_scheduler::Client,
    /// SES v2: the `email` job.
    pub ses: aws_sdk_sesv2::Client,
    /// Lambda: the `lambda` job (its endpoint may differ: `AWS_ENDPOINT_URL_LAMBDA`).
    pub lambda: aws_sdk_lambda::Client,
}

impl Clients {
    /// Clients from one shared SDK config.
    pub fn from_config(config: &aws_config::SdkConfig) -> Self {
        Self::with_interceptors(config, &[])
    }

    /// Clients from one shared SDK config, every call passing through `interceptors` (fault
    /// injection in tests).
    pub fn with_interceptors(
        config: &aws_config::SdkConfig,
        interceptors: &[SharedInterceptor],
    ) -> Self {
        macro_rules! client {
            ($sdk:ident) => {{
                let mut builder = $sdk::config::Builder::from(config);
                builder.set_interceptors(interceptors.iter().cloned());
                $sdk::Client::from_conf(builder.build())
            }};
        }
        Clients {
            dynamodb: client!(aws_sdk_dynamodb),
            #[cfg(feature = "dev")]
            streams: client!(aws_sdk_dynamodbstreams),
            events: client!(aws_sdk_eventbridge),
            sns: client!(aws_sdk_sns),
            sqs: client!(aws_sdk_sqs),
            scheduler: client!(aws_sdk_scheduler),
            ses: client!(aws_sdk_sesv2),
            lambda: client!(aws_sdk_lambda),
        }
    }

    /// Clients for a local emulator at `endpoint`, with throwaway credentials, so nothing can
    /// reach a real account.
    pub async fn local(endpoint: &str) -> Self {
        Self::local_with(endpoint, &[]).await
    }

    /// The SDK config for a local emulator at `endpoint`: throwaway credentials, the region of
    /// `AWS_REGION` or [`LOCAL_REGION`].
    pub async fn local_config(endpoint: &str) -> aws_config::SdkConfig {
        let region = std::env::var("AWS_REGION").unwrap_or_else(|_| LOCAL_REGION.to_owned());
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(endpoint)
            .region(Region::new(region))
            .credentials_provider(Credentials::new(
                "testing",
                "testing",
                None,
                None,
                "nextdue-local",
            ))
            .load()
            .await
    }

    /// [`Clients::local`], every call passing through `interceptors`.
    pub async fn local_with(endpoint: &str, interceptors: &[SharedInterceptor]) -> Self {
        let config = Self::local_config(endpoint).await;
        let clients = Self::with_interceptors(&config, interceptors);
        // The emulator runs no functions: the `lambda` job's calls go to the Invoke API server
        // the SDK's own variable names (`cargo lambda watch`, or a test's), when one is set.
        match std::env::var("AWS_ENDPOINT_URL_LAMBDA") {
            Ok(functions) => clients.with_functions_at(&functions),
            Err(_) => clients,
        }
    }

    /// These clients, with the Lambda client sent to the Invoke API server at `endpoint`.
    pub fn with_functions_at(mut self, endpoint: &str) -> Self {
        let config = self.lambda.config().to_builder().endpoint_url(endpoint);
        self.lambda = aws_sdk_lambda::Client::from_conf(config.build());
        self
    }
}

/// Whether `endpoint` is on this machine (loopback), the only place `nextdue dev` will talk to.
///
/// ```
/// use nextdue::adapters::clients::is_local_endpoint;
/// assert!(is_local_endpoint("http://127.0.0.1:5000"));
/// assert!(is_local_endpoint("http://localhost:4566/"));
/// assert!(is_local_endpoint("http://[::1]:5000"));
/// assert!(!is_local_endpoint("https://dynamodb.us-east-1.amazonaws.com"));
/// assert!(!is_local_endpoint("http://127.0.0.1.example.com"));
/// ```
pub fn is_local_endpoint(endpoint: &str) -> bool {
    let Some(rest) = endpoint
        .strip_prefix("http://")
        .or_else(|| endpoint.strip_prefix("https://"))
    else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    host == "localhost"
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}
