//! Platform two-factor settings, with ThingsBoard's names and meaning.
//!
//! The configuration file gives their defaults; an administrator changes them at run time and
//! they are stored in the database, so every instance and every PAM process reads the same
//! policy. [`TwoFaSettings::validate`] is the one place their limits are checked.

use crate::error::{Error, Result};
use crate::providers::ProviderType;
use crate::time::Seconds;
use crate::words::{self, Said};
use serde::{Deserialize, Serialize};
use std::num::NonZeroU32;

/// The SMS text when none is set; `${code}` is replaced by the code.
pub const DEFAULT_SMS_TEMPLATE: &str = "Your Stepgate verification code: ${code}";
/// How long a sent code stays valid: long enough for a slow SMS, short enough that a leaked
/// one is soon worthless.
pub const DEFAULT_CODE_LIFETIME: Seconds = Seconds(120);
/// Backup codes per set: enough for a long trip without a phone.
pub const DEFAULT_CODES_QUANTITY: u32 = 10;
/// The name authenticator apps and passkey prompts show for the account.
pub const DEFAULT_ISSUER: &str = "Stepgate";
/// The check rate limit a config's `rate_limit = "on"` means: 3 checks per 15 minutes.
pub const DEFAULT_RATE_LIMIT_WHEN_ON: &str = "3:900";

/// One provider switched on, with its settings; ThingsBoard's JSON, tagged by `providerType`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "providerType",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum ProviderConfig {
    /// Authenticator apps.
    #[serde(rename = "TOTP")]
    Totp {
        /// The account's label in the app; changing it does not invalidate enrolled apps.
        issuer_name: String,
    },
    /// Codes by text message.
    #[serde(rename = "SMS")]
    Sms {
        /// The message; must contain `${code}`.
        sms_verification_message_template: String,
        /// How long a sent code stays valid.
        verification_code_lifetime: Seconds,
    },
    /// Codes by email.
    #[serde(rename = "EMAIL")]
    Email {
        /// How long a sent code stays valid.
        verification_code_lifetime: Seconds,
    },
    /// Single-use backup codes.
    #[serde(rename = "BACKUP_CODE")]
    BackupCode {
        /// How many codes a new set has.
        codes_quantity: u32,
    },
    /// Passkeys and security keys.
    #[serde(rename = "WEBAUTHN")]
    Webauthn(WebauthnSettings),
}

/// Whether the authenticator must verify the user (PIN, biometrics) at each use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum UserVerification {
    /// Asked for; a security key without a PIN still works as a second factor.
    Preferred,
    /// Refused without it (every passkey then counts as "something you have and know").
    #[default]
    Required,
}

/// The passkey (WebAuthn) provider's settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct WebauthnSettings {
    /// The relying-party id: a registrable domain suffix of the sign-in page's host. Empty:
    /// the host of `[server] issuer`. Changing it makes every registered passkey unusable.
    pub relying_party_id: String,
    /// The name authenticators show ("Stepgate").
    pub relying_party_name: String,
    /// Whether a PIN or biometric is needed at each use.
    pub user_verification: UserVerification,
    /// Only `none`: Stepgate does not ask authenticators who made them.
    pub attestation: String,
    /// A discoverable passkey with user verification may sign in without a password (it
    /// counts as both factors).
    pub passwordless: bool,
    /// Origins the browser may report besides the issuer's (e.g. another public host name of
    /// the same site behind a proxy); each must be within the relying-party id.
    pub extra_origins: Vec<String>,
}

impl Default for WebauthnSettings {
    fn default() -> Self {
        WebauthnSettings {
            relying_party_id: String::new(),
            relying_party_name: DEFAULT_ISSUER.into(),
            user_verification: UserVerification::Required,
            attestation: "none".into(),
            passwordless: true,
            extra_origins: Vec::new(),
        }
    }
}

impl ProviderConfig {
    /// The provider these settings belong to; a settings list holds at most one of each.
    pub fn provider_type(&self) -> ProviderType {
        match self {
            ProviderConfig::Totp { .. } => ProviderType::Totp,
            ProviderConfig::Sms { .. } => ProviderType::Sms,
            ProviderConfig::Email { .. } => ProviderType::Email,
            ProviderConfig::BackupCode { .. } => ProviderType::BackupCode,
            ProviderConfig::Webauthn(_) => ProviderType::Webauthn,
        }
    }

    /// The provider with ThingsBoard's defaults.
    pub fn default_for(p: ProviderType) -> ProviderConfig {
        match p {
            ProviderType::Totp => ProviderConfig::Totp {
                issuer_name: DEFAULT_ISSUER.into(),
            },
            ProviderType::Sms => ProviderConfig::Sms {
                sms_verification_message_template: DEFAULT_SMS_TEMPLATE.into(),
                verification_code_lifetime: DEFAULT_CODE_LIFETIME,
            },
            ProviderType::Email => ProviderConfig::Email {
                verification_code_lifetime: DEFAULT_CODE_LIFETIME,
            },
            ProviderType::BackupCode => ProviderConfig::BackupCode {
                codes_quantity: DEFAULT_CODES_QUANTITY,
            },
            ProviderType::Webauthn => ProviderConfig::Webauthn(WebauthnSettings::default()),
        }
    }
}

/// Which users `enforceTwoFa` applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum EnforcedUsersFilter {
    /// Every user must have a second factor.
    #[serde(rename = "ALL")]
    All,
    /// Only administrators must (their accounts open everything else).
    #[serde(rename = "ADMINS")]
    Admins,
}

/// The platform's 2FA policy, as the admin API reads and writes it (ThingsBoard's JSON
/// shape, unknown fields refused so a typo is not silently ignored).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TwoFaSettings {
    /// The providers users may use, with their settings; one absent is off for everyone.
    pub providers: Vec<ProviderConfig>,
    /// The time between two sends of a code to one user, against SMS flooding and cost.
    pub min_verification_code_send_period: Seconds,
    /// `"N:S"` in JSON: at most N checks per S seconds per user; `None` (null) is off.
    pub verification_code_check_rate_limit: Option<RateLimit>,
    /// When failed checks lock the user (`0` in JSON: never).
    pub max_verification_failures_before_user_lockout: LockoutLimit,
    /// The time from the password to the last accepted second factor; after that the login
    /// starts again.
    pub total_allowed_time_for_verification: Seconds,
    /// Whether users without a second factor must set one up before they may sign in.
    pub enforce_two_fa: bool,
    /// Which users [`TwoFaSettings::enforce_two_fa`] applies to.
    pub enforced_users_filter: EnforcedUsersFilter,
}

impl Default for TwoFaSettings {
    fn default() -> Self {
        TwoFaSettings {
            providers: vec![
                ProviderConfig::default_for(ProviderType::Totp),
                ProviderConfig::default_for(ProviderType::BackupCode),
            ],
            min_verification_code_send_period: Seconds(30),
            verification_code_check_rate_limit: None,
            max_verification_failures_before_user_lockout: LockoutLimit::after(30),
            total_allowed_time_for_verification: Seconds(3600),
            enforce_two_fa: true,
            enforced_users_filter: EnforcedUsersFilter::All,
        }
    }
}

/// `maxVerificationFailuresBeforeUserLockout`: how many failed second-factor checks lock a
/// user. In JSON, TOML and forms a plain number, `0` meaning never, as in ThingsBoard; here
/// "never" is its own case so no rule compares a count with a zero that means "off".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "u32", into = "u32")]
pub enum LockoutLimit {
    /// Failed checks never lock the user.
    Never,
    /// The failure that brings the count to this locks the user.
    After(NonZeroU32),
}

impl LockoutLimit {
    /// The limit at `failures` failures; `0` is [`LockoutLimit::Never`].
    pub const fn after(failures: u32) -> LockoutLimit {
        match NonZeroU32::new(failures) {
            Some(n) => LockoutLimit::After(n),
            None => LockoutLimit::Never,
        }
    }

    /// The number as the settings carry it (`0` = never).
    pub const fn failures(self) -> u32 {
        match self {
            LockoutLimit::Never => 0,
            LockoutLimit::After(n) => n.get(),
        }
    }
}

impl From<u32> for LockoutLimit {
    fn from(failures: u32) -> LockoutLimit {
        LockoutLimit::after(failures)
    }
}

impl From<LockoutLimit> for u32 {
    fn from(limit: LockoutLimit) -> u32 {
        limit.failures()
    }
}

impl std::fmt::Display for LockoutLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.failures(), f)
    }
}

impl std::str::FromStr for LockoutLimit {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> std::result::Result<LockoutLimit, Self::Err> {
        s.parse().map(LockoutLimit::after)
    }
}

/// A parsed `verificationCodeCheckRateLimit`. It travels as ThingsBoard's `"N:S"` string in
/// the API and in the stored settings, and is parsed once when read: a stored value that does
/// not parse makes the whole settings unreadable (checks are refused) instead of switching the
/// limit off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RateLimit {
    /// Checks allowed in the window; never 0 (that would refuse every login).
    pub max_checks: u32,
    /// The window's length; never 0.
    pub per_seconds: Seconds,
}

impl RateLimit {
    /// Parses `"N:S"`; the refusal is in every language, for the settings page.
    pub fn parse(s: &str) -> std::result::Result<RateLimit, Said> {
        let bad = || words::SETTINGS_RATE_FORM.with("value", s);
        let (n, secs) = s.split_once(':').ok_or_else(bad)?;
        let max_checks: u32 = n.trim().parse().map_err(|_| bad())?;
        let per_seconds: Seconds = secs.trim().parse().map_err(|_| bad())?;
        if max_checks == 0 || per_seconds.get() == 0 {
            return Err(words::SETTINGS_RATE_ZERO.into());
        }
        Ok(RateLimit {
            max_checks,
            per_seconds,
        })
    }
}

impl std::str::FromStr for RateLimit {
    type Err = Said;
    fn from_str(s: &str) -> std::result::Result<RateLimit, Said> {
        RateLimit::parse(s)
    }
}

impl TryFrom<String> for RateLimit {
    type Error = Said;
    fn try_from(s: String) -> std::result::Result<RateLimit, Said> {
        RateLimit::parse(&s)
    }
}

impl From<RateLimit> for String {
    fn from(r: RateLimit) -> String {
        r.to_string()
    }
}

impl std::fmt::Display for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.max_checks, self.per_seconds)
    }
}

impl TwoFaSettings {
    /// A provider's settings; `None` means the provider is off.
    pub fn provider(&self, p: ProviderType) -> Option<&ProviderConfig> {
        self.providers.iter().find(|c| c.provider_type() == p)
    }

    /// Whether the platform offers this provider at all (a user still needs it enrolled).
    pub fn is_available(&self, p: ProviderType) -> bool {
        self.provider(p).is_some()
    }

    /// The check rate limit; `None` is off.
    pub fn rate_limit(&self) -> Option<RateLimit> {
        self.verification_code_check_rate_limit
    }

    /// Whether a user of this role must have a second factor.
    pub fn enforced_for(&self, is_admin: bool) -> bool {
        self.enforce_two_fa
            && match self.enforced_users_filter {
                EnforcedUsersFilter::All => true,
                EnforcedUsersFilter::Admins => is_admin,
            }
    }

    /// The lifetime of a sent code (SMS/EMAIL); `None` for other providers.
    pub fn code_lifetime(&self, p: ProviderType) -> Option<Seconds> {
        match self.provider(p)? {
            ProviderConfig::Sms {
                verification_code_lifetime,
                ..
            }
            | ProviderConfig::Email {
                verification_code_lifetime,
            } => Some(*verification_code_lifetime),
            _ => None,
        }
    }

    /// Backup codes per new set; the default while the provider is off, so a set made
    /// later is still full.
    pub fn codes_quantity(&self) -> u32 {
        match self.provider(ProviderType::BackupCode) {
            Some(ProviderConfig::BackupCode { codes_quantity }) => *codes_quantity,
            _ => DEFAULT_CODES_QUANTITY,
        }
    }

    /// The TOTP issuer label; the default while the provider is off.
    pub fn issuer_name(&self) -> &str {
        match self.provider(ProviderType::Totp) {
            Some(ProviderConfig::Totp { issuer_name }) => issuer_name,
            _ => DEFAULT_ISSUER,
        }
    }

    /// The passkey settings, when the provider is on.
    pub fn webauthn(&self) -> Option<&WebauthnSettings> {
        match self.provider(ProviderType::Webauthn) {
            Some(ProviderConfig::Webauthn(w)) => Some(w),
            _ => None,
        }
    }

    /// The SMS text with `${code}` in it; the default while the provider is off.
    pub fn sms_template(&self) -> &str {
        match self.provider(ProviderType::Sms) {
            Some(ProviderConfig::Sms {
                sms_verification_message_template,
                ..
            }) => sms_verification_message_template,
            _ => DEFAULT_SMS_TEMPLATE,
        }
    }

    /// Checks every limit; the error names the field as the API spells it.
    pub fn validate(&self) -> Result<()> {
        let mut seen = Vec::new();
        for (i, p) in self.providers.iter().enumerate() {
            let t = p.provider_type();
            let at = |f: &str| format!("providers[{i}].{f}");
            if seen.contains(&t) {
                return Err(Error::refused_as(
                    format!("providers[{i}].providerType"),
                    words::SETTINGS_PROVIDER_TWICE.with("provider", t),
                ));
            }
            seen.push(t);
            match p {
                ProviderConfig::Totp { issuer_name } => {
                    let n = issuer_name.trim();
                    if n.is_empty() || n.len() > 64 {
                        return Err(Error::refused_as(
                            at("issuerName"),
                            words::SETTINGS_NAME_LENGTH,
                        ));
                    }
                    if n.contains(':') {
                        return Err(Error::refused_as(
                            at("issuerName"),
                            words::SETTINGS_ISSUER_COLON,
                        ));
                    }
                }
                ProviderConfig::Sms {
                    sms_verification_message_template,
                    verification_code_lifetime,
                } => {
                    if !sms_verification_message_template.contains("${code}") {
                        return Err(Error::refused_as(
                            at("smsVerificationMessageTemplate"),
                            words::SETTINGS_SMS_NO_CODE,
                        ));
                    }
                    if sms_verification_message_template.len() > 320 {
                        return Err(Error::refused_as(
                            at("smsVerificationMessageTemplate"),
                            words::SETTINGS_SMS_LONG,
                        ));
                    }
                    check_lifetime(*verification_code_lifetime, &at("verificationCodeLifetime"))?;
                }
                ProviderConfig::Email {
                    verification_code_lifetime,
                } => check_lifetime(*verification_code_lifetime, &at("verificationCodeLifetime"))?,
                ProviderConfig::BackupCode { codes_quantity } => {
                    if !(1..=100).contains(codes_quantity) {
                        return Err(Error::refused_as(
                            at("codesQuantity"),
                            words::SETTINGS_CODES_QUANTITY,
                        ));
                    }
                }
                ProviderConfig::Webauthn(w) => w.validate(&at)?,
            }
        }
        if !(5..=86_400).contains(&self.min_verification_code_send_period.get()) {
            return Err(Error::refused_as(
                "minVerificationCodeSendPeriod",
                words::SETTINGS_SEND_PERIOD,
            ));
        }
        if self
            .max_verification_failures_before_user_lockout
            .failures()
            > 65_535
        {
            return Err(Error::refused_as(
                "maxVerificationFailuresBeforeUserLockout",
                words::SETTINGS_LOCKOUT,
            ));
        }
        if !(60..=86_400).contains(&self.total_allowed_time_for_verification.get()) {
            return Err(Error::refused_as(
                "totalAllowedTimeForVerification",
                words::SETTINGS_VERIFICATION_TIME,
            ));
        }
        Ok(())
    }
}

impl WebauthnSettings {
    fn validate(&self, at: &dyn Fn(&str) -> String) -> Result<()> {
        let id = self.relying_party_id.trim();
        if id.len() > 253
            || id.contains(['/', ':', ' '])
            || (!id.is_empty() && (id.starts_with('.') || id.ends_with('.')))
        {
            return Err(Error::refused_as(at("relyingPartyId"), words::RP_ID_FORM));
        }
        let name = self.relying_party_name.trim();
        if name.is_empty() || name.len() > 64 {
            return Err(Error::refused_as(
                at("relyingPartyName"),
                words::SETTINGS_NAME_LENGTH,
            ));
        }
        if self.attestation != "none" {
            return Err(Error::refused_as(
                at("attestation"),
                words::RP_ATTESTATION_NONE,
            ));
        }
        for (i, o) in self.extra_origins.iter().enumerate() {
            let ok = (o.starts_with("https://") || o.starts_with("http://"))
                && !o.trim_end_matches('/').contains(['?', '#'])
                && o.split("://")
                    .nth(1)
                    .is_some_and(|h| !h.is_empty() && !h.trim_end_matches('/').contains('/'));
            if !ok {
                return Err(Error::refused_as(
                    at(&format!("extraOrigins[{i}]")),
                    words::RP_ORIGIN_FORM,
                ));
            }
        }
        Ok(())
    }
}

fn check_lifetime(v: Seconds, field: &str) -> Result<()> {
    if !(30..=86_400).contains(&v.get()) {
        return Err(Error::refused_as(field, words::SETTINGS_CODE_LIFETIME));
    }
    Ok(())
}

/// Renders a code message template: `${code}`, `${userEmail}` and `${username}` are replaced.
pub fn render_template(template: &str, code: &str, username: &str, email: &str) -> String {
    template
        .replace("${userEmail}", email)
        .replace("${username}", username)
        .replace("${code}", code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(r: Result<()>) -> String {
        match r {
            Err(Error::Invalid { field, .. }) => field,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn defaults_are_thingsboards_and_valid() {
        let s = TwoFaSettings::default();
        s.validate().unwrap();
        assert_eq!(s.min_verification_code_send_period, Seconds(30));
        assert_eq!(
            s.max_verification_failures_before_user_lockout.failures(),
            30
        );
        assert_eq!(s.total_allowed_time_for_verification, Seconds(3600));
        assert_eq!(s.verification_code_check_rate_limit, None);
        assert_eq!(s.codes_quantity(), 10);
        assert_eq!(s.issuer_name(), "Stepgate");
        assert_eq!(
            ProviderConfig::default_for(ProviderType::Email),
            ProviderConfig::Email {
                verification_code_lifetime: Seconds(120)
            }
        );
    }

    #[test]
    fn json_uses_thingsboard_names() {
        let json = serde_json::json!({
            "providers": [
                {"providerType": "TOTP", "issuerName": "Acme"},
                {"providerType": "SMS", "smsVerificationMessageTemplate": "code ${code}", "verificationCodeLifetime": 60},
                {"providerType": "EMAIL", "verificationCodeLifetime": 300},
                {"providerType": "BACKUP_CODE", "codesQuantity": 5}
            ],
            "minVerificationCodeSendPeriod": 10,
            "verificationCodeCheckRateLimit": "3:900",
            "maxVerificationFailuresBeforeUserLockout": 5,
            "totalAllowedTimeForVerification": 600,
            "enforceTwoFa": true,
            "enforcedUsersFilter": {"type": "ADMINS"}
        });
        let s: TwoFaSettings = serde_json::from_value(json.clone()).unwrap();
        s.validate().unwrap();
        assert_eq!(serde_json::to_value(&s).unwrap(), json);
        assert_eq!(s.code_lifetime(ProviderType::Sms), Some(Seconds(60)));
        assert!(s.enforced_for(true) && !s.enforced_for(false));
        assert_eq!(
            s.rate_limit(),
            Some(RateLimit {
                max_checks: 3,
                per_seconds: Seconds(900)
            })
        );
    }

    #[test]
    fn each_bad_value_names_its_field() {
        let with = |f: &dyn Fn(&mut TwoFaSettings)| {
            let mut s = TwoFaSettings::default();
            f(&mut s);
            s
        };
        let s = with(&|s| s.min_verification_code_send_period = Seconds(4));
        assert_eq!(field_of(s.validate()), "minVerificationCodeSendPeriod");

        let s = with(&|s| s.total_allowed_time_for_verification = Seconds(59));
        assert_eq!(field_of(s.validate()), "totalAllowedTimeForVerification");

        let s = with(&|s| {
            s.max_verification_failures_before_user_lockout = LockoutLimit::after(65_536)
        });
        assert_eq!(
            field_of(s.validate()),
            "maxVerificationFailuresBeforeUserLockout"
        );

        for bad in ["3", "a:b", "0:10", "3:0", "", "3/900"] {
            assert!(RateLimit::parse(bad).is_err(), "{bad:?}");
            let mut v = serde_json::to_value(TwoFaSettings::default()).unwrap();
            v["verificationCodeCheckRateLimit"] = bad.into();
            let e = serde_path_to_error::deserialize::<_, TwoFaSettings>(v).unwrap_err();
            assert_eq!(e.path().to_string(), "verificationCodeCheckRateLimit");
        }

        let mut s = TwoFaSettings::default();
        s.providers.push(ProviderConfig::Sms {
            sms_verification_message_template: "no placeholder".into(),
            verification_code_lifetime: Seconds(120),
        });
        assert_eq!(
            field_of(s.validate()),
            "providers[2].smsVerificationMessageTemplate"
        );

        let mut s = TwoFaSettings::default();
        s.providers
            .push(ProviderConfig::default_for(ProviderType::Totp));
        assert_eq!(field_of(s.validate()), "providers[2].providerType");

        let mut s = TwoFaSettings::default();
        s.providers[1] = ProviderConfig::BackupCode { codes_quantity: 0 };
        assert_eq!(field_of(s.validate()), "providers[1].codesQuantity");
    }

    #[test]
    fn unknown_json_fields_are_refused() {
        let mut v = serde_json::to_value(TwoFaSettings::default()).unwrap();
        v["maxFailures"] = 3.into();
        assert!(serde_json::from_value::<TwoFaSettings>(v).is_err());
    }

    #[test]
    fn template_placeholders() {
        assert_eq!(
            render_template(
                "${username} (${userEmail}): ${code}",
                "123456",
                "bob",
                "b@x.io"
            ),
            "bob (b@x.io): 123456"
        );
    }
}
