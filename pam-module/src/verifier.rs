//! Who the login flow asks: the core on this machine (direct mode) or the Stepgate server
//! through the host protocol (fleet mode). The flow is the same for both; only the transport
//! differs, and every decision comes back from `stepgate-core` either way.

use stepgate_core::approval::{ApprovalPoll, ApprovalStart};
use stepgate_core::challenge::CheckOutcome;
use stepgate_core::enrolment::SentCode;
use stepgate_core::host_login::{AccountStatus, Begin, Begun, Failure};
use stepgate_core::step::Step;
use stepgate_core::ProviderType;

/// A step that could not be taken: what the person is told (`failure`), and for the
/// administrator's syslog why (`reason`, never a code or password).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failed {
    pub failure: Failure,
    pub reason: String,
}

impl Failed {
    pub fn new(failure: Failure, reason: impl Into<String>) -> Failed {
        Failed {
            failure,
            reason: reason.into(),
        }
    }
}

impl From<stepgate_core::Error> for Failed {
    fn from(e: stepgate_core::Error) -> Failed {
        Failed::new(Failure::from(&e), e.to_string())
    }
}

/// The questions a PAM login asks, in the order the flow asks them. (Only used inside this
/// one-threaded module call, so the futures need no `Send`.)
#[allow(async_fn_in_trait)]
pub trait Verifier {
    /// The password (password mode) and the account, then the first step or the ending.
    async fn begin(&mut self, b: &Begin) -> Result<Begun, Failed>;
    async fn send(&mut self, conversation: &str, p: ProviderType) -> Result<SentCode, Failed>;
    async fn check(
        &mut self,
        conversation: &str,
        p: ProviderType,
        code: &str,
    ) -> Result<CheckOutcome, Failed>;
    /// What to ask now (after a provider went away mid-login).
    async fn step(&mut self, conversation: &str) -> Result<Step, Failed>;
    /// Asks for the login to be approved in the browser (offered by the step).
    async fn start_approval(&mut self, conversation: &str) -> Result<ApprovalStart, Failed>;
    /// How the approval stands.
    async fn poll_approval(&mut self, conversation: &str) -> Result<ApprovalPoll, Failed>;
    /// The person gave up; best effort.
    async fn cancel(&mut self, conversation: &str);
    /// PAM `account`.
    async fn account(&mut self, username: &str) -> Result<AccountStatus, Failed>;
}
