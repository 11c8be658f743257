//! What only the emulator can tell: the mail SES "sent" (moto keeps it at
//! `/moto-api/data.json`, under `ses.Message`).

use serde::Deserialize;

/// One message the emulated SES accepted.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct SentMail {
    /// SES's message id.
    pub id: String,
    /// The sender.
    pub source: String,
    /// The subject.
    #[serde(default)]
    pub subject: String,
    /// The body (moto keeps only the HTML one when both are given).
    #[serde(default)]
    pub body: String,
    /// Recipients by kind (`ToAddresses`, `CcAddresses`, …).
    #[serde(default)]
    pub destinations: std::collections::BTreeMap<String, Vec<String>>,
}

impl SentMail {
    /// Whether `address` is among the `To` recipients.
    pub fn is_to(&self, address: &str) -> bool {
        self.destinations
            .get("ToAddresses")
            .is_some_and(|to| to.iter().any(|a| a == address))
    }
}

/// All mail the emulator at `endpoint` has accepted (every region mixed).
pub async fn sent_mail(endpoint: &str) -> anyhow::Result<Vec<SentMail>> {
    let url = format!("{}/moto-api/data.json", endpoint.trim_end_matches('/'));
    let text = tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
        // The dump holds every service's state, which grows with every test on the emulator.
        Ok(ureq::get(&url)
            .call()?
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_string()?)
    })
    .await??;
    let data: serde_json::Value = serde_json::from_str(&text)?;
    let messages = data.pointer("/ses/Message").cloned().unwrap_or_default();
    Ok(serde_json::from_value(messages).unwrap_or_default())
}
