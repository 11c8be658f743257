//! AWS SDK errors in short, readable form. Every SDK crate re-exports the same `SdkError`
//! type, so these helpers serve DynamoDB, Streams, SQS, Scheduler and SES alike.

pub use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::seams::DeliveryError;

/// Whether a call failed with one of these error codes (checked on the code itself, since
/// emulators and query-compatible services do not always map it to the typed variant).
pub fn code_is<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>, codes: &[&str]) -> bool {
    code_of(error).is_some_and(|code| codes.contains(&code))
}

/// The service's error code, when the call got one.
pub fn code_of<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> Option<&str> {
    error.as_service_error().and_then(|e| e.code())
}

/// The service's error code at the start of a [`message`] (`ResourceNotFoundException: …`),
/// if the service answered one.
///
/// ```
/// use nextdue::adapters::sdk_error::code_in;
/// assert_eq!(code_in("ResourceNotFoundException: no table"), Some("ResourceNotFoundException"));
/// assert_eq!(code_in("AWS.SimpleQueueService.NonExistentQueue: gone"), Some("AWS.SimpleQueueService.NonExistentQueue"));
/// assert_eq!(code_in("dispatch failure: io error: connection refused"), None);
/// ```
pub fn code_in(message: &str) -> Option<&str> {
    let (code, _) = message.split_once(": ")?;
    (!code.is_empty()
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_'))
    .then_some(code)
}

/// A failed call in one short line: the service's code and message, or what went wrong on the
/// way (timeout, connection, …).
pub fn message<E, R>(error: SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match error.as_service_error() {
        Some(service) => format!(
            "{}: {}",
            service.code().unwrap_or("error"),
            service.message().unwrap_or("no message")
        ),
        None => DisplayErrorContext(&error).to_string(),
    }
}

/// A delivery call (SQS, Scheduler) that failed, in one line.
pub(crate) fn call_failed<E, R>(
    operation: &'static str,
    target: &str,
    error: SdkError<E, R>,
) -> DeliveryError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    DeliveryError::Call {
        operation,
        target: target.to_owned(),
        message: message(error),
    }
}

/// A delivery call whose answer lacked what it is for (a URL, an ARN).
pub(crate) fn missing_in_answer(
    operation: &'static str,
    target: &str,
    what: &str,
) -> DeliveryError {
    DeliveryError::Call {
        operation,
        target: target.to_owned(),
        message: format!("no {what} in the answer"),
    }
}
