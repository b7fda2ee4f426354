//! The module arguments written after the module's path in `/etc/pam.d/*`.
//!
//! Parsing is strict: an argument the module does not know is an error, not a warning, because
//! a typo such as `nulok` would otherwise silently change who may log in. The caller turns the
//! error into `PAM_SERVICE_ERR` (a broken PAM configuration, not a wrong credential).

use std::fmt;
use std::path::PathBuf;

/// Where `stepgate serve` and the admin CLI read their configuration too.
pub const DEFAULT_CONFIG: &str = "/etc/stepgate/stepgate.toml";

/// The code prompt; `{provider}` becomes e.g. `authenticator app` or `SMS to +1*****1234`.
pub const DEFAULT_PROMPT: &str = "Verification code ({provider}): ";

/// Wrong codes accepted in one PAM conversation before the module gives up (the lockout
/// counter in the database keeps counting across conversations).
pub const DEFAULT_TRIES: u32 = 3;

/// What the module checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Only the second factor: the password is left to a module stacked before (`pam_unix`).
    SecondFactor,
    /// The Stepgate password first, then the second factor.
    Password,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Args {
    pub config: PathBuf,
    /// A user without any second factor passes with `PAM_IGNORE` (unless 2FA is enforced).
    pub nullok: bool,
    pub mode: Mode,
    /// Password mode: take the password a previous module stored, never prompt.
    pub use_first_pass: bool,
    /// Password mode: try the stored password first, prompt if it is missing or wrong.
    pub try_first_pass: bool,
    /// More detail in syslog (never codes or passwords).
    pub debug: bool,
    /// The code prompt template, with `{provider}`.
    pub prompt: String,
    /// The service name recorded in audit events instead of `PAM_SERVICE`.
    pub service_id: Option<String>,
    /// Wrong codes per conversation before `PAM_AUTH_ERR`.
    pub tries: u32,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            config: PathBuf::from(DEFAULT_CONFIG),
            nullok: false,
            mode: Mode::SecondFactor,
            use_first_pass: false,
            try_first_pass: false,
            debug: false,
            prompt: DEFAULT_PROMPT.to_string(),
            service_id: None,
            tries: DEFAULT_TRIES,
        }
    }
}

/// An argument the module cannot honour; the text names it for the administrator's syslog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgError(pub String);

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad module argument: {}", self.0)
    }
}

impl std::error::Error for ArgError {}

/// `"text"` → `text`: people copy `prompt="…"` from the docs even though PAM does not strip
/// quotes; a value with spaces must be written `[prompt=…]` in the PAM file.
fn unquote(v: &str) -> &str {
    v.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(v)
}

impl Args {
    pub fn parse<S: AsRef<str>>(args: &[S]) -> Result<Args, ArgError> {
        let mut out = Args::default();
        for raw in args {
            let raw = raw.as_ref();
            let (key, value) = match raw.split_once('=') {
                Some((k, v)) => (k, Some(unquote(v))),
                None => (raw, None),
            };
            let need = |v: Option<&str>| -> Result<String, ArgError> {
                match v {
                    Some(v) if !v.is_empty() => Ok(v.to_string()),
                    _ => Err(ArgError(format!("{key} needs a value ({key}=…)"))),
                }
            };
            let flag = |v: Option<&str>| -> Result<bool, ArgError> {
                match v {
                    None => Ok(true),
                    Some(_) => Err(ArgError(format!("{key} takes no value"))),
                }
            };
            match key {
                "config" => {
                    let path = PathBuf::from(need(value)?);
                    if !path.is_absolute() {
                        return Err(ArgError(format!(
                            "config={} must be an absolute path",
                            path.display()
                        )));
                    }
                    out.config = path;
                }
                "nullok" => out.nullok = flag(value)?,
                "debug" => out.debug = flag(value)?,
                "use_first_pass" => out.use_first_pass = flag(value)?,
                "try_first_pass" => out.try_first_pass = flag(value)?,
                "mode" => {
                    out.mode = match need(value)?.as_str() {
                        "second-factor" => Mode::SecondFactor,
                        "password" => Mode::Password,
                        other => {
                            return Err(ArgError(format!(
                                "mode={other}: expected mode=second-factor or mode=password"
                            )))
                        }
                    }
                }
                "prompt" => {
                    let mut p = need(value)?;
                    // A prompt glued to the cursor looks broken in every terminal.
                    if !p.ends_with(char::is_whitespace) {
                        p.push(' ');
                    }
                    out.prompt = p;
                }
                "service_id" => {
                    let s = need(value)?;
                    if s.len() > 64 || !s.chars().all(|c| c.is_ascii_graphic()) {
                        return Err(ArgError(
                            "service_id must be 1 to 64 printable characters without spaces".into(),
                        ));
                    }
                    out.service_id = Some(s);
                }
                "tries" => {
                    let v = need(value)?;
                    out.tries = match v.parse::<u32>() {
                        Ok(n) if (1..=20).contains(&n) => n,
                        _ => {
                            return Err(ArgError(format!(
                                "tries={v}: expected a number from 1 to 20"
                            )))
                        }
                    };
                }
                other => return Err(ArgError(format!("unknown argument {other:?}"))),
            }
        }
        if out.use_first_pass && out.try_first_pass {
            return Err(ArgError(
                "use_first_pass and try_first_pass exclude each other".into(),
            ));
        }
        if (out.use_first_pass || out.try_first_pass) && out.mode != Mode::Password {
            return Err(ArgError(
                "use_first_pass/try_first_pass only make sense with mode=password".into(),
            ));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_when_no_arguments() {
        let a = Args::parse::<&str>(&[]).unwrap();
        assert_eq!(a, Args::default());
        assert_eq!(a.config, PathBuf::from("/etc/stepgate/stepgate.toml"));
        assert_eq!(a.mode, Mode::SecondFactor);
    }

    #[test]
    fn every_argument_is_understood() {
        let a = Args::parse(&[
            "config=/tmp/x/stepgate.toml",
            "nullok",
            "mode=password",
            "try_first_pass",
            "debug",
            "prompt=\"Stepgate code ({provider}):\"",
            "service_id=ssh-bastion",
            "tries=5",
        ])
        .unwrap();
        assert_eq!(a.config, PathBuf::from("/tmp/x/stepgate.toml"));
        assert!(a.nullok && a.debug && a.try_first_pass && !a.use_first_pass);
        assert_eq!(a.mode, Mode::Password);
        assert_eq!(a.prompt, "Stepgate code ({provider}): ");
        assert_eq!(a.service_id.as_deref(), Some("ssh-bastion"));
        assert_eq!(a.tries, 5);
    }

    #[test]
    fn mistakes_are_errors_not_silently_ignored() {
        for bad in [
            &["nulok"][..],
            &["config=relative/path.toml"],
            &["config="],
            &["mode=both"],
            &["nullok=yes"],
            &["tries=0"],
            &["tries=many"],
            &["service_id=has space"],
            &["use_first_pass"],
            &["mode=password", "use_first_pass", "try_first_pass"],
        ] {
            assert!(Args::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
