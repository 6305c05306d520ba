//! Zipkin JSON to a file (`ZIPKIN_ENDPOINT=file:<path>`) or to standard output (`stdout`).
//!
//! The file always holds one valid JSON array of v2 spans, which the Zipkin UI's "Upload JSON"
//! button (on the trace page) loads: a new file is created as `[]`, and each message's spans are
//! spliced in before the closing bracket (the `]` is overwritten by `,<spans>]`). An existing
//! file is appended to the same way, so successive runs add to one array; a file that does not
//! hold a JSON array is refused when the tracer is built, and left as it is. Only one process
//! should write a given file at a time (a forked child does not write its parent's); within one
//! process, transports of the same file (two tracers, one replacing the other) share one handle
//! and lock, so that their spans join one array. The UI
//! shows one trace per upload, so a file with several traces is best split by `traceId` (for
//! example with `jq`) before uploading.
//!
//! Standard output gets one JSON array per message, one per line.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

use crate::encode::Encoding;
use crate::error::TransportError;
use crate::transport::{Message, Transport};

/// Writes spans as one Zipkin JSON array into a file.
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use zipkin_rs::{SpanGuard, Tracer, transport::file::FileTransport};
/// let path = std::env::temp_dir().join(format!("zipkin-doc-{}.json", std::process::id()));
/// let file = FileTransport::create(&path).unwrap();
/// let tracer = Tracer::builder().service_name("svc").transport(file).build().unwrap();
/// tracer.in_scope(|| drop(SpanGuard::new("work")));
/// tracer.flush(std::time::Duration::from_secs(5));
/// let spans: Vec<zipkin_rs::model::Span> =
///     serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
/// assert_eq!(spans[0].name.as_deref(), Some("work"));
/// # std::fs::remove_file(&path).unwrap();
/// ```
#[derive(Debug)]
pub struct FileTransport {
    path: PathBuf,
    /// Shared with every other transport of this process writing the same file.
    state: Arc<Mutex<FileState>>,
}

/// The files this process's transports have open, by canonical path and identity.
type OpenFiles = Vec<(PathBuf, Option<FileId>, Weak<Mutex<FileState>>)>;

/// Which file a handle is open on (device and inode): a path deleted and made again while a
/// transport writes the old file names another file.
type FileId = (u64, u64);

#[cfg(unix)]
fn file_id(file: &File) -> Option<FileId> {
    use std::os::unix::fs::MetadataExt;
    file.metadata().ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn file_id(_: &File) -> Option<FileId> {
    None
}

fn open_files() -> MutexGuard<'static, OpenFiles> {
    static OPEN: OnceLock<Mutex<OpenFiles>> = OnceLock::new();
    OPEN.get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

#[derive(Debug)]
struct FileState {
    file: File,
    /// Whether the array already holds a span (the next one needs a comma).
    non_empty: bool,
}

impl FileTransport {
    /// Opens the file to append spans to its array, creating it as `[]` if it is missing or
    /// empty, and says on standard error where it is. A file that holds something other than a
    /// JSON array is an error (`InvalidData`), and is not changed.
    pub fn create(path: impl AsRef<Path>) -> std::io::Result<FileTransport> {
        let path = path.as_ref();
        // Held until the new state is listed, so that two tracers starting together share it.
        let mut open = open_files();
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let shown = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let id = file_id(&file);
        open.retain(|(_, _, state)| state.strong_count() > 0);
        if let Some(state) = open
            .iter()
            .find(|(p, i, _)| *p == shown && *i == id)
            .and_then(|(_, _, state)| state.upgrade())
        {
            // Another transport of this process writes it: spans go through its handle.
            return Ok(FileTransport { path: shown, state });
        }
        let non_empty = match array_state(&mut file)? {
            Some(non_empty) => non_empty,
            None => {
                file.set_len(0)?;
                file.seek(SeekFrom::Start(0))?;
                file.write_all(b"[]")?;
                false
            }
        };
        eprintln!(
            "zipkin: {} spans to {} (load it with the \"Upload JSON\" button of the Zipkin UI)",
            if non_empty { "appending" } else { "writing" },
            shown.display()
        );
        let state = Arc::new(Mutex::new(FileState { file, non_empty }));
        open.push((shown.clone(), id, Arc::downgrade(&state)));
        Ok(FileTransport { path: shown, state })
    }

    /// Where the spans go.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Reads what an existing file holds, leaving it ready for `send`: `None` when it is empty (or
/// only whitespace), `Some(holds_spans)` for a JSON array, whose trailing whitespace is cut so
/// that it ends with its `]`. Only the ends are read: the array in between is this transport's
/// own output, or the user's choice.
fn array_state(file: &mut File) -> std::io::Result<Option<bool>> {
    const WINDOW: u64 = 4096;
    let len = file.metadata()?.len();
    let mut head = vec![0; len.min(WINDOW) as usize];
    file.seek(SeekFrom::Start(0))?;
    file.read_exact(&mut head)?;
    let Some(first) = head.iter().position(|b| !b.is_ascii_whitespace()) else {
        if len <= WINDOW {
            return Ok(None);
        }
        return Err(not_an_array("it starts with 4 KiB of whitespace"));
    };
    if head[first] != b'[' {
        return Err(not_an_array("it does not start with ["));
    }
    let tail_start = len.saturating_sub(WINDOW);
    let mut tail = vec![0; (len - tail_start) as usize];
    file.seek(SeekFrom::Start(tail_start))?;
    file.read_exact(&mut tail)?;
    let last = tail
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .ok_or_else(|| not_an_array("it ends with 4 KiB of whitespace"))?;
    if tail[last] != b']' {
        return Err(not_an_array("it does not end with ]"));
    }
    let close = tail_start + last as u64;
    if (tail_start + last as u64) <= first as u64 {
        return Err(not_an_array("it is a lone ["));
    }
    // Whitespace after the `]` (an editor's newline) is cut, so `send` can overwrite the `]`.
    file.set_len(close + 1)?;
    let before_close = tail[..last]
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map(|i| tail[i]);
    let holds_spans = match before_close {
        Some(b'[') => false,
        Some(_) => true,
        // The `[` is further back than the window: the array holds something.
        None => tail_start > first as u64,
    };
    Ok(Some(holds_spans))
}

fn not_an_array(why: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("the file is not a JSON array of spans to append to: {why}"),
    )
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

    fn message(spans: &[&str]) -> Message {
        Message {
            body: format!("[{}]", spans.join(",")).into_bytes(),
            spans: spans.len(),
            encoding: Encoding::Json,
        }
    }

    fn temp(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("zipkin-file-{}-{name}.json", std::process::id()))
    }

    /// Regression: two tracers of one process writing the same file (a second `install()`)
    /// each kept their own idea of whether the array held a span, and the second wrote its
    /// spans without a comma: `[{..}{..}]`, which no JSON reader takes.
    #[test]
    fn two_transports_of_one_file_write_one_array() {
        let path = temp("twice");
        let _ = std::fs::remove_file(&path);
        let first = FileTransport::create(&path).unwrap();
        let second = FileTransport::create(&path).unwrap();
        first.send(&message(&["{\"id\":\"1\"}"])).unwrap();
        second.send(&message(&["{\"id\":\"2\"}"])).unwrap();
        first.send(&message(&["{\"id\":\"3\"}"])).unwrap();
        drop(first);
        // The file stays shared while either is open; a later transport reads it afresh.
        let third = FileTransport::create(&path).unwrap();
        third.send(&message(&["{\"id\":\"4\"}"])).unwrap();
        drop((second, third));
        let fourth = FileTransport::create(&path).unwrap();
        fourth.send(&message(&["{\"id\":\"5\"}"])).unwrap();
        let all: Vec<serde_json::Value> =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let ids: Vec<&str> = all.iter().map(|s| s["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["1", "2", "3", "4", "5"]);
        // The file removed while `fourth` writes it: a new transport starts a new file there
        // rather than joining the handle of the removed one.
        std::fs::remove_file(&path).unwrap();
        let fifth = FileTransport::create(&path).unwrap();
        fifth.send(&message(&["{\"id\":\"6\"}"])).unwrap();
        let all: Vec<serde_json::Value> =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(all.len(), 1, "{all:?}");
        drop(fourth);
        std::fs::remove_file(&path).unwrap();
    }

    /// Regression: the docs said "append", but a second run left only its own spans.
    #[test]
    fn a_second_run_appends_to_the_first_runs_array() {
        let path = temp("append");
        let _ = std::fs::remove_file(&path);
        for run in [
            ["{\"id\":\"1\"}", "{\"id\":\"2\"}"],
            ["{\"id\":\"3\"}", "{\"id\":\"4\"}"],
        ] {
            let t = FileTransport::create(&path).unwrap();
            t.send(&message(&run[..1])).unwrap();
            t.send(&message(&run[1..])).unwrap();
        }
        let all: Vec<serde_json::Value> =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let ids: Vec<&str> = all.iter().map(|s| s["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["1", "2", "3", "4"]);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn an_empty_array_with_whitespace_and_a_missing_or_blank_file_are_started() {
        for (name, before) in [
            ("blank", Some("  \n")),
            ("missing", None),
            ("spaced", Some(" [ ] \n")),
        ] {
            let path = temp(name);
            let _ = std::fs::remove_file(&path);
            if let Some(text) = before {
                std::fs::write(&path, text).unwrap();
            }
            let t = FileTransport::create(&path).unwrap();
            t.send(&message(&["{\"id\":\"1\"}"])).unwrap();
            let all: Vec<serde_json::Value> =
                serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            assert_eq!(all.len(), 1, "{name}");
            std::fs::remove_file(&path).unwrap();
        }
    }

    #[test]
    fn a_large_array_is_appended_to_without_reading_it_whole() {
        let path = temp("large");
        let spans: Vec<String> = (0..2000).map(|i| format!("{{\"id\":\"{i}\"}}")).collect();
        std::fs::write(&path, format!("[{}]\n", spans.join(",\n"))).unwrap();
        let t = FileTransport::create(&path).unwrap();
        t.send(&message(&["{\"id\":\"last\"}"])).unwrap();
        let all: Vec<serde_json::Value> =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(all.len(), 2001);
        assert_eq!(all[2000]["id"], "last");
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_file_that_is_not_an_array_is_refused_and_left_unchanged() {
        for (name, text) in [("object", "{\"a\":1}"), ("text", "hello"), ("open", "[")] {
            let path = temp(name);
            std::fs::write(&path, text).unwrap();
            let e = FileTransport::create(&path).unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{name}");
            assert_eq!(std::fs::read_to_string(&path).unwrap(), text, "{name}");
            std::fs::remove_file(&path).unwrap();
        }
    }

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
