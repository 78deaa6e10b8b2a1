//! Captures a plugin's stdout and stderr into its [`LogSink`], one log line
//! per text line (stdout at `info`, stderr at `warn`, as the WIT promises).
//!
//! A Rust guest's panic message is written to stderr just before the trap
//! ("unreachable executed"); capturing it here is what lets a trap report say
//! *why* the plugin panicked.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

use super::log_sink::{LogSink, MAX_LINE_BYTES};

/// One captured stream (stdout or stderr) of one instance.
#[derive(Clone)]
pub struct StdioCapture {
    level: &'static str,
    sink: LogSink,
    partial: Arc<Mutex<Vec<u8>>>,
}

impl StdioCapture {
    pub fn new(level: &'static str, sink: LogSink) -> Self {
        StdioCapture {
            level,
            sink,
            partial: Arc::default(),
        }
    }

    fn write_bytes(&self, bytes: &[u8]) {
        let mut partial = self.partial.lock().unwrap_or_else(|e| e.into_inner());
        for &b in bytes {
            if b == b'\n' {
                let line = String::from_utf8_lossy(&partial).into_owned();
                self.sink.push(self.level, &line);
                partial.clear();
            } else if partial.len() < MAX_LINE_BYTES + 4 {
                partial.push(b);
            }
        }
    }

    /// Emits an unterminated last line (called after every export call).
    pub fn flush_partial(&self) {
        let mut partial = self.partial.lock().unwrap_or_else(|e| e.into_inner());
        if !partial.is_empty() {
            let line = String::from_utf8_lossy(&partial).into_owned();
            self.sink.push(self.level, &line);
            partial.clear();
        }
    }
}

impl IsTerminal for StdioCapture {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for StdioCapture {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

/// Largest write accepted at once; the guest loops for more.
const WRITE_BUDGET: usize = 64 << 10;

#[async_trait::async_trait]
impl Pollable for StdioCapture {
    async fn ready(&mut self) {}
}

#[async_trait::async_trait]
impl OutputStream for StdioCapture {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.write_bytes(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }
    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(WRITE_BUDGET)
    }
}

impl AsyncWrite for StdioCapture {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.write_bytes(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
