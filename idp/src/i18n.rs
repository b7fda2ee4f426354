//! The pages' words: one Fluent catalogue per language in `idp/locales/<lang>/*.ftl`, compiled
//! into the binary (a new language is a new folder, no code). English (`en`) is complete and
//! the fallback for any message another language lacks.
//!
//! The language of a request is chosen once, by [`layer`]: a `ui_locales` of the pending
//! authorization request (OpenID Connect, space-separated, first supported wins) when a login
//! page belongs to one, else `Accept-Language` (q-values honoured), else English. Handlers and
//! templates read it through [`t`], [`t_args`] and the templates' `t()` function, so nothing
//! has to pass it along.

use axum::extract::{Request, State};
use axum::http::header::ACCEPT_LANGUAGE;
use axum::middleware::Next;
use axum::response::Response;
use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, Loader};
use std::borrow::Cow;
use std::cell::Cell;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock};
use stepgate_core::words::Said;

fluent_templates::static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "en",
        // No Unicode isolation marks around arguments: the pages are HTML, and a username
        // or an address is shown exactly as typed.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

/// A supported language (one of the catalogue's folders).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lang(&'static LanguageIdentifier);

/// The catalogue's languages, English first, then by tag.
static SUPPORTED: LazyLock<Vec<&'static LanguageIdentifier>> = LazyLock::new(|| {
    let mut v: Vec<&'static LanguageIdentifier> = LOCALES.locales().collect();
    v.sort_by_key(|l| (l.language.as_str() != "en", l.to_string()));
    v
});

impl Lang {
    pub fn english() -> Lang {
        Lang(SUPPORTED[0])
    }

    /// The tag for `<html lang>`, like `en` or `de`.
    pub fn tag(self) -> String {
        self.0.to_string()
    }

    /// The supported language for one requested tag: the same tag, else the same primary
    /// language (`de-AT` → `de`); `None` when the catalogue has neither.
    pub fn find(tag: &str) -> Option<Lang> {
        let wanted: LanguageIdentifier = tag.trim().parse().ok()?;
        if wanted.language.as_str() == "und" {
            return None;
        }
        SUPPORTED
            .iter()
            .find(|l| ***l == wanted)
            .or_else(|| SUPPORTED.iter().find(|l| l.language == wanted.language))
            .map(|l| Lang(l))
    }

    /// Every supported language.
    pub fn all() -> impl Iterator<Item = Lang> {
        SUPPORTED.iter().map(|l| Lang(l))
    }
}

/// `Accept-Language`: the supported language with the highest q-value (ties: the one named
/// first); `q=0` means "not this one".
pub fn from_accept_language(header: &str) -> Option<Lang> {
    accept_language::parse_with_quality(header)
        .into_iter()
        .filter(|(_, q)| *q > 0.0)
        .find_map(|(tag, _)| Lang::find(&tag))
}

/// OpenID Connect `ui_locales`: space-separated, in order of preference; the first supported
/// one wins.
pub fn from_ui_locales(ui_locales: &str) -> Option<Lang> {
    ui_locales.split_whitespace().find_map(Lang::find)
}

/// What the pages of one request share: its language, and the brand to show.
struct PageEnv {
    lang: Cell<Lang>,
    brand: Arc<Brand>,
}

tokio::task_local! {
    static PAGE: PageEnv;
}

/// The brand area's contents (`[branding]`).
#[derive(Debug)]
pub struct Brand {
    pub name: String,
    /// The logo's content type and bytes, served at `/branding/logo`.
    pub logo: Option<(&'static str, axum::body::Bytes)>,
}

impl Default for Brand {
    fn default() -> Self {
        Brand {
            name: "Stepgate".into(),
            logo: None,
        }
    }
}

static DEFAULT_BRAND: LazyLock<Arc<Brand>> = LazyLock::new(|| Arc::new(Brand::default()));

/// The language of the request being answered (English outside of one, as in unit tests).
pub fn current() -> Lang {
    PAGE.try_with(|p| p.lang.get())
        .unwrap_or_else(|_| Lang::english())
}

/// The brand of the server answering this request.
pub fn brand() -> Arc<Brand> {
    PAGE.try_with(|p| p.brand.clone())
        .unwrap_or_else(|_| DEFAULT_BRAND.clone())
}

/// The pending authorization request asked for a language (`ui_locales`): its login pages
/// use it, whatever the browser's `Accept-Language` says.
pub fn use_ui_locales(ui_locales: Option<&str>) {
    if let Some(lang) = ui_locales.and_then(from_ui_locales) {
        let _ = PAGE.try_with(|p| p.lang.set(lang));
    }
}

/// Runs the rest of the request with its language (from `Accept-Language`) and brand.
pub async fn layer(State(st): State<crate::state::AppState>, req: Request, next: Next) -> Response {
    let lang = req
        .headers()
        .get(ACCEPT_LANGUAGE)
        .and_then(|h| h.to_str().ok())
        .and_then(from_accept_language)
        .unwrap_or_else(Lang::english);
    let env = PageEnv {
        lang: Cell::new(lang),
        brand: st.brand.clone(),
    };
    PAGE.scope(env, next.run(req)).await
}

/// The message `key` in the request's language.
pub fn t(key: &str) -> String {
    lookup(current(), key, None)
}

/// The message `key` with its arguments (`{ $name }` in the catalogue).
pub fn t_args(key: &str, args: &[(&'static str, FluentValue<'static>)]) -> String {
    let map: HashMap<Cow<'static, str>, FluentValue<'static>> = args
        .iter()
        .map(|(k, v)| (Cow::Borrowed(*k), v.clone()))
        .collect();
    lookup(current(), key, Some(&map))
}

fn lookup(
    lang: Lang,
    key: &str,
    args: Option<&HashMap<Cow<'static, str>, FluentValue<'static>>>,
) -> String {
    match LOCALES.try_lookup_complete(lang.0, key, args) {
        Some(s) => s,
        None => {
            // A key missing even in English is a mistake the catalogue test catches; the
            // page still shows something a developer can find.
            tracing::error!(key, lang = %lang.0, "message missing from the catalogue");
            key.to_string()
        }
    }
}

/// A provider as people name it ("Authenticator app", "Passkey"): the one mapping every
/// page uses (`provider-TOTP`, … in the catalogue).
pub fn provider_name(p: stepgate_core::ProviderType) -> String {
    t(&format!("provider-{}", p.as_str()))
}

/// An audit event's kind in words (`event-login_completed` in the catalogue). A kind the
/// catalogue lacks (a newer database read by an older binary) is shown as stored, readable.
pub fn event_name(kind: &str) -> String {
    let key = format!("event-{kind}");
    match LOCALES.try_lookup(current().0, &key) {
        Some(words) => words,
        None => kind.replace('_', " "),
    }
}

/// A core refusal as a page says it: the catalogue's `core-<id>` in the reader's language,
/// or the core's English for a refusal that has no words of its own (a library's message).
pub fn core_words(words: Option<Said>, english: String) -> String {
    match words {
        Some(said) => said_in_words(&said),
        None => english,
    }
}

/// Words with their values (`{ $name }`) in the reader's language.
pub fn said_in_words(said: &Said) -> String {
    let args: Vec<(&'static str, FluentValue<'static>)> = said
        .args
        .iter()
        .map(|(name, value)| (*name, FluentValue::from(value.clone())))
        .collect();
    t_args(&format!("core-{}", said.words.id), &args)
}

/// "There is no such …" for what the core did not find (`err-no-such-user`, …); a kind the
/// catalogue lacks is named as the core names it.
pub fn no_such(what: &str) -> String {
    let key = format!("err-no-such-{}", what.replace(' ', "-"));
    match LOCALES.try_lookup(current().0, &key) {
        Some(words) => words,
        None => t_args("admin-no-such", &[("what", what.to_string().into())]),
    }
}

/// What a requested scope lets the application do, in words (`scope-email`, and
/// `scope-stepgate_account` for `stepgate:account`). A scope the catalogue lacks is shown as
/// it was asked for.
pub fn scope_name(scope: &str) -> String {
    let key = format!("scope-{}", scope.replace(':', "_"));
    LOCALES
        .try_lookup(current().0, &key)
        .unwrap_or_else(|| scope.to_string())
}

/// The templates' `t("key", name=value, …)`.
pub fn template_t(key: &str, kwargs: minijinja::value::Kwargs) -> Result<String, minijinja::Error> {
    let mut args: HashMap<Cow<'static, str>, FluentValue<'static>> = HashMap::new();
    for name in kwargs.args() {
        let v: minijinja::Value = kwargs.get(name)?;
        let fv = if let Some(i) = v.as_i64() {
            FluentValue::from(i)
        } else if let Some(s) = v.as_str() {
            FluentValue::from(s.to_string())
        } else {
            FluentValue::from(v.to_string())
        };
        args.insert(Cow::Owned(name.to_string()), fv);
    }
    kwargs.assert_all_used()?;
    Ok(lookup(current(), key, (!args.is_empty()).then_some(&args)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(l: Option<Lang>) -> Option<String> {
        l.map(Lang::tag)
    }

    #[test]
    fn accept_language_honours_q_values() {
        assert_eq!(tag(from_accept_language("de")), Some("de".into()));
        assert_eq!(
            tag(from_accept_language("de-AT,de;q=0.9")),
            Some("de".into())
        );
        // The higher q wins, wherever it stands.
        assert_eq!(
            tag(from_accept_language("en;q=0.5, de;q=0.8")),
            Some("de".into())
        );
        assert_eq!(
            tag(from_accept_language("de;q=0.3, en-US;q=0.9")),
            Some("en".into())
        );
        // Unsupported ones are skipped, q=0 refuses.
        assert_eq!(
            tag(from_accept_language("fr-CA, ja;q=0.9, de;q=0.5")),
            Some("de".into())
        );
        assert_eq!(tag(from_accept_language("de;q=0")), None);
        assert_eq!(tag(from_accept_language("fr, ja")), None);
        assert_eq!(tag(from_accept_language("")), None);
        assert_eq!(tag(from_accept_language("*")), None);
    }

    #[test]
    fn ui_locales_first_supported_wins() {
        assert_eq!(tag(from_ui_locales("fr-CA de en")), Some("de".into()));
        assert_eq!(tag(from_ui_locales("en de")), Some("en".into()));
        assert_eq!(tag(from_ui_locales("ja  fr")), None);
        assert_eq!(tag(from_ui_locales("")), None);
    }

    #[tokio::test]
    async fn ui_locales_take_precedence_and_unsupported_is_english() {
        let env = |lang| PageEnv {
            lang: Cell::new(lang),
            brand: DEFAULT_BRAND.clone(),
        };
        let german = Lang::find("de").unwrap();
        // Accept-Language said German; the authorization's ui_locales say English.
        PAGE.scope(env(german), async {
            assert_eq!(current().tag(), "de");
            assert_eq!(t("sign-in-title"), "Anmelden");
            use_ui_locales(Some("en-GB de"));
            assert_eq!(current().tag(), "en");
            assert_eq!(t("sign-in-title"), "Sign in");
            // An unsupported ui_locales changes nothing.
            use_ui_locales(Some("ja"));
            assert_eq!(current().tag(), "en");
        })
        .await;
        PAGE.scope(env(Lang::english()), async {
            use_ui_locales(Some("de-CH"));
            assert_eq!(current().tag(), "de");
        })
        .await;
        // Outside a request: English.
        assert_eq!(current().tag(), "en");
        assert_eq!(t("sign-in-title"), "Sign in");
    }

    #[test]
    fn every_audit_event_has_words() {
        let english = keys("en");
        for kind in stepgate_core::audit::EventKind::ALL {
            let key = format!("event-{}", kind.as_str());
            assert!(english.contains(&key), "{key} is missing");
            for lang in Lang::all() {
                assert!(
                    LOCALES.try_lookup(lang.0, &key).is_some(),
                    "{key} ({})",
                    lang.tag()
                );
            }
        }
    }

    /// The core's refusals and those of idp's client store: all `core-<id>` in the catalogue.
    fn all_words() -> impl Iterator<Item = &'static stepgate_core::words::Words> {
        stepgate_core::words::ALL
            .iter()
            .chain(crate::store::clients::words::ALL)
    }

    #[test]
    fn every_core_refusal_has_words_in_every_language() {
        let mut ids: Vec<_> = all_words().map(|w| w.id).collect();
        ids.sort_unstable();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n, "an id is used twice");
        for w in all_words() {
            let key = format!("core-{}", w.id);
            // A value for each slot the words have.
            let args: HashMap<Cow<'static, str>, FluentValue<'static>> = slots(w)
                .into_iter()
                .map(|s| (Cow::Borrowed(s), FluentValue::from("x")))
                .collect();
            for lang in Lang::all() {
                // In this language itself, without falling back to English.
                let words = LOCALES.lookup_single_language(lang.0, &key, Some(&args));
                assert!(words.is_ok(), "{key} ({}): {words:?}", lang.tag());
            }
        }
        // The English of the pages and of the API say the same thing.
        let english = Lang::all().find(|l| l.tag() == "en").expect("English");
        let e = LOCALES
            .try_lookup(english.0, "core-passkey-name-long")
            .expect("words");
        assert!(e.contains(&stepgate_core::passkeys::MAX_NAME_CHARS.to_string()));
    }

    /// The values a message of the catalogue names (`{ $name }`), in one language's files.
    fn variables(lang: &str, key: &str) -> Vec<String> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("locales")
            .join(lang);
        let mut found = None;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            let start = format!("{key} =");
            let mut lines = text.lines().skip_while(|l| !l.starts_with(&start));
            if let Some(first) = lines.next() {
                let mut message = first.to_string();
                // A message goes on over indented lines.
                for l in lines.take_while(|l| l.starts_with(' ')) {
                    message.push_str(l);
                }
                found = Some(message);
            }
        }
        let message = found.unwrap_or_else(|| panic!("{key} ({lang}) is missing"));
        message
            .split("{ $")
            .skip(1)
            .filter_map(|r| r.split([' ', '}']).next())
            .map(str::to_string)
            .collect()
    }

    /// The slots of the words' English: `{name}` or `{name:?}`.
    fn slots(w: &stepgate_core::words::Words) -> Vec<&'static str> {
        w.english
            .split('{')
            .skip(1)
            .filter_map(|r| r.split('}').next())
            .map(|s| s.trim_end_matches(":?"))
            .collect()
    }

    #[test]
    fn the_catalogue_names_only_values_the_core_gives() {
        for w in all_words() {
            let slots = slots(w);
            for lang in Lang::all() {
                let key = format!("core-{}", w.id);
                for v in variables(&lang.tag(), &key) {
                    assert!(
                        slots.contains(&v.as_str()),
                        "{key} ({}) names {v}, which the core does not give",
                        lang.tag()
                    );
                }
            }
        }
        assert_eq!(
            variables("de", "core-host-group-not-allowed"),
            ["host", "group"]
        );
        // A value reaches the page in the reader's language.
        let said = stepgate_core::words::GROUP_MISSING.with("name", "ops");
        assert_eq!(
            said_in_words(&said),
            "There is no group named “ops” (create it first)."
        );
        assert_eq!(
            said.to_string(),
            "there is no group named \"ops\" (create it first)"
        );
    }

    #[test]
    fn every_scope_offered_has_words() {
        let api = [
            crate::api_resource::SCOPE_ACCOUNT,
            crate::api_resource::SCOPE_ADMIN,
        ];
        for scope in crate::oidc::authorize::SCOPES.iter().chain(&api) {
            let key = format!("scope-{}", scope.replace(':', "_"));
            for lang in Lang::all() {
                assert!(
                    LOCALES.try_lookup(lang.0, &key).is_some(),
                    "{key} ({})",
                    lang.tag()
                );
            }
        }
    }

    #[test]
    fn arguments_and_plurals() {
        assert_eq!(
            t_args("code-wrong-attempts", &[("n", 1.into())]),
            "That code is not right. 1 attempt left before the account is locked."
        );
        assert_eq!(
            t_args("code-wrong-attempts", &[("n", 3.into())]),
            "That code is not right. 3 attempts left before the account is locked."
        );
    }

    /// The message ids (and their attributes) of one language's catalogue files.
    fn keys(lang: &str) -> std::collections::BTreeSet<String> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("locales")
            .join(lang);
        let mut keys = std::collections::BTreeSet::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("ftl") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let resource = fluent_syntax::parser::parse(text.as_str())
                .unwrap_or_else(|(_, errors)| panic!("{}: {errors:?}", path.display()));
            for entry in resource.body {
                if let fluent_syntax::ast::Entry::Message(m) = entry {
                    keys.insert(m.id.name.to_string());
                    for a in m.attributes {
                        keys.insert(format!("{}.{}", m.id.name, a.id.name));
                    }
                }
            }
        }
        keys
    }

    #[test]
    fn every_language_has_every_english_message() {
        let english = keys("en");
        assert!(english.len() > 100, "{}", english.len());
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("locales");
        let mut others = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let lang = entry.file_name().to_string_lossy().to_string();
            if lang == "en" || !entry.path().is_dir() {
                continue;
            }
            others += 1;
            let theirs = keys(&lang);
            let missing: Vec<_> = english.difference(&theirs).collect();
            assert!(missing.is_empty(), "{lang} lacks {missing:?}");
            let extra: Vec<_> = theirs.difference(&english).collect();
            assert!(
                extra.is_empty(),
                "{lang} has messages English lacks: {extra:?}"
            );
            assert!(Lang::find(&lang).is_some(), "{lang} is not loaded");
        }
        assert!(others >= 1, "a second language proves the catalogue");
    }

    #[test]
    fn every_message_formats_in_every_language() {
        // Every argument any message uses, so that each formats without an error (an error
        // would show the key instead of the words).
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("locales/en/main.ftl"),
        )
        .unwrap();
        let mut args: HashMap<Cow<'static, str>, FluentValue<'static>> = HashMap::new();
        for name in text
            .split("{ $")
            .skip(1)
            .filter_map(|r| r.split([' ', '}']).next())
        {
            let value = if name == "n" || name == "seconds" || name == "minutes" {
                FluentValue::from(2)
            } else {
                FluentValue::from("x".to_string())
            };
            args.insert(Cow::Owned(name.to_string()), value);
        }
        assert!(
            args.contains_key("n") && args.contains_key("to"),
            "{args:?}"
        );
        for lang in Lang::all() {
            for key in keys("en") {
                // In this language itself, without falling back to English.
                let formatted = LOCALES.lookup_single_language(lang.0, &key, Some(&args));
                assert!(formatted.is_ok(), "{} {key}: {formatted:?}", lang.tag());
            }
        }
    }
}
