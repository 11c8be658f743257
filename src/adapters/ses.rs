//! The SES v2 seam: the `email` job's [`Mailer`].

use async_trait::async_trait;
use aws_sdk_sesv2::operation::send_email::SendEmailError;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};

use crate::adapters::sdk_error;
use crate::job::{JobError, Mail, Mailer, Retry};
use crate::jobs::email::check_sender;

/// Sends mail through SES v2, only from the allowed senders.
#[derive(Clone, Debug)]
pub struct SesMailer {
    client: aws_sdk_sesv2::Client,
    allowed_senders: Vec<String>,
}

impl SesMailer {
    /// A mailer that may send from `allowed_senders` (addresses or domains; empty: any
    /// identity SES has verified).
    pub fn new(client: aws_sdk_sesv2::Client, allowed_senders: Vec<String>) -> Self {
        SesMailer {
            client,
            allowed_senders,
        }
    }
}

fn content(text: &str) -> Content {
    Content::builder()
        .data(text)
        .charset("UTF-8")
        .build()
        .expect("data is set")
}

/// Whether SES would fail the same way again (then never), or might not (after the backoff).
fn retry_of(error: Option<&SendEmailError>) -> Retry {
    match error {
        Some(
            SendEmailError::MessageRejected(_)
            | SendEmailError::MailFromDomainNotVerifiedException(_)
            | SendEmailError::AccountSuspendedException(_)
            | SendEmailError::SendingPausedException(_)
            | SendEmailError::BadRequestException(_)
            | SendEmailError::NotFoundException(_),
        ) => Retry::Never,
        _ => Retry::Backoff,
    }
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, mail: &Mail) -> Result<String, JobError> {
        check_sender(&mail.from, &self.allowed_senders)?;
        let destination = Destination::builder()
            .set_to_addresses(Some(mail.to.clone()))
            .set_cc_addresses(Some(mail.cc.clone()).filter(|a| !a.is_empty()))
            .set_bcc_addresses(Some(mail.bcc.clone()).filter(|a| !a.is_empty()))
            .build();
        let body = Body::builder()
            .set_text(mail.text.as_deref().map(content))
            .set_html(mail.html.as_deref().map(content))
            .build();
        let message = Message::builder()
            .subject(content(&mail.subject))
            .body(body)
            .build();
        let result = self
            .client
            .send_email()
            .from_email_address(&mail.from)
            .destination(destination)
            .set_reply_to_addresses(Some(mail.reply_to.clone()).filter(|a| !a.is_empty()))
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await;
        match result {
            Ok(output) => Ok(output.message_id.unwrap_or_else(|| "unknown".into())),
            Err(error) => {
                let retry = retry_of(error.as_service_error());
                let reason = match error.as_service_error() {
                    Some(service) => format!(
                        "SES {}: {}",
                        aws_sdk_sesv2::error::ProvideErrorMetadata::code(service)
                            .unwrap_or("error"),
                        aws_sdk_sesv2::error::ProvideErrorMetadata::message(service)
                            .unwrap_or("no message")
                    ),
                    None => format!("SES unreachable: {}", sdk_error::message(error)),
                };
                Err(JobError::new(reason, retry))
            }
        }
    }
}
