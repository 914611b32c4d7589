//! mimalloc for binaries and benches, with freed memory kept mapped (feature `mimalloc`).
//!
//! A training step allocates the same activation buffers (hundreds of MB for the paper model)
//! every step. By default mimalloc returns freed memory to the OS after a short delay
//! (`purge_delay`), so the next step faults every page back in and the kernel zeroes it again;
//! that costs about 20 % of a UNet step (docs/performance.md). [`keep_freed_memory`] turns
//! purging off, so freed buffers are reused as they are.
//!
//! The library never sets a global allocator: a binary opts in with
//!
//! ```no_run
//! #[global_allocator]
//! static GLOBAL: bump_unet::alloc::MiMalloc = bump_unet::alloc::MiMalloc;
//!
//! fn main() {
//!     bump_unet::alloc::keep_freed_memory();
//!     // ...
//! }
//! ```

pub use mimalloc::MiMalloc;

use libmimalloc_sys::mi_option_t;

/// mimalloc's `mi_option_purge_delay` (milliseconds before freed memory goes back to the OS;
/// -1 = never). libmimalloc-sys 0.1 exports no constant for it (its docs: the advanced options
/// "are not exposed as constants for stability reasons"), so it is named here: position 15 of
/// `enum mi_option_e` in the vendored mimalloc v2 and v3 `include/mimalloc.h` alike. A test
/// checks it against the linked library through the option's environment variable.
const MI_OPTION_PURGE_DELAY: mi_option_t = 15;

/// Keeps memory that mimalloc frees mapped instead of returning it to the OS (its
/// `purge_delay` option set to -1, as `MIMALLOC_PURGE_DELAY=-1` would).
///
/// Call it first thing in `main`, with [`MiMalloc`] as the `#[global_allocator]`; without that
/// it configures a mimalloc that Rust does not allocate from, and changes nothing. Calling it
/// again is harmless.
pub fn keep_freed_memory() {
    // SAFETY: `mi_option_set` stores one integer in mimalloc's option table and touches no
    // allocation; the option is valid in both mimalloc versions (see `MI_OPTION_PURGE_DELAY`).
    // mimalloc itself reads and lazily fills that table from every thread without locks, so a
    // thread allocating meanwhile sees either the old delay or the new one.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn purge_delay() -> std::os::raw::c_long {
        // SAFETY: reads one option of the linked mimalloc.
        unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) }
    }

    #[test]
    fn keep_freed_memory_turns_purging_off() {
        keep_freed_memory();
        assert_eq!(purge_delay(), -1);
        keep_freed_memory();
        assert_eq!(purge_delay(), -1);
    }

    const CHILD_ENV: &str = "BUMP_UNET_ALLOC_CHILD";
    const CHILD_TEST: &str = "alloc::tests::option_number_is_purge_delay";

    /// mimalloc reads `MIMALLOC_PURGE_DELAY` into its purge-delay option; a child process (this
    /// test binary, running only this test) started with it set must read the value back
    /// through [`MI_OPTION_PURGE_DELAY`], so the number and the name cannot drift apart.
    #[test]
    fn option_number_is_purge_delay() {
        if std::env::var_os(CHILD_ENV).is_some() {
            assert_eq!(purge_delay(), 4321);
            return;
        }
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, "1")
            .env("MIMALLOC_PURGE_DELAY", "4321")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "child failed: {:?}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
