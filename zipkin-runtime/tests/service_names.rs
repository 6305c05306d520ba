//! Regression: `SpanBuilder::service_name` kept every distinct owned name for the rest of the
//! process, so a name built per request grew memory without bound. Past
//! `tracer::MAX_SERVICE_NAMES` distinct names a new one is refused and counted, and the span
//! keeps its parent's service. (Its own test binary: the name table is process-wide.)

use zipkin_runtime::MAX_SERVICE_NAMES;
use zipkin_runtime::*;

mod support;

#[test]
fn dynamic_service_names_are_bounded_and_the_excess_is_counted() {
    let (t, mem) = support::tracer(100.0);
    let _default = t.set_default();
    let root = SpanGuard::builder("root")
        .service_name("parent-svc")
        .start();
    // Well past the bound; the table also holds the tracers' names.
    for i in 0..MAX_SERVICE_NAMES + 10 {
        drop(
            SpanGuard::builder("work")
                .service_name(format!("tenant-{i}"))
                .start(),
        );
    }
    drop(root);
    let spans = support::collect(t, &mem);
    let services: std::collections::BTreeSet<&str> = spans.iter().map(|s| s.service()).collect();
    assert!(
        services.len() <= MAX_SERVICE_NAMES + 1,
        "{}",
        services.len()
    );
    let refused = t.metrics().service_names_refused;
    assert!(refused >= 10, "refused {refused}");
    // Each refused name fell back to the parent's service.
    let inherited = spans
        .iter()
        .filter(|s| s.name.as_deref() == Some("work") && s.service() == "parent-svc")
        .count() as u64;
    assert_eq!(inherited, refused);
    // A name already kept is still accepted.
    let again = SpanGuard::builder("again")
        .service_name(String::from("tenant-0"))
        .start();
    drop(again);
    assert_eq!(t.metrics().service_names_refused, refused);
}
