//! The Lambda seam: the `lambda` job's [`Invoker`], a synchronous `Invoke`. Locally its
//! endpoint can be any Invoke API server (`cargo lambda watch`, or a test's), through the SDK's
//! `AWS_ENDPOINT_URL_LAMBDA`.

use async_trait::async_trait;
use aws_sdk_lambda::config::retry::RetryConfig;
use aws_sdk_lambda::operation::invoke::InvokeError;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;

use crate::adapters::sdk_error::{self, SdkError};
use crate::job::{Invoked, Invoker, JobError, Retry};

/// Bytes of a response payload kept (for the item's message).
pub const PAYLOAD_BYTES_KEPT: usize = 512;

/// Invokes functions through the Lambda API.
#[derive(Clone, Debug)]
pub struct LambdaInvoker {
    client: aws_sdk_lambda::Client,
}

impl LambdaInvoker {
    /// An invoker on this client.
    pub fn new(client: aws_sdk_lambda::Client) -> Self {
        LambdaInvoker { client }
    }
}

/// Whether Lambda would refuse the same call again (then never): no such function, no
/// permission (IAM answers 403 `AccessDeniedException`), or a request it cannot take.
fn retry_of<R>(error: &SdkError<InvokeError, R>) -> Retry {
    let typed = error.as_service_error().is_some_and(|e| {
        matches!(
            e,
            InvokeError::ResourceNotFoundException(_)
                | InvokeError::InvalidRequestContentException(_)
                | InvokeError::RequestTooLargeException(_)
                | InvokeError::InvalidParameterValueException(_)
                | InvokeError::UnsupportedMediaTypeException(_)
        )
    });
    if typed || sdk_error::code_is(error, &["AccessDeniedException", "AccessDenied"]) {
        Retry::Never
    } else {
        Retry::Backoff
    }
}

#[async_trait]
impl Invoker for LambdaInvoker {
    async fn invoke(&self, function: &str, payload: Vec<u8>) -> Result<Invoked, JobError> {
        let result = self
            .client
            .invoke()
            .function_name(function)
            .invocation_type(InvocationType::RequestResponse)
            .payload(Blob::new(payload))
            // nextdue's own attempts (with their backoff and `maxAttempts`) are the retries: the
            // SDK's would invoke the function up to three times per attempt on a throttle or a
            // 5xx, and a function that did its work before failing would do it again.
            .customize()
            .config_override(
                aws_sdk_lambda::config::Builder::default().retry_config(RetryConfig::disabled()),
            )
            .send()
            .await;
        match result {
            Ok(output) => {
                let mut payload_start = output.payload.map(Blob::into_inner).unwrap_or_default();
                payload_start.truncate(PAYLOAD_BYTES_KEPT);
                Ok(Invoked {
                    function_error: output.function_error,
                    payload_start,
                })
            }
            Err(error) => {
                let retry = retry_of(&error);
                let message = format!(
                    "Lambda refused to invoke {function}: {}",
                    sdk_error::message(error)
                );
                Err(JobError::new(message, retry))
            }
        }
    }
}
