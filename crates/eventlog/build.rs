//! Rebuilds the crate when a migration is added or changed: `sqlx::migrate!` embeds the
//! migration files at compile time, but Cargo does not see a new file in the directory on
//! its own, so an incremental build would keep the old list of migrations.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
