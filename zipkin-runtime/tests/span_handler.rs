//! The span handler: runs on the reporter's thread (never the application's), renames, rewrites
//! and removes tags, drops spans (counted), and a panic in it drops that span only (counted),
//! leaving the reporter working.

use std::sync::Mutex;
use std::thread::ThreadId;

use zipkin_runtime::{FinishedSpan, SpanGuard, SpanHandler};

mod support;
use support::{collect, tracer_with};

#[derive(Debug, Default)]
struct Edits {
    threads: Mutex<Vec<ThreadId>>,
}

impl SpanHandler for Edits {
    fn end(&self, span: &mut FinishedSpan<'_>) -> bool {
        self.threads
            .lock()
            .unwrap()
            .push(std::thread::current().id());
        match span.name() {
            "drop-me" => false,
            "panic-me" => panic!("the handler's bug"),
            "rename-me" => {
                span.set_name("renamed");
                let secret = span.remove_tag("secret");
                span.set_tag("had_secret", secret.is_some().to_string());
                true
            }
            _ => true,
        }
    }
}

#[test]
fn the_handler_renames_rewrites_drops_and_survives_its_panics() {
    let edits = std::sync::Arc::new(Edits::default());
    let (t, mem) = tracer_with(|b| b.span_handler(edits.clone()));
    t.in_scope(|| {
        let mut s = SpanGuard::new("rename-me");
        s.tag("secret", "hunter2");
        s.tag("kept", "1");
        drop(s);
        drop(SpanGuard::new("drop-me"));
        drop(SpanGuard::new("panic-me"));
        drop(SpanGuard::new("after-the-panic"));
    });
    let spans = collect(t, &mem);
    let names: Vec<_> = spans.iter().map(|s| s.name.clone().unwrap()).collect();
    assert_eq!(names, ["renamed", "after-the-panic"]);
    assert!(!spans[0].tags.contains_key("secret"));
    assert_eq!(spans[0].tags["had_secret"], "true");
    assert_eq!(spans[0].tags["kept"], "1");
    let m = t.metrics();
    assert_eq!((m.dropped_by_handler, m.dropped_handler_panic), (1, 1));
    assert_eq!(m.spans_dropped, 2);
    assert_eq!(
        m.spans_offered,
        m.spans_sent + m.spans_dropped + m.spans_queued
    );
    let threads = edits.threads.lock().unwrap();
    assert_eq!(threads.len(), 4);
    assert!(threads.iter().all(|t| *t != std::thread::current().id()));
}
