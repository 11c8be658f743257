//! `email`: sends one message through the [`Mailer`](crate::job::Mailer) seam (SES v2).

use std::fmt;

use async_trait::async_trait;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::item::{ItemError, Worker, attr};
use crate::job::{JobContext, JobError, JobLimits, Mail, TypedJob};

/// What a value that is not an address is told (without the value: params may hold secrets).
const NOT_AN_ADDRESS: &str =
    "is not an email address (expected name@domain, or Display Name <name@domain>)";

/// SES's limit on recipients (to, cc and bcc together) for one message.
pub const MAX_RECIPIENTS: usize = 50;

/// The `email` job.
pub struct EmailJob;

/// One or more addresses: the item may hold a single string or a list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Addresses(pub Vec<String>);

impl<'de> Deserialize<'de> for Addresses {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AddressesVisitor;
        impl<'de> Visitor<'de> for AddressesVisitor {
            type Value = Addresses;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an address or a list of addresses")
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<Addresses, E> {
                Ok(Addresses(vec![value.to_owned()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Addresses, A::Error> {
                let mut all = Vec::new();
                while let Some(address) = seq.next_element::<String>()? {
                    all.push(address);
                }
                Ok(Addresses(all))
            }
        }
        deserializer.deserialize_any(AddressesVisitor)
    }
}

/// The `email` job's parameters, as written in the item's `params`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmailParams {
    /// The sender; SES must have verified it (or its domain).
    pub from: String,
    /// Recipients.
    pub to: Addresses,
    /// Copies.
    #[serde(default)]
    pub cc: Addresses,
    /// Blind copies.
    #[serde(default)]
    pub bcc: Addresses,
    /// Where replies go.
    #[serde(default)]
    pub reply_to: Addresses,
    /// The subject line.
    #[serde(default)]
    pub subject: String,
    /// The plain-text body.
    pub text: Option<String>,
    /// The HTML body.
    pub html: Option<String>,
}

/// The bare address in `Display Name <name@domain>` (or `text` itself), lower-cased.
pub fn bare_address(text: &str) -> String {
    let address = match (text.find('<'), text.strip_suffix('>')) {
        (Some(open), Some(inner)) => &inner[open + 1..],
        _ => text,
    };
    address.trim().to_ascii_lowercase()
}

/// Whether `from` may send, given allowed addresses and domains (lower-case; empty: any). A
/// domain may be written `example.com` or `*@example.com` (the form IAM's `ses:FromAddress`
/// condition takes, so one list serves both).
///
/// ```
/// use nextdue::jobs::email::sender_allowed;
/// let allowed = vec!["example.com".to_owned(), "ops@example.org".to_owned(), "*@example.net".to_owned()];
/// assert!(sender_allowed("Anne <Anne@Example.com>", &allowed));
/// assert!(sender_allowed("bob@example.net", &allowed));
/// assert!(sender_allowed("ops@example.org", &allowed));
/// assert!(!sender_allowed("dev@example.org", &allowed));
/// assert!(!sender_allowed("anne@evil-example.com", &allowed));
/// assert!(sender_allowed("anyone@anywhere.test", &[]));
/// ```
pub fn sender_allowed(from: &str, allowed: &[String]) -> bool {
    let address = bare_address(from);
    let domain = address.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
    allowed.is_empty()
        || allowed.iter().any(|entry| match entry.strip_prefix("*@") {
            Some(pattern) => pattern == domain,
            None if entry.contains('@') => *entry == address,
            None => entry == domain,
        })
}

/// Refuses, permanently, mail from a sender the deployment does not allow (every [`Mailer`]
/// checks this before it sends).
///
/// [`Mailer`]: crate::job::Mailer
pub fn check_sender(from: &str, allowed: &[String]) -> Result<(), JobError> {
    if sender_allowed(from, allowed) {
        return Ok(());
    }
    // The list itself stays in the deployment's configuration, not on every item.
    Err(JobError::permanent(format!(
        "sender {from} is not one of this deployment's allowed senders (NEXTDUE_ALLOWED_SENDERS)"
    )))
}

/// Whether `text` looks like an address SES would take: `name@domain`, optionally written
/// `Display Name <name@domain>`.
fn is_address(text: &str) -> bool {
    let address = match (text.find('<'), text.strip_suffix('>')) {
        (Some(open), Some(inner)) => &inner[open + 1..],
        _ => text,
    };
    let Some((local, domain)) = address.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && !address.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Refuses control characters (a line break would let a value forge headers) in a header field.
fn check_header(attribute: &str, text: &str) -> Result<(), ItemError> {
    match text.chars().position(char::is_control) {
        Some(at) => Err(ItemError::new(
            attribute,
            format!(
                "has a control character (such as a line break) at character {at}; header fields \
                 may not"
            ),
        )),
        None => Ok(()),
    }
}

fn check_addresses(field: &str, addresses: &Addresses) -> Result<(), ItemError> {
    for (index, address) in addresses.0.iter().enumerate() {
        check_header(&format!("{}.{field}[{index}]", attr::PARAMS), address)?;
    }
    match addresses.0.iter().position(|a| !is_address(a)) {
        Some(index) => Err(ItemError::new(
            format!("{}.{field}[{index}]", attr::PARAMS),
            NOT_AN_ADDRESS,
        )),
        None => Ok(()),
    }
}

impl EmailParams {
    /// Checks the decoded parameters, naming the one that is wrong.
    pub fn check(&self) -> Result<(), ItemError> {
        let email = self;
        check_header("params.from", &email.from)?;
        check_header("params.subject", &email.subject)?;
        if !is_address(&email.from) {
            return Err(ItemError::new("params.from", NOT_AN_ADDRESS));
        }
        for (field, addresses) in [
            ("to", &email.to),
            ("cc", &email.cc),
            ("bcc", &email.bcc),
            ("replyTo", &email.reply_to),
        ] {
            check_addresses(field, addresses)?;
        }
        if email.to.0.is_empty() {
            return Err(ItemError::new("params.to", "needs at least one address"));
        }
        if email.text.is_none() && email.html.is_none() {
            return Err(ItemError::new(attr::PARAMS, "needs text or html (or both)"));
        }
        let recipients = email.to.0.len() + email.cc.0.len() + email.bcc.0.len();
        if recipients > MAX_RECIPIENTS {
            return Err(ItemError::new(
                attr::PARAMS,
                format!("{recipients} recipients; SES allows at most {MAX_RECIPIENTS} per message"),
            ));
        }
        Ok(())
    }

    /// The message these parameters describe.
    pub fn into_mail(self) -> Mail {
        Mail {
            from: self.from,
            to: self.to.0,
            cc: self.cc.0,
            bcc: self.bcc.0,
            reply_to: self.reply_to.0,
            subject: self.subject,
            text: self.text,
            html: self.html,
        }
    }
}

#[async_trait]
impl TypedJob for EmailJob {
    const KIND: &'static str = "email";
    type Params = EmailParams;

    fn check(
        &self,
        email: &EmailParams,
        _worker: &Worker,
        limits: &JobLimits,
    ) -> Result<(), ItemError> {
        email.check()?;
        if !sender_allowed(&email.from, &limits.allowed_senders) {
            return Err(ItemError::new(
                "params.from",
                "is not one of this deployment's allowed senders (NEXTDUE_ALLOWED_SENDERS)",
            ));
        }
        Ok(())
    }

    async fn run(&self, email: EmailParams, ctx: &JobContext<'_>) -> Result<String, JobError> {
        let mail = email.into_mail();
        let message_id = ctx.services.mailer.send(&mail).await?;
        let count = mail.recipient_count();
        let plural = if count == 1 { "" } else { "s" };
        Ok(format!(
            "sent to {count} recipient{plural} (message id {message_id})"
        ))
    }
}
