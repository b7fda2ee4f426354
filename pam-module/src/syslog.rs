//! Diagnostics for the administrator, through syslog's `LOG_AUTHPRIV` facility (where sshd,
//! sudo and pam_unix log too, readable by root only).
//!
//! A PAM module must never write to stdout or stderr: they belong to the host (for `sshd -i`
//! stdout *is* the SSH connection). It does not call `openlog` either, which would change the
//! host's own syslog identity; each line names the module and the PAM service instead. Callers
//! never pass a code, a password or a secret here.

use std::ffi::CString;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
    Notice,
    Info,
    Debug,
}

impl Level {
    fn priority(self) -> libc::c_int {
        match self {
            Level::Error => libc::LOG_ERR,
            Level::Warning => libc::LOG_WARNING,
            Level::Notice => libc::LOG_NOTICE,
            Level::Info => libc::LOG_INFO,
            Level::Debug => libc::LOG_DEBUG,
        }
    }
}

/// Logs `message` as `pam_stepgate(SERVICE): message`.
pub fn log(level: Level, service: &str, message: &str) {
    let line = format!("pam_stepgate({service}): {message}");
    // Control characters (from a user name, say) must not forge extra log lines.
    let clean: String = line
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    let Ok(text) = CString::new(clean) else {
        return;
    };
    // SAFETY: a constant "%s" format with one valid NUL-terminated string argument.
    unsafe {
        libc::syslog(
            libc::LOG_AUTHPRIV | level.priority(),
            c"%s".as_ptr(),
            text.as_ptr(),
        );
    }
}
