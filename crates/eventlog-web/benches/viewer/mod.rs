//! The admin as the benchmarks reach it: served on a loopback socket, logged in as a viewer.
//! A module of each benchmark that needs it (`mod viewer;`), not a benchmark of its own.

#![allow(dead_code)] // Each benchmark uses a part.

use eventlog::store::{Backend, Role};

/// The viewer the benchmarks log in as.
pub const USER: &str = "bench";

/// [`USER`]'s password.
pub const PASSWORD: &str = "bench password";

/// Adds the viewer [`USER`] to `store`; a kept database that has it already keeps it (its
/// password is the same).
pub async fn add_viewer(store: &dyn Backend) {
    let hash = eventlog_web::auth::password::hash_password(PASSWORD).expect("hash");
    let _ = store
        .create_user(USER, &hash, Role::Viewer)
        .await
        .expect("user");
}

/// Serves the admin of `state` on a loopback port and logs [`USER`] in with `client` (one that
/// follows no redirects); the admin's URL and the `Cookie` header of the session.
pub async fn serve_logged_in(
    state: eventlog_web::AppState,
    client: &reqwest::Client,
) -> (String, String) {
    let addr = eventlog_testing::http::serve_on_loopback(|listener| {
        eventlog_web::serve(listener, eventlog_web::app(state), std::future::pending())
    })
    .await;
    let base = format!("http://{addr}");
    let session = eventlog_testing::http::login(client, &base, "", USER, PASSWORD).await;
    (base, format!("eventlog_session={session}"))
}
