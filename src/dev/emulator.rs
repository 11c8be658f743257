//! What only the emulator can tell: the mail SES "sent" (moto keeps it at
//! `/moto-api/data.json`, under `ses.Message`), and what its work cost it.

use std::collections::BTreeMap;

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
    pub destinations: BTreeMap<String, Vec<String>>,
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

/// What the emulator spent handling one operation, by its launcher's account.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq)]
pub struct OperationCpu {
    /// Requests handled.
    pub calls: u64,
    /// Thread CPU time spent on them.
    pub cpu_seconds: f64,
}

/// The emulator's CPU time by operation so far (`infra/moto_server.py` keeps the account at
/// `/nextdue/emulator-cpu`), or `None` from an emulator started some other way.
pub async fn cpu(endpoint: &str) -> anyhow::Result<Option<BTreeMap<String, OperationCpu>>> {
    let url = format!("{}/nextdue/emulator-cpu", endpoint.trim_end_matches('/'));
    tokio::task::spawn_blocking(move || {
        let mut response = match ureq::get(&url).call() {
            Ok(response) => response,
            Err(ureq::Error::StatusCode(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let text = response.body_mut().read_to_string()?;
        Ok(serde_json::from_str(&text).ok())
    })
    .await?
}
