//! Names that spans carry as `&'static str` (service names): each distinct name is kept once
//! for the rest of the process, and names given per span are bounded.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Interns a name so spans can carry it as `&'static str`. For the names tracers are built
/// with; names given per span go through [`intern_bounded`].
pub(crate) fn intern(s: Cow<'static, str>) -> &'static str {
    intern_within(s, usize::MAX).unwrap_or("unknown_service")
}

/// The most distinct service names `SpanBuilder::service_name` keeps: service names are few by
/// nature, and each one is kept for the rest of the process.
pub const MAX_SERVICE_NAMES: usize = 1024;

/// Names refused by [`intern_bounded`] because the table was full.
static SERVICE_NAMES_REFUSED: AtomicU64 = AtomicU64::new(0);

/// [`intern`] for a service name given per span (`SpanBuilder::service_name`): `None` once
/// [`MAX_SERVICE_NAMES`] distinct names are interned and this is a new one, so that a name
/// built per request cannot grow memory without bound. Such a span inherits its parent's
/// service instead; the first refusal says so on standard error, and every one is counted
/// (`ReporterMetrics::service_names_refused`).
pub(crate) fn intern_bounded(s: Cow<'static, str>) -> Option<&'static str> {
    let name = intern_within(s, MAX_SERVICE_NAMES);
    if name.is_none() && SERVICE_NAMES_REFUSED.fetch_add(1, Ordering::Relaxed) == 0 {
        eprintln!(
            "zipkin: more than {MAX_SERVICE_NAMES} distinct service names were given to \
             SpanBuilder::service_name; spans with a new one keep their parent's service \
             (see ReporterMetrics::service_names_refused)"
        );
    }
    name
}

fn intern_within(s: Cow<'static, str>, max: usize) -> Option<&'static str> {
    if let Cow::Borrowed(b) = s {
        return Some(b);
    }
    static NAMES: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
    let mut g = NAMES.lock().unwrap_or_else(|e| e.into_inner());
    let set = g.get_or_insert_with(HashSet::new);
    if let Some(&found) = set.get(s.as_ref()) {
        return Some(found);
    }
    if set.len() >= max {
        return None;
    }
    let leaked: &'static str = Box::leak(s.into_owned().into_boxed_str());
    set.insert(leaked);
    Some(leaked)
}

/// Names [`intern_bounded`] has refused so far (process-wide).
pub(crate) fn service_names_refused() -> u64 {
    SERVICE_NAMES_REFUSED.load(Ordering::Relaxed)
}
