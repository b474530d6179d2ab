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

/// Who a mail is written to: shown as their handle, and their clock for
/// the times in it (their profile's zone; UTC without one).
#[derive(Debug)]
pub struct Reader<'a> {
    handle: &'a str,
    zone: jiff::tz::TimeZone,
}

impl std::fmt::Display for Reader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.handle)
    }
}

impl Reader<'_> {
    /// An instant on the reader's clock: "2027-01-02 19:00 CET".
    pub fn time(&self, ms: i64) -> String {
        crate::schedule::local_time(ms, &self.zone)
    }
}

/// Queues a mail to an account by id (nothing if it is gone); `body` gets
/// its [`Reader`]. Returns whether a mail was queued.
pub async fn tell(
    store: &Store,
    account_id: &str,
    subject: &str,
    body: impl FnOnce(&Reader<'_>) -> String,
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
    body: impl FnOnce(&Reader<'_>) -> String,
    now_ms: i64,
) -> Result<bool, crate::store::StoreError> {
    let Some((email, handle, zone)) = store.mail_recipient(account_id).await? else {
        return Ok(false);
    };
    let reader = Reader {
        handle: &handle,
        zone: crate::schedule::zone(&zone).unwrap_or(jiff::tz::TimeZone::UTC),
    };
    store
        .queue_mail(key, &email, subject, &body(&reader), now_ms)
        .await?;
    Ok(true)
}
