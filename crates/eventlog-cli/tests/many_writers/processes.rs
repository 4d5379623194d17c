//! The processes of the run: `eventlog serve` servers, and what library writers report.

use super::*;

/// A child process, killed when dropped (servers; writers that outlive a failed test).
pub(super) struct Process(pub(super) Child);

pub(super) fn eventlog(url: &str, config: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_eventlog"));
    c.env("EVENTLOG_DATABASE_URL", url)
        .env("EVENTLOG_CONFIG", config)
        .env("NO_COLOR", "1");
    c
}

/// Starts `eventlog serve` on a free port and returns it with its base URL. Its stderr is
/// read on a thread for as long as it runs (a full pipe would block its logging), and the
/// first lines are passed on to ours.
pub(super) fn serve(url: &str, config: &Path, n: usize) -> (Process, String) {
    let mut child = eventlog(url, config)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start eventlog serve");
    let stderr = child.stderr.take().unwrap();
    let process = Process(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut shown = 0;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(base) = line.split_whitespace().find(|w| w.starts_with("http://")) {
                let _ = tx.send(base.trim_end_matches('/').to_owned());
            }
            if shown < 100 {
                eprintln!("[server {n}] {line}");
                shown += 1;
            }
        }
    });
    let base = rx
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("server {n} did not print its address"));
    (process, base)
}

/// Reads a library writer's output: its acknowledged uuids and its retry count.
pub(super) fn read_writer_output(path: &PathBuf) -> (Vec<Uuid>, u64) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut uuids = Vec::new();
    let mut retried = None;
    for line in text.lines() {
        match line.strip_prefix("retried ") {
            Some(n) => retried = Some(n.parse().unwrap()),
            None => uuids.push(line.parse().unwrap()),
        }
    }
    let retried = retried.unwrap_or_else(|| panic!("{} has no final line", path.display()));
    (uuids, retried)
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
