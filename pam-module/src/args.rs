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

/// The default deadline for each call to the server in fleet mode (`timeout=`), seconds.
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 5;

/// Fleet mode: ask a Stepgate server over HTTPS with this host's credential, instead of
/// opening the database and the key on this machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Remote {
    /// The server's base URL (`url=`); `https://`, or `http://` to a loopback address.
    pub url: url::Url,
    /// The file holding the line `stepgate host add` printed (`credential=`).
    pub credential: PathBuf,
    /// The CA that signed the server's certificate (`ca=`); the system roots when absent.
    pub ca: Option<PathBuf>,
    /// The deadline of each call (`timeout=`).
    pub timeout: std::time::Duration,
}

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
    /// Fleet mode, when `url=` is given.
    pub remote: Option<Remote>,
    /// Direct mode: the registered host this machine is (`host=`), whose groups then decide
    /// who may log in here.
    pub host: Option<String>,
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
            remote: None,
            host: None,
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
        let mut config_given = false;
        let (mut url, mut credential, mut ca, mut timeout) = (None, None, None, None);
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
                    config_given = true;
                }
                "url" => {
                    let v = need(value)?;
                    url = Some(parse_url(&v)?);
                }
                "credential" => credential = Some(absolute(key, need(value)?)?),
                "ca" => ca = Some(absolute(key, need(value)?)?),
                "timeout" => {
                    let v = need(value)?;
                    timeout = Some(match v.parse::<u64>() {
                        Ok(n) if (1..=60).contains(&n) => std::time::Duration::from_secs(n),
                        _ => {
                            return Err(ArgError(format!(
                                "timeout={v}: expected seconds from 1 to 60"
                            )))
                        }
                    });
                }
                "host" => {
                    let h = need(value)?;
                    stepgate_core::hosts::check_host_name(&h)
                        .map_err(|e| ArgError(format!("host={h}: {e}")))?;
                    out.host = Some(h);
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
        let fleet_only = credential.is_some() || ca.is_some() || timeout.is_some();
        match (url, credential) {
            (Some(url), Some(credential)) => {
                if config_given || out.host.is_some() {
                    return Err(ArgError(
                        "url= (fleet mode) excludes config= and host= (direct mode): the host \
                         is the one its credential names"
                            .into(),
                    ));
                }
                out.remote = Some(Remote {
                    url,
                    credential,
                    ca,
                    timeout: timeout
                        .unwrap_or(std::time::Duration::from_secs(DEFAULT_TIMEOUT_SECONDS)),
                });
            }
            (Some(_), None) => {
                return Err(ArgError(
                    "url= needs credential=/path/to/host.credential".into(),
                ))
            }
            (None, _) if fleet_only => {
                return Err(ArgError(
                    "credential=, ca= and timeout= are for fleet mode and need url=".into(),
                ))
            }
            (None, _) => {}
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

fn absolute(key: &str, v: String) -> Result<PathBuf, ArgError> {
    let path = PathBuf::from(v);
    if !path.is_absolute() {
        return Err(ArgError(format!(
            "{key}={} must be an absolute path",
            path.display()
        )));
    }
    Ok(path)
}

/// `https://…`, or `http://` to a loopback address only: codes and passwords cross this
/// connection.
fn parse_url(v: &str) -> Result<url::Url, ArgError> {
    let url = url::Url::parse(v).map_err(|e| ArgError(format!("url={v}: {e}")))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(ArgError(format!(
                "url={v}: plain http:// only to a loopback address; use https://"
            )))
        }
        other => return Err(ArgError(format!("url={v}: {other}:// is not http(s)"))),
    }
    if url.host().is_none() || url.query().is_some() || url.fragment().is_some() {
        return Err(ArgError(format!(
            "url={v}: expected the server's base URL, like https://idp.example.com:8443"
        )));
    }
    Ok(url)
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
    fn fleet_mode_arguments() {
        let a = Args::parse(&[
            "url=https://idp.example.com:8443",
            "credential=/etc/stepgate/host.credential",
            "ca=/etc/stepgate/ca.pem",
            "timeout=3",
        ])
        .unwrap();
        let r = a.remote.unwrap();
        assert_eq!(r.url.as_str(), "https://idp.example.com:8443/");
        assert_eq!(r.ca, Some(PathBuf::from("/etc/stepgate/ca.pem")));
        assert_eq!(r.timeout, std::time::Duration::from_secs(3));
        let a = Args::parse(&["url=http://127.0.0.1:9000", "credential=/c"]).unwrap();
        assert_eq!(a.remote.unwrap().timeout.as_secs(), DEFAULT_TIMEOUT_SECONDS);
        let a = Args::parse(&["host=web-01"]).unwrap();
        assert_eq!(a.host.as_deref(), Some("web-01"));
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
            &["url=https://idp.example.com"],
            &[
                "url=http://idp.example.com",
                "credential=/etc/stepgate/host.credential",
            ],
            &["url=ftp://idp", "credential=/c"],
            &["url=https://idp", "credential=relative"],
            &[
                "url=https://idp",
                "credential=/c",
                "config=/etc/stepgate/stepgate.toml",
            ],
            &["url=https://idp", "credential=/c", "host=web1"],
            &["url=https://idp", "credential=/c", "timeout=0"],
            &["url=https://idp", "credential=/c", "timeout=61"],
            &["credential=/c"],
            &["ca=/c"],
            &["host=-bad"],
        ] {
            assert!(Args::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
