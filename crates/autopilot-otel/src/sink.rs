//! Live export: a session sink that writes each session's trace file as before and, when the
//! session's writer is dropped (its span closed), queues the same bytes for the exporter.

use std::io::{self, Write};

use autopilot_trace::{SessionId, SessionSink};

use crate::export::ExportHandle;

/// Wraps the sink of the JSONL layer; with no exporter it only passes through.
#[derive(Debug)]
pub struct ExportingSink<S> {
    inner: S,
    exporter: Option<ExportHandle>,
}

impl<S: SessionSink> ExportingSink<S> {
    pub fn new(inner: S, exporter: Option<ExportHandle>) -> Self {
        ExportingSink { inner, exporter }
    }
}

impl<S: SessionSink> SessionSink for ExportingSink<S> {
    fn open(&self, session: &SessionId) -> io::Result<Box<dyn Write + Send>> {
        let out = self.inner.open(session)?;
        Ok(match &self.exporter {
            Some(exporter) => Box::new(TeeWriter {
                out,
                copy: Vec::new(),
                exporter: exporter.clone(),
            }),
            None => out,
        })
    }
}

/// The session's file writer plus an in-memory copy of what reached the file.
struct TeeWriter {
    out: Box<dyn Write + Send>,
    copy: Vec<u8>,
    exporter: ExportHandle,
}

impl Write for TeeWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.out.write(buf)?;
        self.copy.extend_from_slice(&buf[..written]);
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl Drop for TeeWriter {
    fn drop(&mut self) {
        // The JSONL layer drops a session's writer when the session span closes.
        if !self.copy.is_empty() {
            self.exporter.submit_lines(std::mem::take(&mut self.copy));
        }
    }
}
