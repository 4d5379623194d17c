//! Runs a [`Mailer`] on a thread and runtime of its own, so that an [`crate::EventLog`] can
//! send mail whether it was opened from async code or from plain threads, and can wait for the
//! queued mails at close from either.

use std::sync::Arc;

use crate::error::Error;
use crate::event_type::EventTypes;
use crate::mail::{MailConfig, Mailer};

/// A mailer and the runtime its task runs on.
pub(crate) struct MailerThread {
    pub(crate) mailer: Arc<Mailer>,
    runtime: tokio::runtime::Handle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MailerThread {
    pub(crate) fn start(config: MailConfig, types: EventTypes) -> Result<MailerThread, Error> {
        let (ready_tx, ready_rx) = flume::bounded(1);
        let thread = std::thread::Builder::new()
            .name("eventlog-mailer".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(Error::Config(format!(
                            "cannot start the mail runtime: {e}"
                        ))));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match Mailer::start(config, types) {
                        Ok(mailer) => {
                            let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
                            let started =
                                (Arc::new(mailer), tokio::runtime::Handle::current(), stop_tx);
                            if ready_tx.send(Ok(started)).is_ok() {
                                // Keep the runtime (and the mailer's task) alive until stopped.
                                let _ = stop_rx.await;
                            }
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                });
            })
            .map_err(|e| Error::Config(format!("cannot start the mail thread: {e}")))?;
        let (mailer, runtime, stop) = ready_rx
            .recv()
            .map_err(|_| Error::Config("the mail thread stopped while starting".into()))??;
        Ok(MailerThread {
            mailer,
            runtime,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Sends what is queued (or gives up after the mailer's close timeout); `done` is told.
    fn spawn_close(&self) -> flume::Receiver<()> {
        let (done_tx, done_rx) = flume::bounded(1);
        let mailer = self.mailer.clone();
        self.runtime.spawn(async move {
            mailer.close().await;
            let _ = done_tx.send(());
        });
        done_rx
    }

    pub(crate) async fn close(&self) {
        let _ = self.spawn_close().recv_async().await;
    }

    pub(crate) fn close_blocking(&self) {
        let _ = self.spawn_close().recv();
    }
}

impl Drop for MailerThread {
    fn drop(&mut self) {
        self.close_blocking();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
