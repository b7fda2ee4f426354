//! SQLite settings for a process that lives for one login.
//!
//! `stepgate serve` keeps its connections open for days; a PAM call opens one connection and
//! closes it a few milliseconds later. SQLite's defaults suit the first: the last connection to
//! close checkpoints the write-ahead log into the database and deletes it, which costs four
//! `fsync`s per login (the checkpoint syncs the log and the database, and the next login, on a
//! new log file, syncs its header and the folder) — most of a PAM login's I/O wait.
//!
//! Here a connection leaves the log in place when it closes. Nothing is less durable: a
//! committed transaction is in the log either way (`synchronous = NORMAL`, as for the server),
//! and the next connection, in this process or another, reads the log; commits still
//! checkpoint it once it is long (`Db::connect_existing` sets a short `wal_autocheckpoint` for
//! this process, so that the next process has little log to re-read).

use libsqlite3_sys as ffi;
use std::os::raw::{c_char, c_int};
use std::sync::Once;

/// Runs for every SQLite connection this module's SQLite opens, inside `sqlite3_open_v2`.
/// The call only sets a flag on the new handle; its result does not matter for safety (a
/// refusal means SQLite's default, which is correct, only slower), so it is not checked.
/// (`wal_autocheckpoint` cannot be set here: SQLite resets it after the auto-extensions run.)
unsafe extern "C" fn short_lived(
    db: *mut ffi::sqlite3,
    _err: *mut *mut c_char,
    _api: *const ffi::sqlite3_api_routines,
) -> c_int {
    let on: c_int = 1;
    ffi::sqlite3_db_config(
        db,
        ffi::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
        on,
        std::ptr::null_mut::<c_int>(),
    );
    ffi::SQLITE_OK
}

/// Applies the setting above to every SQLite connection opened from now on in this process.
///
/// The SQLite library is linked into `pam_stepgate.so` and hidden there, so this reaches only
/// the module's own connections, never a host's SQLite.
pub fn tune_for_short_lived_process() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: `short_lived` has exactly the entry-point signature SQLite calls, is a plain
        // function that lives as long as the module, and cannot unwind.
        unsafe {
            ffi::sqlite3_auto_extension(Some(short_lived));
        }
    });
}
