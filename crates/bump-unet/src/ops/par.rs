//! Data-parallel loops on candle's own CPU worker pool.
//!
//! Candle 0.11 runs its elementwise ops on a barrier pool whose workers spin for a while after
//! each op. Running our kernels on a second pool (rayon's global one) makes the two sets of
//! threads fight for the cores; running them on candle's pool reuses the already-spinning
//! workers instead. Setting `BUMP_OPS_POOL=rayon` switches to rayon's global pool (for A/B
//! measurements).

use std::cell::Cell;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use rayon::prelude::*;

/// True when `BUMP_OPS_POOL=rayon` asks for rayon's global pool instead of candle's.
fn use_rayon() -> bool {
    static USE_RAYON: OnceLock<bool> = OnceLock::new();
    *USE_RAYON.get_or_init(|| std::env::var("BUMP_OPS_POOL").is_ok_and(|v| v == "rayon"))
}

thread_local! {
    /// Set while this thread runs a parallel body of this module; a nested call then runs inline
    /// (the pool is not re-entrant).
    static IN_PAR: Cell<bool> = const { Cell::new(false) };
}

/// Total threads our loops use: candle's pool workers plus the calling thread.
pub(crate) fn num_threads() -> usize {
    if use_rayon() {
        rayon::current_num_threads()
    } else {
        candle_core::utils::barrier_pool().n_workers() + 1
    }
}

/// Runs `body(i)` for every `i` in `0..n`, spread dynamically over the pool's threads.
fn for_each_index<F>(n: usize, body: F)
where
    F: Fn(usize) + Sync,
{
    let pool = candle_core::utils::barrier_pool();
    if use_rayon() {
        (0..n).into_par_iter().for_each(&body);
        return;
    }
    if n <= 1 || pool.n_workers() == 0 || IN_PAR.with(Cell::get) {
        (0..n).for_each(body);
        return;
    }
    let cursor = AtomicUsize::new(0);
    pool.execute(|_tid| {
        let was = IN_PAR.with(|f| f.replace(true));
        loop {
            let i = cursor.fetch_add(1, Ordering::Relaxed);
            if i >= n {
                break;
            }
            body(i);
        }
        IN_PAR.with(|f| f.set(was));
    });
}

/// Allocates `len` floats and runs `body(i, chunk_i)` over their consecutive `chunk`-sized
/// pieces (the last may be shorter), in parallel. Each piece is zeroed by the task that then
/// fills it, so the output is zeroed in parallel and while it is hot in cache: a serial
/// `vec![0.0; len]` of a large output left the other threads spinning for about a tenth of a
/// training step.
pub(crate) fn chunked_vec<F>(len: usize, chunk: usize, body: F) -> Vec<f32>
where
    F: Fn(usize, &mut [f32]) + Sync,
{
    if len == 0 || chunk == 0 {
        return vec![0.0; len];
    }
    let mut out: Vec<f32> = Vec::with_capacity(len);
    let base = SyncPtr(out.as_mut_ptr());
    for_each_index(len.div_ceil(chunk), |i| {
        let start = i * chunk;
        let end = (start + chunk).min(len);
        // SAFETY: every index i is handed out exactly once, so the pieces [start, end) are
        // disjoint and within the allocation's capacity; each is initialised (zeroed) through
        // the raw pointer before a slice is formed over it.
        let piece = unsafe { zeroed_piece(base, start, end) };
        body(i, piece);
    });
    // SAFETY: `for_each_index` runs every index (a panicking body propagates before this line),
    // so all `len` floats were initialised above.
    unsafe { out.set_len(len) };
    out
}

/// Zeroes `[start, end)` of the allocation behind `base` and returns it as a slice.
///
/// # Safety
/// `[start, end)` must lie within the allocation and no other live reference may cover it.
unsafe fn zeroed_piece<'a>(base: SyncPtr, start: usize, end: usize) -> &'a mut [f32] {
    // SAFETY: guaranteed by the caller; zero bytes are a valid f32 (0.0).
    unsafe {
        let ptr = base.get().add(start);
        std::ptr::write_bytes(ptr, 0, end - start);
        std::slice::from_raw_parts_mut(ptr, end - start)
    }
}

/// Splits `0..n` into one contiguous range per thread (fixed by `n` and the thread count),
/// runs `body` on each range in parallel and returns the results in range order. Reductions
/// built on this are bit-reproducible for a given thread count, unlike [`fold_indices`].
pub(crate) fn map_ranges<S, F>(n: usize, body: F) -> Vec<S>
where
    S: Send,
    F: Fn(Range<usize>) -> S + Sync,
{
    if n == 0 {
        return Vec::new();
    }
    let chunk = n.div_ceil(num_threads().clamp(1, n));
    let ranges: Vec<Range<usize>> = (0..n.div_ceil(chunk))
        .map(|t| t * chunk..((t + 1) * chunk).min(n))
        .collect();
    let pool = candle_core::utils::barrier_pool();
    if ranges.len() == 1 || IN_PAR.with(Cell::get) || (!use_rayon() && pool.n_workers() == 0) {
        return ranges.into_iter().map(body).collect();
    }
    if use_rayon() {
        return ranges.into_par_iter().map(&body).collect();
    }
    let slots: Vec<Mutex<Option<S>>> = ranges.iter().map(|_| Mutex::new(None)).collect();
    let cursor = AtomicUsize::new(0);
    pool.execute(|_tid| {
        let was = IN_PAR.with(|f| f.replace(true));
        loop {
            let i = cursor.fetch_add(1, Ordering::Relaxed);
            let Some(r) = ranges.get(i) else {
                break;
            };
            let s = body(r.clone());
            if let Ok(mut slot) = slots[i].lock() {
                *slot = Some(s);
            }
        }
        IN_PAR.with(|f| f.set(was));
    });
    slots
        .into_iter()
        .filter_map(|m| m.into_inner().ok().flatten())
        .collect()
}

/// Allocates `len + tail` floats and runs [`map_ranges`] over the `chunk`-sized pieces of the
/// first `len`: `body(range, pieces)` gets the piece indices of its range and the matching
/// sub-slice (pieces `range.start..range.end`), zeroed by the thread that runs it (see
/// [`chunked_vec`]). The `tail` floats are zeros, e.g. for the caller to sum the returned
/// per-range results into.
pub(crate) fn chunk_ranges_vec<S, F>(
    len: usize,
    tail: usize,
    chunk: usize,
    body: F,
) -> (Vec<f32>, Vec<S>)
where
    S: Send,
    F: Fn(Range<usize>, &mut [f32]) -> S + Sync,
{
    if len == 0 || chunk == 0 {
        return (vec![0.0; len + tail], Vec::new());
    }
    let mut out: Vec<f32> = Vec::with_capacity(len + tail);
    let base = SyncPtr(out.as_mut_ptr());
    let results = map_ranges(len.div_ceil(chunk), |r| {
        let start = r.start * chunk;
        let end = (r.end * chunk).min(len);
        // SAFETY: the ranges are disjoint, so the sub-slices are too, and all lie within the
        // allocation's capacity; each is zeroed before a slice is formed over it.
        let piece = unsafe { zeroed_piece(base, start, end) };
        body(r, piece)
    });
    // SAFETY: `map_ranges` covers every piece of `0..len` (a panicking body propagates before
    // this line), and the tail is zeroed here; so all `len + tail` floats are initialised.
    unsafe {
        std::ptr::write_bytes(base.get().add(len), 0, tail);
        out.set_len(len + tail);
    }
    (out, results)
}

/// A raw pointer that may cross threads; the users above guarantee disjoint access.
#[derive(Clone, Copy)]
struct SyncPtr(*mut f32);

impl SyncPtr {
    fn get(self) -> *mut f32 {
        self.0
    }
}

// SAFETY: only used to hand out disjoint sub-slices of one exclusively borrowed slice.
unsafe impl Send for SyncPtr {}
// SAFETY: as above.
unsafe impl Sync for SyncPtr {}
