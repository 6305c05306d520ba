//! The id generator: a wyrand generator per thread, seeded from the std hasher's random keys,
//! the time and the process id, so that drawing an id takes a few nanoseconds and no lock or
//! syscall. A forked child reseeds the forking thread (see `tracer/registry.rs`).

use std::cell::Cell;

thread_local! {
    // wyrand state; seeded per thread from the std hasher's random keys, so no syscall per id.
    // Const-initialised (0 = not seeded yet) so that each id costs no lazy-init check of the
    // thread-local itself.
    static RNG: Cell<u64> = const { Cell::new(0) };
}

#[cold]
fn seed_state() -> u64 {
    // A state of 0 means "not seeded"; a seed that happens to be 0 just gets replaced.
    match seed() {
        0 => 0x853c_49e6_748f_ea9b,
        s => s,
    }
}

fn seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_usize(&h as *const _ as usize);
    // A forked child copies the thread's hasher keys too: its pid sets it apart.
    h.write_u32(std::process::id());
    // Miri's isolation hides the wall clock; its hasher keys are random enough there.
    if !cfg!(miri) {
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
    }
    h.finish()
}

/// In a forked child, on the thread that forked (from `pthread_atfork`'s handler): the
/// generator's state is the parent's, so the next id is drawn from a new seed instead of
/// repeating the parent's ids.
pub(crate) fn reseed_after_fork() {
    let _ = RNG.try_with(|s| s.set(0));
}

/// A random u64 from a thread-local wyrand generator: a few ns, no lock, no syscall.
#[inline]
pub(crate) fn next_u64() -> u64 {
    RNG.with(|s| {
        let mut state = s.get();
        if state == 0 {
            state = seed_state();
        }
        let x = state.wrapping_add(0xa076_1d64_78bd_642f);
        s.set(x);
        let t = (x as u128).wrapping_mul((x ^ 0xe703_7ed1_a0b4_28db) as u128);
        ((t >> 64) as u64) ^ (t as u64)
    })
}

#[inline]
pub(crate) fn next_nonzero_u64() -> u64 {
    loop {
        let v = next_u64();
        if v != 0 {
            return v;
        }
    }
}
