//! Invariant 6, in the code: the email job sends only from the allowed senders.

use nextdue::adapters::ses::SesMailer;
use nextdue::job::Mail;
use nextdue::job::Mailer;

use crate::support::TestStack;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn least_privilege_email_sends_only_from_allowed_senders() {
    let stack = TestStack::provisioned("senders").await;
    let allowed = stack.verified_domain().await;
    // Verified in SES, but not allowed by NEXTDUE_ALLOWED_SENDERS.
    let other = format!("other-{}.example.com", stack.prefix);
    stack
        .stack
        .clients
        .ses
        .create_email_identity()
        .email_identity(&other)
        .send()
        .await
        .unwrap();
    let mailer = SesMailer::new(stack.stack.clients.ses.clone(), vec![allowed.clone()]);
    let mail = |from: String, to: &str| Mail {
        from,
        to: vec![to.to_owned()],
        cc: vec![],
        bcc: vec![],
        reply_to: vec![],
        subject: "s".into(),
        text: Some("t".into()),
        html: None,
    };
    let refused_to = format!("refused@{allowed}");
    let error = mailer
        .send(&mail(format!("anne@{other}"), &refused_to))
        .await
        .unwrap_err();
    assert!(!error.is_retryable());
    assert!(
        error.message.starts_with(&format!(
            "sender anne@{other} is not one of this deployment's allowed senders"
        )),
        "{}",
        error.message
    );
    assert_eq!(
        error.message,
        format!(
            "sender anne@{other} is not one of this deployment's allowed senders \
             (NEXTDUE_ALLOWED_SENDERS)"
        ),
        "the allow-list itself is not echoed"
    );
    assert!(stack.mail_to(&refused_to).await.is_empty());

    let sent_to = format!("sent@{allowed}");
    mailer
        .send(&mail(format!("Anne <anne@{allowed}>"), &sent_to))
        .await
        .unwrap();
    assert_eq!(stack.mail_to(&sent_to).await.len(), 1);
}
