//! Outgoing mail: queued in the outbox table by whatever needs to send
//! (sign-up confirmation, password reset, waitlist offers), and delivered by
//! [`deliver_outbox`] through a [`MailSender`]. The embedded default's
//! sender writes mail to the log so a person at the console can read it.

use crate::store::Store;

/// Where mail goes: the seam between the outbox and a mail service.
pub trait MailSender: Send + Sync {
    /// Sends one mail.
    fn send(
        &self,
        to: &str,
        subject: &str,
        body: &str,
    ) -> impl std::future::Future<Output = anyhow::Result<()>> + Send;
}

/// Writes mail to the log (the embedded default).
#[derive(Debug, Clone, Copy, Default)]
pub struct LogSender;

impl MailSender for LogSender {
    async fn send(&self, to: &str, subject: &str, body: &str) -> anyhow::Result<()> {
        tracing::info!(%to, %subject, "mail (log sender; configure SMTP to send real mail):\n{body}");
        Ok(())
    }
}

/// Sends queued mail, oldest first, until the outbox is empty; returns how
/// many were sent. A mail that fails stays queued for the next round.
pub async fn deliver_outbox(
    store: &Store,
    sender: &impl MailSender,
    now_ms: i64,
) -> anyhow::Result<usize> {
    let mut sent = 0;
    for (id, to, subject, body) in store.unsent_mail(100).await? {
        match sender.send(&to, &subject, &body).await {
            Ok(()) => {
                store.mark_mail_sent(&id, now_ms).await?;
                sent += 1;
            }
            Err(e) => tracing::warn!(error = %e, mail = %id, "mail not sent; will retry"),
        }
    }
    Ok(sent)
}

/// Queues a mail to an account by id (nothing if it is gone); `body` gets
/// the account's handle. Returns whether a mail was queued.
pub async fn tell(
    store: &Store,
    account_id: &str,
    subject: &str,
    body: impl FnOnce(&str) -> String,
    now_ms: i64,
) -> Result<bool, crate::store::StoreError> {
    tell_once(
        store,
        &crate::accounts::new_id(),
        account_id,
        subject,
        body,
        now_ms,
    )
    .await
}

/// Like [`tell`], under `key` (made from what the mail is about, e.g.
/// `refund-mail:<order>`): queued once however often the processing that
/// sends it is retried.
pub async fn tell_once(
    store: &Store,
    key: &str,
    account_id: &str,
    subject: &str,
    body: impl FnOnce(&str) -> String,
    now_ms: i64,
) -> Result<bool, crate::store::StoreError> {
    let Some(a) = store.account_by_id(account_id).await? else {
        return Ok(false);
    };
    store
        .queue_mail(key, &a.email, subject, &body(&a.handle), now_ms)
        .await?;
    Ok(true)
}
