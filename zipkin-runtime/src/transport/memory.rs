//! An in-memory transport for tests: decodes every message it receives and keeps the spans.

use std::sync::{Arc, Mutex};

use crate::error::TransportError;
use crate::model;
use crate::transport::{Message, Transport};

/// Keeps every reported span in memory. Clones share the same store.
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use zipkin_rs::{transport::memory::MemoryTransport, SpanGuard, Tracer};
/// let mem = MemoryTransport::new();
/// let tracer = Tracer::builder().service_name("svc").transport(mem.clone()).build().unwrap();
/// tracer.in_scope(|| drop(SpanGuard::new("work")));
/// tracer.flush(std::time::Duration::from_secs(5));
/// assert_eq!(mem.spans()[0].name.as_deref(), Some("work"));
/// ```
#[derive(Clone, Debug, Default)]
pub struct MemoryTransport {
    spans: Arc<Mutex<Vec<model::Span>>>,
    messages: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl MemoryTransport {
    /// An empty store.
    pub fn new() -> MemoryTransport {
        MemoryTransport::default()
    }

    /// Every span received so far, in arrival order.
    pub fn spans(&self) -> Vec<model::Span> {
        self.spans.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// The raw messages received so far.
    pub fn messages(&self) -> Vec<Vec<u8>> {
        self.messages.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Forgets everything received.
    pub fn clear(&self) {
        if let Ok(mut v) = self.spans.lock() {
            v.clear();
        }
        if let Ok(mut v) = self.messages.lock() {
            v.clear();
        }
    }
}

impl Transport for MemoryTransport {
    fn send(&self, msg: &Message) -> Result<(), TransportError> {
        let decoded: Vec<model::Span> = serde_json::from_slice(&msg.body).map_err(|e| {
            TransportError::Io(format!("in-memory transport got invalid JSON: {e}"))
        })?;
        if let Ok(mut v) = self.messages.lock() {
            v.push(msg.body.clone());
        }
        if let Ok(mut v) = self.spans.lock() {
            v.extend(decoded);
        }
        Ok(())
    }
}
