//! [`CitusCluster`]: a private Citus cluster for one test, whose workers it can stop.

use std::io;

use sqlx::Connection;
use sqlx::postgres::PgConnection;

use crate::PgCluster;

/// A Citus 13 cluster of one test's own: a coordinator and two workers, each a [`PgCluster`]
/// with the extension loaded, its `postgres` database holding the extension and the workers
/// registered. For tests that stop a worker under load; the shared cluster of `scripts/test`
/// ([`crate::TestDb::citus`]) serves the others. Removed when dropped.
#[derive(Debug)]
pub struct CitusCluster {
    coordinator: PgCluster,
    workers: Vec<PgCluster>,
}

/// The settings every node runs with: the extension, two-phase commit on the workers, room
/// for Citus's maintenance worker, and 4 shards per table (quick to create, still on both
/// workers).
const NODE_SETTINGS: [(&str, &str); 4] = [
    ("shared_preload_libraries", "citus"),
    ("max_prepared_transactions", "100"),
    ("max_worker_processes", "16"),
    ("citus.shard_count", "4"),
];

impl CitusCluster {
    /// Creates and starts the three servers and joins them (a few seconds).
    ///
    /// # Errors
    ///
    /// When a server does not start or a statement of the set-up fails (Citus not installed:
    /// build it with `../shared/vendor/citus/build.sh`).
    pub async fn start() -> io::Result<CitusCluster> {
        let start = || PgCluster::start_with(&NODE_SETTINGS);
        let (coordinator, w1, w2) =
            tokio::task::spawn_blocking(move || Ok::<_, io::Error>((start()?, start()?, start()?)))
                .await
                .map_err(io::Error::other)??;
        let cluster = CitusCluster {
            coordinator,
            workers: vec![w1, w2],
        };
        for node in cluster.workers.iter().chain([&cluster.coordinator]) {
            execute(&node.url(), "CREATE EXTENSION citus").await?;
        }
        execute(
            &cluster.coordinator.url(),
            &format!(
                "SELECT citus_set_coordinator_host('127.0.0.1', {})",
                cluster.coordinator.port()
            ),
        )
        .await?;
        for worker in &cluster.workers {
            execute(
                &cluster.coordinator.url(),
                &format!("SELECT citus_add_node('127.0.0.1', {})", worker.port()),
            )
            .await?;
        }
        Ok(cluster)
    }

    /// The coordinator's superuser URL of the `postgres` database (distributed when
    /// eventlog migrates it).
    pub fn url(&self) -> String {
        self.coordinator.url()
    }

    /// Worker `n` (0 or 1), to stop and restart.
    pub fn worker(&self, n: usize) -> &PgCluster {
        &self.workers[n]
    }
}

async fn execute(url: &str, sql: &str) -> io::Result<()> {
    let mut conn = PgConnection::connect(url).await.map_err(io::Error::other)?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut conn)
        .await
        .map_err(|e| io::Error::other(format!("{sql}: {e}")))?;
    let _ = conn.close().await;
    Ok(())
}
