//! The C entry points Linux-PAM calls, and the PAM handle as a [`Conversation`].
//!
//! Everything here is glue: read the arguments and PAM items, call [`crate::run`], log the
//! outcome, return its code. No panic may cross into the host: each entry point catches its own
//! (failing closed) under the `pam` crate's outer guard.

use crate::args::Args;
use crate::conversation::{Conversation, ConversationFailed};
use crate::outcome::{Outcome, Verdict};
use crate::run::{self, Operation, Request};
use crate::syslog::{self, Level};
use pam::constants::{
    PamFlag, PamResultCode, PAM_ERROR_MSG, PAM_PROMPT_ECHO_OFF, PAM_PROMPT_ECHO_ON, PAM_SILENT,
    PAM_TEXT_INFO,
};
use pam::conv::Conv;
use pam::items::{AuthTok, RHost, Service, Tty};
use pam::module::{PamHandle, PamHooks};
use std::ffi::{CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;
use zeroize::Zeroizing;

/// `PAM_AUTHTOK` in `<security/_pam_types.h>`.
const PAM_AUTHTOK: libc::c_int = 6;

#[link(name = "pam")]
extern "C" {
    /// Declared here because the `pam` crate cannot set a secret item; libpam copies the
    /// string.
    fn pam_set_item(
        pamh: *mut PamHandle,
        item_type: libc::c_int,
        item: *const libc::c_void,
    ) -> libc::c_int;
}

pub struct StepgateModule;

pam::pam_hooks!(StepgateModule);

impl PamHooks for StepgateModule {
    fn sm_authenticate(pamh: &mut PamHandle, args: Vec<&CStr>, flags: PamFlag) -> PamResultCode {
        // A bug must never let someone in: a panic is an authentication failure.
        guarded(PamResultCode::PAM_AUTH_ERR, || {
            call(Operation::Authenticate, pamh, &args, flags)
        })
    }

    fn acct_mgmt(pamh: &mut PamHandle, args: Vec<&CStr>, flags: PamFlag) -> PamResultCode {
        guarded(PamResultCode::PAM_PERM_DENIED, || {
            call(Operation::Account, pamh, &args, flags)
        })
    }

    /// Stepgate gives no credentials (tickets, keys) to establish; success lets the stack go on.
    fn sm_setcred(_pamh: &mut PamHandle, _args: Vec<&CStr>, _flags: PamFlag) -> PamResultCode {
        PamResultCode::PAM_SUCCESS
    }
}

/// Runs `f`, turning a panic into `on_panic` and a syslog line. The panic hook is replaced
/// (once) so that the default hook's message never reaches the host's stderr.
fn guarded(on_panic: PamResultCode, f: impl FnOnce() -> PamResultCode) -> PamResultCode {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let at = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_default();
            syslog::log(
                Level::Error,
                "-",
                &format!("internal error (panic at {at})"),
            );
        }))
    });
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(code) => code,
        Err(payload) => {
            // Dropping a panic payload can itself panic; never let that unwind either.
            let _ = catch_unwind(AssertUnwindSafe(|| drop(payload)));
            on_panic
        }
    }
}

fn call(op: Operation, pamh: &mut PamHandle, raw_args: &[&CStr], flags: PamFlag) -> PamResultCode {
    let service = item_string::<Service>(pamh).unwrap_or_else(|| "?".into());
    let args: Vec<&str> = match raw_args.iter().map(|a| a.to_str()).collect() {
        Ok(a) => a,
        Err(_) => {
            syslog::log(Level::Error, &service, "a module argument is not UTF-8");
            return PamResultCode::PAM_SERVICE_ERR;
        }
    };
    let args = match Args::parse(&args) {
        Ok(a) => a,
        Err(e) => {
            syslog::log(Level::Error, &service, &e.to_string());
            return PamResultCode::PAM_SERVICE_ERR;
        }
    };
    let username = match pamh.get_user(None) {
        Ok(u) => u,
        // The application cannot resume a half-done conversation with this module.
        Err(PamResultCode::PAM_CONV_AGAIN) => return PamResultCode::PAM_CONV_ERR,
        // libpam's own failure says best what went wrong (conversation, memory, system).
        Err(e) => return e,
    };
    let request = Request {
        username,
        service: item_string::<Service>(pamh),
        rhost: item_string::<RHost>(pamh),
        tty: item_string::<Tty>(pamh),
    };
    if args.debug {
        syslog::log(
            Level::Debug,
            &service,
            &format!(
                "{op:?} for {:?} from {:?}, {}",
                request.username,
                request.rhost.as_deref().unwrap_or("-"),
                match &args.remote {
                    Some(r) => format!("server {}", r.url),
                    None => format!("config {}", args.config.display()),
                }
            ),
        );
    }
    let mut conv = PamConversation {
        pamh,
        silent: flags & PAM_SILENT != 0,
    };
    let outcome = run::run(op, &args, &request, &mut conv);
    log_outcome(&service, &outcome);
    code_of(outcome.verdict)
}

fn log_outcome(service: &str, outcome: &Outcome) {
    let level = match outcome.verdict {
        Verdict::Success => Level::Info,
        Verdict::Ignore => Level::Info,
        Verdict::AuthInfoUnavail | Verdict::ServiceErr => Level::Error,
        Verdict::AuthErr
        | Verdict::MaxTries
        | Verdict::UserUnknown
        | Verdict::ConvErr
        | Verdict::PermDenied => Level::Notice,
    };
    syslog::log(
        level,
        service,
        &format!("{:?}: {}", outcome.verdict, outcome.reason),
    );
}

fn code_of(v: Verdict) -> PamResultCode {
    match v {
        Verdict::Success => PamResultCode::PAM_SUCCESS,
        Verdict::AuthErr => PamResultCode::PAM_AUTH_ERR,
        Verdict::MaxTries => PamResultCode::PAM_MAXTRIES,
        Verdict::UserUnknown => PamResultCode::PAM_USER_UNKNOWN,
        Verdict::Ignore => PamResultCode::PAM_IGNORE,
        Verdict::AuthInfoUnavail => PamResultCode::PAM_AUTHINFO_UNAVAIL,
        Verdict::ConvErr => PamResultCode::PAM_CONV_ERR,
        Verdict::PermDenied => PamResultCode::PAM_PERM_DENIED,
        Verdict::ServiceErr => PamResultCode::PAM_SERVICE_ERR,
    }
}

fn item_string<'a, T>(pamh: &'a PamHandle) -> Option<String>
where
    T: pam::items::Item<'a> + std::ops::Deref<Target = &'a CStr>,
{
    match pamh.get_item::<T>() {
        Ok(Some(v)) => v.to_str().ok().map(str::to_string),
        _ => None,
    }
}

/// The application's conversation function, reached through the PAM handle.
struct PamConversation<'a> {
    pamh: &'a mut PamHandle,
    /// `PAM_SILENT`: the application asked for no informational messages.
    silent: bool,
}

impl PamConversation<'_> {
    fn say(&mut self, style: libc::c_int, text: &str) {
        if self.silent {
            return;
        }
        if let Ok(Some(conv)) = self.pamh.get_item::<Conv>() {
            let _ = conv.send(style, text);
        }
    }
}

impl Conversation for PamConversation<'_> {
    fn ask(&mut self, prompt: &str, echo: bool) -> Result<Zeroizing<String>, ConversationFailed> {
        let conv = match self.pamh.get_item::<Conv>() {
            Ok(Some(conv)) => conv,
            _ => return Err(ConversationFailed),
        };
        let style = if echo {
            PAM_PROMPT_ECHO_ON
        } else {
            PAM_PROMPT_ECHO_OFF
        };
        match conv.send(style, prompt) {
            Ok(Some(answer)) => Ok(Zeroizing::new(
                String::from_utf8_lossy(answer.as_bytes()).into_owned(),
            )),
            // No answer at all (not even an empty one) is a conversation that broke.
            Ok(None) | Err(_) => Err(ConversationFailed),
        }
    }

    fn info(&mut self, text: &str) {
        self.say(PAM_TEXT_INFO, text);
    }

    fn error(&mut self, text: &str) {
        self.say(PAM_ERROR_MSG, text);
    }

    fn stored_password(&self) -> Option<Zeroizing<String>> {
        match self.pamh.get_item::<AuthTok>() {
            Ok(Some(tok)) => std::str::from_utf8(tok.as_bytes())
                .ok()
                .map(|s| Zeroizing::new(s.to_string())),
            _ => None,
        }
    }

    fn store_password(&mut self, password: &str) {
        let Ok(c) = CString::new(password) else {
            return;
        };
        let c = Zeroizing::new(c.into_bytes_with_nul());
        // SAFETY: `pamh` is the live handle PAM gave this call; PAM_AUTHTOK takes a
        // NUL-terminated string, which libpam copies before returning.
        unsafe {
            pam_set_item(
                std::ptr::from_mut(self.pamh),
                PAM_AUTHTOK,
                c.as_ptr().cast::<libc::c_void>(),
            );
        }
    }
}
