//! The one way eventlog starts a background worker (the writer, the mail sender): a named
//! thread with its own single-threaded tokio runtime. Callers blocked on the worker
//! (back-pressure, `flush`) then can never starve it, whatever runtime they run on, if any.

use std::thread::JoinHandle;

use tokio::runtime::Runtime;

/// Starts a thread named `name` that builds a current-thread runtime and hands it to `work`
/// (or the error, if the runtime could not be built, so the worker reports it its own way).
/// The runtime is built on the new thread: dropping it there never happens inside the
/// caller's async context.
pub(crate) fn spawn<F>(name: &str, work: F) -> std::io::Result<JoinHandle<()>>
where
    F: FnOnce(std::io::Result<Runtime>) + Send + 'static,
{
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            work(
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build(),
            )
        })
}

/// `Debug` of a worker's handle: its type and its counters, the rest left out (locks,
/// channels, the thread).
pub(crate) fn fmt_handle(
    f: &mut std::fmt::Formatter<'_>,
    name: &str,
    stats: &dyn std::fmt::Debug,
) -> std::fmt::Result {
    f.debug_struct(name)
        .field("stats", stats)
        .finish_non_exhaustive()
}
