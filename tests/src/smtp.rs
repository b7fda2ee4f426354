//! A real SMTP server for tests: Debian's aiosmtpd running `tests/support/smtp_sink.py`, which
//! stores each message as a file; messages are read back with `mail-parser`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Debian's interpreter, which has python3-aiosmtpd (the one on PATH may be another).
pub const PYTHON: &str = "/usr/bin/python3";

/// A running smtp_sink.py; stopped (stdin closed, then killed if need be) on drop.
pub struct SmtpSink {
    child: Child,
    stdin: Option<ChildStdin>,
    pub port: u16,
    dir: tempfile::TempDir,
}

/// One received message, decoded.
#[derive(Clone, Debug)]
pub struct Mail {
    pub to: String,
    pub from: String,
    pub subject: String,
    pub body: String,
    pub raw: Vec<u8>,
}

impl SmtpSink {
    /// Starts the sink on a free port; with `auth`, it requires those credentials.
    pub fn start(auth: Option<(&str, &str)>) -> SmtpSink {
        require_aiosmtpd();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("support/smtp_sink.py");
        assert!(script.is_file(), "missing {}", script.display());
        let mut last_error = String::new();
        // The free port is found by binding and releasing it, so another process may take it
        // in between; try a few times before calling it a failure.
        for _ in 0..3 {
            let dir = tempfile::tempdir().expect("temp dir");
            let port = crate::free_port();
            let stderr = std::fs::File::create(dir.path().join("stderr.log")).expect("log file");
            let mut command = Command::new(PYTHON);
            command
                .arg(&script)
                .args(["--port", &port.to_string()])
                .arg("--maildir")
                .arg(dir.path().join("mail"))
                .arg("--watch-stdin")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(stderr);
            if let Some((user, password)) = auth {
                command.args(["--auth-user", user, "--auth-password", password]);
            }
            let mut child = command.spawn().expect("spawn smtp_sink.py");
            let stdout = child.stdout.take().expect("piped stdout");
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
            let ready = rx
                .recv_timeout(Duration::from_secs(20))
                .is_ok_and(|line| line.trim() == "READY");
            let stdin = child.stdin.take();
            let sink = SmtpSink {
                child,
                stdin,
                port,
                dir,
            };
            if ready {
                return sink;
            }
            last_error = sink.stderr();
        }
        panic!("smtp_sink.py did not print READY; its stderr:\n{last_error}");
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    /// A `[smtp]` section pointing at this sink.
    pub fn toml(&self, from: &str) -> String {
        format!(
            "[smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nfrom = \"{from}\"\ntimeout_seconds = 5\n",
            self.port
        )
    }

    /// The stored messages, oldest first. The sink renames each file into place only once it
    /// is complete, so every file listed is a whole message.
    pub fn messages(&self) -> Vec<Mail> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(self.dir.path().join("mail"))
            .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        paths.retain(|p| p.extension().is_some_and(|e| e == "eml"));
        paths.sort();
        paths
            .iter()
            .map(|p| parse(&std::fs::read(p).expect("read a stored message")))
            .collect()
    }

    /// Messages to `to`, oldest first.
    pub fn messages_to(&self, to: &str) -> Vec<Mail> {
        self.messages()
            .into_iter()
            .filter(|m| m.to.contains(to))
            .collect()
    }

    /// Waits (a few seconds at most) for a message to `to` beyond the first `seen`.
    pub fn wait_for(&self, to: &str, seen: usize) -> Mail {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut list = self.messages_to(to);
            if list.len() > seen {
                return list.remove(seen);
            }
            assert!(Instant::now() < deadline, "no message to {to} arrived");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Decodes a message with `mail-parser` (headers, RFC 2047 words, transfer encodings).
pub fn parse(raw: &[u8]) -> Mail {
    let msg = mail_parser::MessageParser::default()
        .parse(raw)
        .expect("a parseable RFC 5322 message");
    let addr = |a: Option<&mail_parser::Address>| -> String {
        a.map(|a| {
            a.iter()
                .filter_map(|x| x.address().map(str::to_string))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
    };
    Mail {
        to: addr(msg.to()),
        from: addr(msg.from()),
        subject: msg.subject().unwrap_or_default().to_string(),
        body: msg
            .body_text(0)
            .map(|b| b.replace("\r\n", "\n"))
            .unwrap_or_default(),
        raw: raw.to_vec(),
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        drop(self.stdin.take()); // --watch-stdin: the sink shuts down cleanly on EOF
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Fails (never skips) when the SMTP server cannot run, saying how to install it.
pub fn require_aiosmtpd() {
    match Command::new(PYTHON)
        .args(["-c", "import aiosmtpd"])
        .output()
    {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "{PYTHON} cannot import aiosmtpd, which the SMTP tests need; the test command \
             installs it (apt-get install python3-aiosmtpd)\n{}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => panic!(
            "cannot run {PYTHON} ({e}); the SMTP tests need it with aiosmtpd: \
             apt-get install python3 python3-aiosmtpd"
        ),
    }
}
