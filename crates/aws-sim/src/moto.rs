//! moto's S3 server for tests: an S3-compatible server on a free loopback
//! port, run as `$BCQ_TEST_PYTHON -m moto.server` (default `python3`;
//! `scripts/test` installs moto in a virtual environment and names its
//! Python there). Killed on drop.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running moto server.
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Moto {
    /// Starts the server and waits (at most 60 s) until it answers as S3;
    /// panics, saying to run `scripts/test`, when moto is missing.
    ///
    /// The port is chosen free, then released for moto to bind; another
    /// server of the same test process may take it in between. So moto
    /// counts as up only when the port answers with S3's bucket list, and a
    /// moto that lost its port (it exits) is started again on another.
    pub fn start() -> Moto {
        let python = std::env::var("BCQ_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        for _ in 0..5 {
            if let Some(moto) = Moto::try_start(&python) {
                return moto;
            }
        }
        panic!(
            "moto's S3 server did not start on five free ports under {python}: run the tests with scripts/test, which installs moto"
        );
    }

    fn try_start(python: &str) -> Option<Moto> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let child = Command::new(python)
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "{python} could not start ({e}): the S3 tests need moto's server; run the tests with scripts/test, which installs it"
                )
            });
        let mut moto = Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if answers_as_s3(port) {
                return Some(moto);
            }
            if let Ok(Some(_)) = moto.child.try_wait() {
                // It could not bind: someone else has the port.
                return None;
            }
            assert!(Instant::now() < deadline, "moto did not start in 60 s");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Whether `port` answers `GET /` with S3's bucket list (moto), not
/// something else that took the port.
fn answers_as_s3(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    if stream
        .write_all(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.contains("ListAllMyBucketsResult")
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
