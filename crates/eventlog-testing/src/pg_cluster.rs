//! [`PgCluster`]: a private PostgreSQL server for one test, to stop, restart and freeze.

use std::io;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

/// Where Debian's PostgreSQL 15 puts its server programs.
const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// A private PostgreSQL 15 server in a temporary directory, listening on its own loopback
/// port and socket directory, with `fsync=off` (test data need not survive a power cut).
/// Stopped and deleted when dropped.
///
/// Root cannot run `initdb`: as root the server runs as the `postgres` user.
#[derive(Debug)]
pub struct PgCluster {
    dir: TempDir,
    port: u16,
}

impl PgCluster {
    /// Creates and starts a new cluster (a second or two). The superuser is `postgres`, with
    /// trust authentication on loopback.
    pub fn start() -> io::Result<PgCluster> {
        PgCluster::start_with(&[])
    }

    /// Like [`PgCluster::start`], with extra server settings that override the defaults, e.g.
    /// `[("fsync", "on"), ("synchronous_commit", "on")]` for a benchmark of durable commits.
    pub fn start_with(settings: &[(&str, &str)]) -> io::Result<PgCluster> {
        let cluster = PgCluster::create("eventlog-pg-")?;
        run(cluster
            .pg_command("initdb")
            .arg("-D")
            .arg(cluster.data_dir())
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ]))?;
        let conf = format!(
            "\n# eventlog test cluster\nport = {}\nlisten_addresses = '127.0.0.1'\n\
             unix_socket_directories = '{}'\nfsync = off\nsynchronous_commit = off\n\
             full_page_writes = off\nmax_connections = 300\n",
            cluster.port,
            cluster.socket_dir().display()
        );
        let conf_path = cluster.data_dir().join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf_path)?;
        text.push_str(&conf);
        // Later lines win in postgresql.conf.
        for (name, value) in settings {
            text.push_str(&format!("{name} = '{value}'\n"));
        }
        std::fs::write(&conf_path, text)?;
        cluster.pg_ctl_start()?;
        Ok(cluster)
    }

    /// A hot standby of this cluster made with `pg_basebackup` (streaming replication from
    /// this one, read-only, on its own port), started and caught up with the base backup.
    pub fn start_replica(&self) -> io::Result<PgCluster> {
        let replica = PgCluster::create("eventlog-pg-replica-")?;
        // `-R` writes `standby.signal` and the `primary_conninfo` that streams from here.
        run(replica
            .pg_command("pg_basebackup")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .arg("-D")
            .arg(replica.data_dir())
            .args(["-X", "stream", "-R", "--no-sync"]))?;
        let conf_path = replica.data_dir().join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf_path)?;
        // Later lines win: the copy keeps the primary's port and socket directory otherwise.
        text.push_str(&format!(
            "\n# eventlog test replica\nport = {}\nunix_socket_directories = '{}'\nhot_standby = on\n",
            replica.port,
            replica.socket_dir().display()
        ));
        std::fs::write(&conf_path, text)?;
        replica.pg_ctl_start()?;
        Ok(replica)
    }

    /// The superuser URL of the `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server (fast shutdown: clients are disconnected) if it runs, and starts it
    /// again on the same port, keeping its data.
    pub fn restart(&self) -> io::Result<()> {
        if self.is_running() {
            self.stop()?;
        }
        self.pg_ctl_start()
    }

    /// Stops the server (fast shutdown). [`PgCluster::restart`] starts it again.
    pub fn stop(&self) -> io::Result<()> {
        run(self
            .pg_command("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-w", "-m", "fast", "stop"]))
        .map(drop)
    }

    /// Freezes the server and all its processes (SIGSTOP), as a hung machine or a stalled
    /// disk would: connections stay open, nothing answers. [`PgCluster::resume`] thaws it.
    pub fn pause(&self) -> io::Result<()> {
        self.signal_all("STOP")
    }

    /// Thaws a server frozen by [`PgCluster::pause`] (SIGCONT).
    pub fn resume(&self) -> io::Result<()> {
        self.signal_all("CONT")
    }

    /// Sends `signal` to the postmaster (its pid from `postmaster.pid`) and its children.
    fn signal_all(&self, signal: &str) -> io::Result<()> {
        let pidfile = std::fs::read_to_string(self.data_dir().join("postmaster.pid"))?;
        let postmaster = pidfile
            .lines()
            .next()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .ok_or_else(|| io::Error::other("postmaster.pid without a pid"))?
            .to_owned();
        let children = Command::new("pgrep").args(["-P", &postmaster]).output()?;
        let mut pids: Vec<String> = String::from_utf8_lossy(&children.stdout)
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        // Children first on STOP (none can notice the parent stopping), parent first on CONT.
        if signal == "CONT" {
            pids.insert(0, postmaster);
        } else {
            pids.push(postmaster);
        }
        run(Command::new("kill").arg(format!("-{signal}")).args(&pids)).map(drop)
    }

    /// Whether the server is running.
    pub fn is_running(&self) -> bool {
        self.pg_command("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .arg("status")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    }

    /// A new temporary directory (named `prefix…`) with its socket directory, owned by
    /// `postgres` when we are root, and a free port: a cluster still to be made.
    fn create(prefix: &str) -> io::Result<PgCluster> {
        let dir = tempfile::Builder::new().prefix(prefix).tempdir()?;
        let cluster = PgCluster {
            dir,
            port: free_port()?,
        };
        std::fs::create_dir(cluster.socket_dir())?;
        if is_root()? {
            run(Command::new("chown")
                .arg("-R")
                .arg("postgres:postgres")
                .arg(cluster.dir.path()))?;
        }
        Ok(cluster)
    }

    fn pg_ctl_start(&self) -> io::Result<()> {
        run(self
            .pg_command("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.dir.path().join("server.log"))
            .args(["-w", "-t", "60", "start"]))
        .map(drop)
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn socket_dir(&self) -> PathBuf {
        self.dir.path().join("socket")
    }

    /// A command running the PostgreSQL program `program`, as `postgres` when we are root.
    fn pg_command(&self, program: &str) -> Command {
        let path = Path::new(PG_BIN).join(program);
        if is_root().unwrap_or(false) {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        // A frozen server cannot stop.
        let _ = self.resume();
        if self.is_running() {
            let _ = self
                .pg_command("pg_ctl")
                .arg("-D")
                .arg(self.data_dir())
                .args(["-w", "-m", "immediate", "stop"])
                .output();
        }
        // The TempDir field removes the directory.
    }
}

/// A port on 127.0.0.1 that was free a moment ago. The server binds it a little later; a clash
/// with another process is possible but rare, and shows as a start failure naming the port.
fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn is_root() -> io::Result<bool> {
    let out = Command::new("id").arg("-u").output()?;
    Ok(String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// Runs a command; an unsuccessful exit becomes an error with its output.
fn run(cmd: &mut Command) -> io::Result<Output> {
    let out = cmd.output()?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(io::Error::other(format!(
            "{cmd:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )))
    }
}

#[cfg(test)]
mod tests {
    use sqlx::Connection;
    use sqlx::postgres::PgConnection;

    use super::*;

    #[tokio::test]
    async fn a_cluster_starts_restarts_on_the_same_port_and_is_removed() {
        let cluster = PgCluster::start().expect("start a cluster");
        let url = cluster.url();
        let dir = cluster.dir.path().to_owned();
        let one: i32 = {
            let mut c = PgConnection::connect(&url).await.expect("connect");
            sqlx::query_scalar("SELECT 1")
                .fetch_one(&mut c)
                .await
                .expect("query")
        };
        assert_eq!(one, 1);
        cluster.restart().expect("restart");
        assert_eq!(cluster.url(), url, "a restart keeps the port");
        let mut c = PgConnection::connect(&url)
            .await
            .expect("reconnect after restart");
        let fsync: String = sqlx::query_scalar("SHOW fsync")
            .fetch_one(&mut c)
            .await
            .expect("query");
        assert_eq!(fsync, "off");
        drop(c);
        cluster.stop().expect("stop");
        assert!(!cluster.is_running());
        assert!(
            PgConnection::connect(&url).await.is_err(),
            "stopped means unreachable"
        );
        drop(cluster);
        assert!(!dir.exists(), "the cluster directory is removed");
    }
}
