//! Zipkin JSON to a file (`ZIPKIN_ENDPOINT=file:<path>`) or to standard output (`stdout`).
//!
//! The file always holds one valid JSON array of v2 spans, which the Zipkin UI's "Upload JSON"
//! button (on the trace page) loads: it is created as `[]`, and each message's spans are
//! spliced in before the closing bracket (the `]` is overwritten by `,<spans>]`). The file is
//! started afresh when the tracer is built; only one process should write a given file. The UI
//! shows one trace per upload, so a file with several traces is best split by `traceId` (for
//! example with `jq`) before uploading.
//!
//! Standard output gets one JSON array per message, one per line.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::encode::Encoding;
use crate::error::TransportError;
use crate::transport::{Message, Transport};

/// Writes spans as one Zipkin JSON array into a file.
///
/// ```
/// use zipkin_runtime::{SpanGuard, Tracer, transport::file::FileTransport};
/// let path = std::env::temp_dir().join(format!("zipkin-doc-{}.json", std::process::id()));
/// let file = FileTransport::create(&path).unwrap();
/// let tracer = Tracer::builder().service_name("svc").transport(file).build().unwrap();
/// tracer.in_scope(|| drop(SpanGuard::new("work")));
/// tracer.flush(std::time::Duration::from_secs(5));
/// let spans: Vec<zipkin_runtime::model::Span> =
///     serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
/// assert_eq!(spans[0].name.as_deref(), Some("work"));
/// # std::fs::remove_file(&path).unwrap();
/// ```
#[derive(Debug)]
pub struct FileTransport {
    path: PathBuf,
    state: Mutex<FileState>,
}

#[derive(Debug)]
struct FileState {
    file: File,
    /// Whether the array already holds a span (the next one needs a comma).
    non_empty: bool,
}

impl FileTransport {
    /// Creates (or truncates) the file as an empty array and says on standard error where it
    /// is.
    pub fn create(path: impl AsRef<Path>) -> std::io::Result<FileTransport> {
        let path = path.as_ref();
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        file.write_all(b"[]")?;
        let shown = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        eprintln!(
            "zipkin: writing spans to {} (load it with the \"Upload JSON\" button of the Zipkin UI)",
            shown.display()
        );
        Ok(FileTransport {
            path: shown,
            state: Mutex::new(FileState {
                file,
                non_empty: false,
            }),
        })
    }

    /// Where the spans go.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The spans of a JSON message, without the brackets.
fn inner(body: &[u8]) -> &[u8] {
    body.strip_prefix(b"[")
        .and_then(|b| b.strip_suffix(b"]"))
        .unwrap_or(body)
}

impl Transport for FileTransport {
    fn encoding(&self) -> Encoding {
        Encoding::Json
    }

    fn send(&self, msg: &Message) -> Result<(), TransportError> {
        let spans = inner(&msg.body);
        if spans.is_empty() {
            return Ok(());
        }
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let io = |e: std::io::Error| {
            TransportError::Io(format!(
                "cannot write spans to {}: {e}",
                self.path.display()
            ))
        };
        // One write per message: `,` (unless first) + spans + `]` over the old `]`.
        let mut chunk = Vec::with_capacity(spans.len() + 2);
        if st.non_empty {
            chunk.push(b',');
        }
        chunk.extend_from_slice(spans);
        chunk.push(b']');
        st.file.seek(SeekFrom::End(-1)).map_err(io)?;
        st.file.write_all(&chunk).map_err(io)?;
        st.non_empty = true;
        Ok(())
    }
}

/// Writes each message to standard output as a JSON array on its own line.
#[derive(Debug, Default, Clone, Copy)]
pub struct StdoutTransport;

impl StdoutTransport {
    fn write_to(w: &mut impl Write, msg: &Message) -> std::io::Result<()> {
        let mut line = Vec::with_capacity(msg.body.len() + 1);
        line.extend_from_slice(&msg.body);
        line.push(b'\n');
        w.write_all(&line)?;
        w.flush()
    }
}

impl Transport for StdoutTransport {
    fn encoding(&self) -> Encoding {
        Encoding::Json
    }

    fn send(&self, msg: &Message) -> Result<(), TransportError> {
        StdoutTransport::write_to(&mut std::io::stdout().lock(), msg)
            .map_err(|e| TransportError::Io(format!("cannot write spans to stdout: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdout_writes_one_array_per_line() {
        let mut out = Vec::new();
        for body in [&b"[{\"a\":1}]"[..], b"[{\"b\":2},{\"c\":3}]"] {
            let msg = Message {
                body: body.to_vec(),
                spans: 1,
                encoding: Encoding::Json,
            };
            StdoutTransport::write_to(&mut out, &msg).unwrap();
        }
        let lines: Vec<serde_json::Value> = out
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].as_array().unwrap().len(), 2);
    }
}
