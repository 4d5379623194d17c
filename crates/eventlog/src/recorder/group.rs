//! [`EventGroup`] and the one-line [`EventBuilder`]: recording events of one group.

use std::future::{Future, IntoFuture};
use std::pin::Pin;

use serde::Serialize;
use uuid::Uuid;

use crate::error::{Error, ValidationError};
use crate::event::{GroupId, NewEvent, validate_initiator, validate_mail_recipient};

use super::EventLog;

/// A group of events: one piece of work, read later as one story.
///
/// Carries defaults for its events: an e-mail recipient (every event of the group mails it,
/// unless the event names its own) and an initiator.
#[derive(Clone, Debug)]
pub struct EventGroup {
    pub(super) log: EventLog,
    pub(super) id: GroupId,
    pub(super) send_mail: Option<String>,
    pub(super) notify: Option<Vec<String>>,
    pub(super) initiator: Option<String>,
}

impl EventGroup {
    /// The group id, to continue the group elsewhere with [`EventLog::group_named`].
    pub fn id(&self) -> &GroupId {
        &self.id
    }

    /// Mails `address` about every event of this group. Checked when an event is recorded
    /// (a bad address fails that call with [`ValidationError::MailRecipient`]), so the
    /// builder chain stays unbroken; [`EventGroup::check`] checks it at once.
    pub fn send_mail(mut self, address: impl Into<String>) -> Self {
        self.send_mail = Some(address.into());
        self
    }

    /// Sends every event of this group to these notification channels (`[[notify.channel]]`
    /// names) instead of those its type is routed to, unless the event names its own; an
    /// empty list sends them to none. Checked when an event is recorded.
    pub fn notify<S: Into<String>>(mut self, channels: impl IntoIterator<Item = S>) -> Self {
        self.notify = Some(channels.into_iter().map(Into::into).collect());
        self
    }

    /// The initiator of every event of this group that names none itself. Checked when an
    /// event is recorded, like [`EventGroup::send_mail`].
    pub fn initiator(mut self, initiator: impl Into<String>) -> Self {
        self.initiator = Some(initiator.into());
        self
    }

    /// Checks the group's defaults now rather than at the first record.
    pub fn check(self) -> Result<Self, ValidationError> {
        if let Some(address) = &self.send_mail {
            validate_mail_recipient(address)?;
        }
        if let Some(initiator) = &self.initiator {
            validate_initiator(initiator)?;
        }
        if let Some(channels) = &self.notify {
            crate::event::validate_notify_channels(channels)?;
        }
        Ok(self)
    }

    /// An event of the configured type `event_type`.
    pub fn event(&self, event_type: &str, message: impl Into<String>) -> EventBuilder<'_> {
        let mut event = NewEvent::new(event_type, self.id.clone(), message);
        event.send_mail = self.send_mail.clone();
        event.notify = self.notify.clone();
        event.initiator = self.initiator.clone();
        EventBuilder { group: self, event }
    }

    /// An `info` event.
    pub fn info(&self, message: impl Into<String>) -> EventBuilder<'_> {
        self.event("info", message)
    }

    /// A `warning` event.
    pub fn warning(&self, message: impl Into<String>) -> EventBuilder<'_> {
        self.event("warning", message)
    }

    /// An `error` event.
    pub fn error(&self, message: impl Into<String>) -> EventBuilder<'_> {
        self.event("error", message)
    }

    /// A `critical` event.
    pub fn critical(&self, message: impl Into<String>) -> EventBuilder<'_> {
        self.event("critical", message)
    }
}

/// One event being recorded. Finish with `.record()` (plain threads) or `.await` (async).
#[must_use = "an event is recorded only by .record() or .await"]
#[derive(Debug)]
pub struct EventBuilder<'g> {
    group: &'g EventGroup,
    event: NewEvent,
}

impl EventBuilder<'_> {
    /// Who or what caused the event (at most 500 characters).
    pub fn initiator(mut self, initiator: impl Into<String>) -> Self {
        self.event.initiator = Some(initiator.into());
        self
    }

    /// Structured details: anything `Serialize`. If serialization fails (a map with
    /// non-string keys, a failing `Serialize` impl), the data is stored as
    /// `{"unserializable": "<the error>"}` instead: recording never fails because of its data.
    pub fn data<T: Serialize + ?Sized>(mut self, data: &T) -> Self {
        self.event.data = Some(
            serde_json::to_value(data)
                .unwrap_or_else(|e| serde_json::json!({ "unserializable": e.to_string() })),
        );
        self
    }

    /// Mails this event to `address` (instead of the group's recipient, if any).
    pub fn send_mail(mut self, address: impl Into<String>) -> Self {
        self.event.send_mail = Some(address.into());
        self
    }

    /// Sends this event to these notification channels instead of those its type is routed
    /// to (and instead of the group's); an empty list sends it to none.
    pub fn notify<S: Into<String>>(mut self, channels: impl IntoIterator<Item = S>) -> Self {
        self.event.notify = Some(channels.into_iter().map(Into::into).collect());
        self
    }

    /// The event as it will be stored.
    pub fn into_event(self) -> NewEvent {
        self.event
    }

    /// Validates and queues the event, waiting while the queue is full. Returns its uuid.
    pub fn record(self) -> Result<Uuid, Error> {
        self.group.log.record_blocking(self.event)
    }
}

impl<'g> IntoFuture for EventBuilder<'g> {
    type Output = Result<Uuid, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'g>>;

    /// Validates and queues the event, waiting asynchronously while the queue is full.
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move { self.group.log.record(self.event).await })
    }
}
