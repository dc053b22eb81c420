//! What a person sees while bcq works: steps, a live progress line on a
//! terminal (periodic log lines otherwise), and logging setup.

use bcq_core::engine::Progress;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

/// Log line format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for machines.
    Json,
}

/// Whether stderr takes colour: a terminal, and `NO_COLOR` unset
/// (<https://no-color.org>). Pipes, files and journald get plain text.
pub fn colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Sets up `tracing` on stderr, every line redacted of the configured
/// secrets ([`crate::redact`]). `RUST_LOG` refines the level.
pub fn init_logging(format: LogFormat, verbose: u8) {
    let default = match verbose {
        0 => "warn,bcq=info",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| crate::redact::RedactingWriter::new(std::io::stderr()))
        .with_ansi(colour())
        .with_target(false);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.compact().try_init(),
    };
}

/// The progress display of a run.
#[derive(Clone, Debug)]
pub struct Ui {
    /// Draw a live bar (stderr is a terminal and logs are text).
    live: bool,
}

/// A running progress display; stops when finished or dropped.
pub struct Ticker {
    task: Option<tokio::task::JoinHandle<()>>,
    bar: Option<ProgressBar>,
}

impl Ticker {
    /// Stops the display.
    pub fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop();
    }
}

fn line(p: &Progress, started: Instant) -> String {
    let pushed = p.pushed.load(Relaxed);
    let secs = started.elapsed().as_secs_f64().max(0.001);
    format!(
        "read {} · pushed {} · unchanged {} · deleted {} · failed {} · {:.0} docs/s",
        p.read.load(Relaxed),
        pushed,
        p.unchanged.load(Relaxed),
        p.deleted.load(Relaxed),
        p.failed.load(Relaxed),
        pushed as f64 / secs
    )
}

impl Ui {
    /// A display suited to where stderr goes.
    pub fn new(format: LogFormat, no_progress: bool) -> Self {
        Ui {
            live: !no_progress && format == LogFormat::Text && std::io::stderr().is_terminal(),
        }
    }

    /// Announces a step.
    pub fn step(&self, what: &str) {
        tracing::info!("{what}");
    }

    /// Shows the counters until the ticker is finished.
    pub fn start_progress(&self, progress: Arc<Progress>) -> Ticker {
        let started = Instant::now();
        if self.live {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
                    .expect("valid template"),
            );
            let b = bar.clone();
            let task = tokio::spawn(async move {
                loop {
                    b.set_message(line(&progress, started));
                    b.tick();
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            });
            Ticker {
                task: Some(task),
                bar: Some(bar),
            }
        } else {
            let task = tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(10)).await;
                    tracing::info!("{}", line(&progress, started));
                }
            });
            Ticker {
                task: Some(task),
                bar: None,
            }
        }
    }
}
