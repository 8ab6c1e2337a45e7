//! The real `anshin` binary as a child process, for what only a process can
//! show: signals (SIGTERM, SIGHUP), exit codes, the command line, and the
//! `listening on …` lines operators rely on.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct ServerProcess {
    pub child: Child,
    pub public: SocketAddr,
    pub redirect: SocketAddr,
    pub ops: SocketAddr,
    /// Every stdout line so far (JSON log lines).
    pub lines: Arc<Mutex<Vec<String>>>,
    pub data_dir: PathBuf,
}

impl ServerProcess {
    /// Starts `bin serve` with all listeners on free ports and waits (up to
    /// 30 s) until the three `listening on` lines were logged.
    pub fn start(bin: &Path, data_dir: &Path, env: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(bin);
        cmd.arg("serve")
            .env("ANSHIN_DATA_DIR", data_dir)
            .env("ANSHIN_LISTEN__PUBLIC", "127.0.0.1:0")
            .env("ANSHIN_LISTEN__REDIRECT", "127.0.0.1:0")
            .env("ANSHIN_LISTEN__OPS", "127.0.0.1:0")
            .env("ANSHIN_LISTEN__STAFF", "127.0.0.1:0")
            .env("ANSHIN_LOG__FORMAT", "json")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn anshin");
        let stdout = child.stdout.take().expect("stdout piped");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().expect("lines lock").push(line);
            }
        });
        let mut proc = Self {
            child,
            public: "0.0.0.0:0".parse().expect("addr"),
            redirect: "0.0.0.0:0".parse().expect("addr"),
            ops: "0.0.0.0:0".parse().expect("addr"),
            lines,
            data_dir: data_dir.to_owned(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let found = proc.listening();
            if let (Some(p), Some(r), Some(o)) = found {
                proc.public = p;
                proc.redirect = r;
                proc.ops = o;
                return proc;
            }
            if let Ok(Some(status)) = proc.child.try_wait() {
                panic!("anshin exited early ({status}): {:?}", proc.lines.lock());
            }
            assert!(
                Instant::now() < deadline,
                "no listening lines: {:?}",
                proc.lines.lock()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn listening(&self) -> (Option<SocketAddr>, Option<SocketAddr>, Option<SocketAddr>) {
        let lines = self.lines.lock().expect("lines lock");
        let find = |scheme: &str, tag: Option<&str>| {
            lines.iter().find_map(|l| {
                let rest = l.split(&format!("listening on {scheme}://")).nth(1)?;
                let addr: String = rest
                    .chars()
                    .take_while(|c| !c.is_whitespace() && *c != '"')
                    .collect();
                match tag {
                    Some(t) if !rest.contains(t) => None,
                    _ => addr.parse().ok(),
                }
            })
        };
        (
            find("https", None),
            find("http", Some("redirects")),
            find("http", Some("ops")),
        )
    }

    pub fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill -{name} failed");
    }

    /// Waits up to `limit` for the process to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Waits up to 10 s for a log line containing `text`.
    pub fn wait_for_line(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(l) = self
                .lines
                .lock()
                .expect("lines lock")
                .iter()
                .find(|l| l.contains(text))
            {
                return l.clone();
            }
            assert!(Instant::now() < deadline, "no log line with {text:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn cert_pem(&self) -> Vec<u8> {
        std::fs::read(self.data_dir.join("tls/cert.pem")).expect("generated certificate")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
