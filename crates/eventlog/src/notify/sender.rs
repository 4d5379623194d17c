//! [`NotifySender`], the handle that starts the sending loop (`worker`) and sends the admin's
//! "send a test".

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use super::config::NotifyConfig;
use super::dispatch::{Channel, Dispatcher};
use super::http::Poster;
use super::worker::Worker;
use crate::error::{ConfigError, Error};
use crate::event::Event;
use crate::event_type::EventTypes;
use crate::store::Backend;

/// Sends notifications from the outbox on a task of the caller's runtime. Start one per
/// process (several on one database share the work: each claim is a lease).
pub struct NotifySender {
    dispatcher: Arc<Dispatcher>,
    stop: std::sync::Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
    task: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for NotifySender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&String> = self.dispatcher.channels.keys().collect();
        f.debug_struct("NotifySender")
            .field("channels", &names)
            .finish_non_exhaustive()
    }
}

impl NotifySender {
    /// Checks `config`, writes its routes to `store` (replacing any there: from now on each
    /// committed event gets a row per matching channel) and starts sending.
    pub async fn start(
        store: Arc<dyn Backend>,
        config: NotifyConfig,
        types: EventTypes,
    ) -> Result<NotifySender, Error> {
        config.validate()?;
        config.check_types(&types)?;
        store
            .set_notify_routes(&config.routes())
            .await
            .map_err(|source| Error::Connect { source })?;
        let poster = Poster::new(Duration::from_secs(config.timeout_secs))
            .map_err(|e| Error::from(ConfigError::value("notify", e)))?;
        let channels = config
            .channels
            .iter()
            .filter_map(|c| {
                // validate() checked every URL.
                let url = url::Url::parse(&c.url).ok()?;
                Some((
                    c.name.clone(),
                    Channel {
                        config: c.clone(),
                        url,
                    },
                ))
            })
            .collect();
        let dispatcher = Arc::new(Dispatcher {
            channels,
            poster,
            admin_url: config.admin_url.trim_end_matches('/').to_owned(),
            types,
        });
        let worker = Worker::new(store, dispatcher.clone(), &config);
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(worker.run(stop_rx));
        Ok(NotifySender {
            dispatcher,
            stop: std::sync::Mutex::new(Some(stop_tx)),
            task: tokio::sync::Mutex::new(Some(task)),
        })
    }

    /// The configured channels: name and kind (never the URL).
    pub fn channels(&self) -> Vec<(String, super::ChannelKind)> {
        let mut list: Vec<_> = self
            .dispatcher
            .channels
            .values()
            .map(|c| (c.config.name.clone(), c.config.kind))
            .collect();
        list.sort_by(|a, b| a.0.cmp(&b.0));
        list
    }

    /// Sends a made-up event to `channel` at once (not through the outbox) and says what the
    /// receiver answered: the admin's "send a test". Errors never contain the URL.
    pub async fn send_test(&self, channel: &str, initiator: &str) -> Result<u16, String> {
        let ch = self
            .dispatcher
            .channels
            .get(channel)
            .ok_or_else(|| format!("no channel named {channel:?}"))?;
        let event = Event {
            id: 0,
            uuid: uuid::Uuid::now_v7(),
            event_type: self
                .dispatcher
                .types
                .names()
                .next()
                .unwrap_or("info")
                .to_owned(),
            group: "eventlog-test".into(),
            timestamp: Utc::now(),
            message: format!("A test message from eventlog to channel {channel}"),
            data: None,
            initiator: Some(initiator.to_owned()),
            send_mail: None,
        };
        let answer = self.dispatcher.post(ch, &[event], 1).await?;
        if (200..300).contains(&answer.status) {
            Ok(answer.status)
        } else {
            Err(format!("the receiver answered {}", answer.status))
        }
    }

    /// Sends what is due (for a few seconds at most) and stops; the rest stays queued.
    pub async fn close(&self) {
        if let Some(stop) = self.stop.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.lock().await.take() {
            let _ = task.await;
        }
    }
}
