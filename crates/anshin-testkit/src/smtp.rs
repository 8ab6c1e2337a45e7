//! A real SMTP server for tests: aiosmtpd (`pip install aiosmtpd`, done by
//! `scripts/setup --test`) on a free loopback port, storing every message
//! it accepts in a Maildir. Tests read the Maildir to see exactly what a
//! mail system would have received, so nothing about SMTP is mocked.
//!
//! The process is killed when the [`SmtpSink`] is dropped, also when the
//! test panics.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How the sink speaks TLS.
#[derive(Debug, Clone)]
pub enum SinkTls {
    /// Plain SMTP.
    None,
    /// STARTTLS offered and required before `MAIL FROM` (aiosmtpd's
    /// default when given `--tlscert`), so a delivery proves the upgrade.
    StartTls { cert: PathBuf, key: PathBuf },
    /// TLS from the first byte (SMTPS).
    Implicit { cert: PathBuf, key: PathBuf },
}

/// A running aiosmtpd with a Maildir.
#[derive(Debug)]
pub struct SmtpSink {
    pub port: u16,
    /// `<tempdir>/maildir`: new mail lands in `new/`.
    pub maildir: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

impl SmtpSink {
    /// Plain SMTP on `127.0.0.1:<free port>`.
    pub fn start() -> Self {
        Self::start_with(SinkTls::None)
    }

    /// On a free port; if another process took the port before aiosmtpd
    /// could bind it, again on another (up to 5 ports).
    pub fn start_with(tls: SinkTls) -> Self {
        let mut last = String::new();
        for _ in 0..5 {
            match Self::try_start_at(free_port(), &tls) {
                Ok(sink) => return sink,
                Err(why) => last = why,
            }
        }
        panic!("{last}");
    }

    /// On a port of the caller's choosing, which must be free: panics
    /// with aiosmtpd's error otherwise.
    pub fn start_at(port: u16, tls: SinkTls) -> Self {
        Self::try_start_at(port, &tls).unwrap_or_else(|why| panic!("{why}"))
    }

    fn try_start_at(port: u16, tls: &SinkTls) -> Result<Self, String> {
        let probe = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !probe.is_ok_and(|s| s.success()) {
            panic!(
                "aiosmtpd is not installed: the SMTP tests need a real SMTP server. \
                 Run `scripts/setup --test` or `python3 -m pip install aiosmtpd`."
            );
        }
        let dir = tempfile::tempdir().expect("tempdir for the SMTP sink");
        // aiosmtpd's Mailbox handler creates the Maildir and refuses an
        // existing directory.
        let maildir = dir.path().join("maildir");
        let mut cmd = Command::new("python3");
        cmd.args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"]);
        match tls {
            SinkTls::None => {}
            SinkTls::StartTls { cert, key } => {
                cmd.arg("--tlscert").arg(cert).arg("--tlskey").arg(key);
            }
            SinkTls::Implicit { cert, key } => {
                cmd.arg("--smtpscert").arg(cert).arg("--smtpskey").arg(key);
            }
        }
        // Class arguments come last, after all options.
        cmd.arg(&maildir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let child = cmd.spawn().expect("spawn python3 -m aiosmtpd");
        let mut sink = SmtpSink {
            port,
            maildir,
            child,
            _dir: dir,
        };
        sink.wait_until_listening()?;
        Ok(sink)
    }

    /// `127.0.0.1:<port>`
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Waits until *this* aiosmtpd listens on the port. A connection that
    /// succeeds proves only that something listens there: if another
    /// test's server or sink took the port between [`free_port`] and this
    /// process's bind, this one fails to bind and exits, and the mails of
    /// the test would go to the other one (sent, and never seen here). So
    /// the listening socket must be one of the child's own.
    fn wait_until_listening(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if TcpStream::connect_timeout(&self.addr(), Duration::from_millis(200)).is_ok()
                && listener_is_process(self.port, self.child.id())
            {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                let mut err = String::new();
                if let Some(mut stderr) = self.child.stderr.take() {
                    use std::io::Read;
                    let _ = stderr.read_to_string(&mut err);
                }
                return Err(format!(
                    "aiosmtpd exited ({status}) before listening: {err}"
                ));
            }
            if Instant::now() > deadline {
                panic!("aiosmtpd did not listen on {} within 20 s", self.addr());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Every message received so far, as the raw bytes the Maildir holds
    /// (aiosmtpd adds `X-Peer`, `X-MailFrom` and `X-RcptTo` headers with
    /// the envelope), oldest first by file name.
    pub fn messages(&self) -> Vec<Vec<u8>> {
        let mut files: Vec<PathBuf> = ["new", "cur"]
            .iter()
            .filter_map(|sub| std::fs::read_dir(self.maildir.join(sub)).ok())
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| std::fs::read(p).expect("read a Maildir message"))
            .collect()
    }

    /// Waits until at least `n` messages have arrived and returns them;
    /// panics after `timeout` with what did arrive.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Vec<u8>> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= n {
                return messages;
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "expected {n} message(s) in {} within {timeout:?}, found {}",
                    self.maildir.display(),
                    messages.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn maildir(&self) -> &Path {
        &self.maildir
    }

    /// Whether the aiosmtpd process still runs, and if not, how it ended
    /// (for a test's failure message).
    pub fn state(&self) -> String {
        let port_ok = listener_is_process(self.port, self.child.id());
        match std::fs::metadata(format!("/proc/{}", self.child.id())) {
            Ok(_) if port_ok => format!("aiosmtpd running, listening on {}", self.addr()),
            Ok(_) => format!(
                "aiosmtpd running, but {} is not its listening socket",
                self.addr()
            ),
            Err(_) => "aiosmtpd has exited".into(),
        }
    }
}

/// Whether the socket listening on 127.0.0.1:`port` belongs to process
/// `pid`: its inode in `/proc/net/tcp` is one of the process's open files.
fn listener_is_process(port: u16, pid: u32) -> bool {
    let wanted = format!("0100007F:{port:04X}");
    let Ok(table) = std::fs::read_to_string("/proc/net/tcp") else {
        return false;
    };
    // Columns: sl, local_address, rem_address, st (0A = LISTEN), …, inode.
    let Some(inode) = table.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        (cols.get(1) == Some(&wanted.as_str()) && cols.get(3) == Some(&"0A"))
            .then(|| cols.get(9).map(|i| format!("socket:[{i}]")))
            .flatten()
    }) else {
        return false;
    };
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .any(|fd| {
            std::fs::read_link(fd.path()).is_ok_and(|target| target.as_os_str() == inode.as_str())
        })
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nobody listens on right now: bind port 0, read it, close it.
/// Another process could take it in between; aiosmtpd then fails to bind,
/// which the sink's start notices (the listener it finds must be its
/// own) and answers by trying another port.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}
