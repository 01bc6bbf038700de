//! The real `ethpeer` binary as a child process: start it with ephemeral ports, read the
//! addresses it prints, follow its log, call its JSON-RPC and metrics endpoints.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// The stderr lines of a child process: every line so far, and a channel of new ones.
pub struct LogFollower {
    /// Every line read so far.
    pub logs: Vec<String>,
    new_logs: mpsc::UnboundedReceiver<String>,
    /// Who is talking, for failure messages.
    who: &'static str,
}

impl LogFollower {
    /// Follows `stderr` of `who`.
    pub fn start(stderr: tokio::process::ChildStderr, who: &'static str) -> Self {
        let (tx, new_logs) = mpsc::unbounded_channel();
        let mut lines = BufReader::new(stderr).lines();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = tx.send(line);
            }
        });
        Self {
            logs: Vec::new(),
            new_logs,
            who,
        }
    }

    /// Waits (up to `limit`) for a line containing every one of `needles`; a deadline for
    /// a hung test, not a speed requirement.
    pub async fn line(&mut self, needles: &[&str], limit: Duration) -> String {
        let hit = |line: &String| needles.iter().all(|n| line.contains(n));
        if let Some(line) = self.logs.iter().find(|l| hit(l)) {
            return line.clone();
        }
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let line = tokio::time::timeout_at(deadline, self.new_logs.recv())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "{}: no log line with {needles:?}; got {:#?}",
                        self.who, self.logs
                    )
                })
                .unwrap_or_else(|| panic!("{} exited; logs {:#?}", self.who, self.logs));
            self.logs.push(line.clone());
            if hit(&line) {
                return line;
            }
        }
    }

    /// Takes in every line until the process closes its stderr (or `limit` passes): what a
    /// process that exited said last.
    pub async fn drain_until_closed(&mut self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while let Ok(Some(line)) = tokio::time::timeout_at(deadline, self.new_logs.recv()).await {
            self.logs.push(line);
        }
    }

    /// Takes in the lines that arrived without waiting.
    pub fn drain(&mut self) {
        while let Ok(line) = self.new_logs.try_recv() {
            self.logs.push(line);
        }
    }
}

/// One running `ethpeer node`.
pub struct Binary {
    pub child: Child,
    /// The enode URL it printed.
    pub enode: String,
    /// Its JSON-RPC base URL.
    pub rpc: String,
    /// Its metrics URL.
    pub metrics: String,
    /// Its WebSocket RPC URL (with `--ws`).
    pub ws: Option<String>,
    /// Its engine API URL (with `--authrpc.jwtsecret`).
    pub authrpc: Option<String>,
    /// Its stderr (log) lines.
    log: LogFollower,
}

impl Drop for Binary {
    /// A failed test shows the node's last log lines (its stderr), so the cause is there
    /// to read.
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.log.drain();
            let tail = self.log.logs.len().saturating_sub(60);
            eprintln!(
                "ethpeer {}'s last log lines:\n{}",
                self.enode.get(..20).unwrap_or_default(),
                self.log.logs[tail..].join("\n")
            );
        }
    }
}

impl Binary {
    /// Starts `ethpeer node` with a data folder, ephemeral ports and `extra` flags.
    pub async fn start(datadir: &Path, extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ethpeer"))
            .arg("node")
            .arg("--datadir")
            .arg(datadir)
            .args([
                "--port",
                "0",
                "--rpc",
                "127.0.0.1:0",
                "--metrics",
                "127.0.0.1:0",
                "--txpool.arrivalwait",
                "0",
            ])
            // The dev network produces blocks by default; tests that want a pool to stay
            // pending run without (those that produce say so).
            .args(match extra.contains(&"--dev.period") {
                true => &[][..],
                false => &["--dev.period", "off"][..],
            })
            .args(extra)
            .env(
                "RUST_LOG",
                std::env::var("ETHPEER_TEST_LOG").unwrap_or("info".into()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("ethpeer starts");
        // Follow stderr from the start: a node that exits before printing its addresses
        // must show why (its log and exit status), not only that it exited.
        let mut log = LogFollower::start(child.stderr.take().expect("stderr"), "ethpeer");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut printed = Vec::new();
        // enode, rpc, ws (with --ws), metrics: the metrics line comes last.
        while !printed
            .last()
            .is_some_and(|l: &String| l.starts_with("metrics "))
        {
            let next = tokio::time::timeout(Duration::from_secs(30), stdout.next_line()).await;
            match next {
                Ok(Ok(Some(line))) => printed.push(line),
                Ok(Ok(None)) | Ok(Err(_)) => {
                    let status = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
                    log.drain_until_closed(Duration::from_secs(5)).await;
                    panic!(
                        "ethpeer exited early ({status:?}) after printing {printed:?}; its log:\n{}",
                        log.logs.join("\n")
                    );
                }
                Err(_) => {
                    log.drain();
                    panic!(
                        "ethpeer printed no addresses within 30 s (got {printed:?}); its log:\n{}",
                        log.logs.join("\n")
                    );
                }
            }
        }
        let printed_as = |prefix: &str| {
            printed
                .iter()
                .find_map(|l| l.strip_prefix(prefix))
                .map(String::from)
        };
        let enode = printed[0].clone();
        let rpc = printed_as("rpc ").expect("an rpc line");
        let ws = printed_as("ws ");
        let authrpc = printed_as("authrpc ");
        let metrics = printed_as("metrics ").expect("a metrics line");
        assert!(enode.starts_with("enode://"), "{enode}");
        Self {
            child,
            enode,
            rpc,
            metrics,
            ws,
            authrpc,
            log,
        }
    }

    /// Waits (up to 20 s) for a log line containing every one of `needles`.
    pub async fn log_line(&mut self, needles: &[&str]) -> String {
        self.log.line(needles, Duration::from_secs(20)).await
    }

    /// One JSON-RPC call; the whole answer.
    pub async fn call(&self, method: &str, params: Value) -> Value {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let (status, text) = http(&self.rpc, "POST", "/", &body.to_string()).await;
        assert_eq!(status, 200, "{text}");
        serde_json::from_str(&text).expect("JSON answer")
    }

    /// The Prometheus text.
    pub async fn metrics(&self) -> String {
        let path = self.metrics.trim_start_matches("http://");
        let (addr, path) = path.split_once('/').expect("a path");
        let (status, text) = http(&format!("http://{addr}"), "GET", &format!("/{path}"), "").await;
        assert_eq!(status, 200);
        text
    }

    /// Sends SIGKILL and waits for the process to end (a crash: nothing runs after it).
    pub async fn kill(&mut self) {
        self.child.start_kill().expect("kill");
        let _ = self.child.wait().await;
    }

    /// Waits (up to `limit`) for the process to exit; its status.
    pub async fn exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        tokio::time::timeout(limit, self.child.wait())
            .await
            .ok()
            .and_then(Result::ok)
    }

    /// Sends SIGINT (Ctrl-C).
    pub fn interrupt(&self) {
        interrupt(&self.child);
    }
}

/// Sends SIGINT (Ctrl-C) to a running child process.
pub fn interrupt(child: &Child) {
    let pid = child.id().expect("running");
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

/// A minimal HTTP/1.1 exchange (one request per connection).
pub async fn http(base: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    http_with(base, method, path, &[], body).await
}

/// [`http`] with extra request headers (`name: value` lines without CRLF); a chunked
/// answer (Go's net/http for larger bodies) is reassembled.
pub async fn http_with(
    base: &str,
    method: &str,
    path: &str,
    headers: &[String],
    body: &str,
) -> (u16, String) {
    let addr = base.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let extra: String = headers.iter().map(|h| format!("{h}\r\n")).collect();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         {extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .expect("answer in time")
        .expect("read");
    let text = String::from_utf8_lossy(&response).to_string();
    let (head, body) = text.split_once("\r\n\r\n").expect("HTTP response");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, body)
}

/// The payload of a chunked HTTP body: hex size lines, each followed by that many bytes.
fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).expect("chunk size");
        if size == 0 {
            break;
        }
        out.push_str(&tail[..size]);
        rest = &tail[size + 2..];
    }
    out
}

/// The value of the first metrics line starting with `line_prefix`.
pub fn counter(metrics: &str, line_prefix: &str) -> u64 {
    metrics
        .lines()
        .find(|l| l.starts_with(line_prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
