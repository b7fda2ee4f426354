//! Server-rendered pages. The templates are compiled into the binary (no files to deploy) and
//! rendered by minijinja with HTML auto-escaping, so a username or a message can never inject
//! markup. Their words come from the message catalogue (`t("key")`, see `crate::i18n`), in
//! the request's language.

use axum::response::Html;
use minijinja::Environment;
use std::sync::LazyLock;

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.add_function("t", crate::i18n::template_t);
    // Every name that goes into a link or a form's action: `{{ name|segment }}` in a path,
    // `{{ name|query }}` after `?`.
    env.add_filter("segment", |s: &str| crate::http::url_segment(s));
    env.add_filter("query", |s: &str| crate::http::query_value(s));
    env.add_function("provider_name", |id: &str| -> String {
        match id.parse::<stepgate_core::ProviderType>() {
            Ok(p) => crate::i18n::provider_name(p),
            Err(_) => id.to_string(),
        }
    });
    env.add_function("event_name", |kind: &str| crate::i18n::event_name(kind));
    env.add_function("scope_name", |scope: &str| crate::i18n::scope_name(scope));
    for (name, source) in [
        ("base.html", include_str!("../templates/base.html")),
        ("error.html", include_str!("../templates/error.html")),
        ("login.html", include_str!("../templates/login.html")),
        ("device.html", include_str!("../templates/device.html")),
        (
            "second_factor.html",
            include_str!("../templates/second_factor.html"),
        ),
        ("home.html", include_str!("../templates/home.html")),
        ("logout.html", include_str!("../templates/logout.html")),
        (
            "account_security.html",
            include_str!("../templates/account_security.html"),
        ),
        ("macros.html", include_str!("../templates/macros.html")),
        ("api_docs.html", include_str!("../templates/api_docs.html")),
        (
            "admin_settings.html",
            include_str!("../templates/admin_settings.html"),
        ),
        (
            "admin_users.html",
            include_str!("../templates/admin_users.html"),
        ),
        (
            "admin_user.html",
            include_str!("../templates/admin_user.html"),
        ),
        (
            "admin_clients.html",
            include_str!("../templates/admin_clients.html"),
        ),
        (
            "admin_groups.html",
            include_str!("../templates/admin_groups.html"),
        ),
        (
            "admin_group.html",
            include_str!("../templates/admin_group.html"),
        ),
        (
            "admin_hosts.html",
            include_str!("../templates/admin_hosts.html"),
        ),
        (
            "admin_host.html",
            include_str!("../templates/admin_host.html"),
        ),
        (
            "admin_audit.html",
            include_str!("../templates/admin_audit.html"),
        ),
    ] {
        // A broken template is a build mistake; the test suite renders every page.
        if let Err(e) = env.add_template(name, source) {
            tracing::error!(template = name, error = %e, "template does not compile");
        }
    }
    env
});

/// Renders a page; a rendering failure is logged and shown as a bare error page.
pub fn render(name: &str, ctx: minijinja::Value) -> Html<String> {
    let brand = crate::i18n::brand();
    let ctx = minijinja::context! {
        lang => crate::i18n::current().tag(),
        brand_name => brand.name.clone(),
        brand_logo => brand.logo.is_some(),
        ..ctx
    };
    match TEMPLATES.get_template(name).and_then(|t| t.render(ctx)) {
        Ok(html) => Html(html),
        Err(e) => {
            tracing::error!(template = name, error = %e, "page could not be rendered");
            Html(
                "<!doctype html><title>Error</title><p>The page could not be shown.</p>"
                    .to_string(),
            )
        }
    }
}

/// The one stylesheet, served from `/static/style.css` (the CSP allows styles from self only).
pub const STYLESHEET: &str = include_str!("../static/style.css");

/// The Print button of the backup-codes page, the only script (served from `/static/print.js`).
pub const PRINT_SCRIPT: &str = include_str!("../static/print.js");
/// The passkey buttons' script (WebAuthn needs one), served from `/static/passkey.js`.
pub const PASSKEY_SCRIPT: &str = include_str!("../static/passkey.js");

#[cfg(test)]
mod tests {
    #[test]
    fn every_template_compiles() {
        for name in [
            "base.html",
            "error.html",
            "login.html",
            "device.html",
            "second_factor.html",
            "home.html",
            "logout.html",
            "account_security.html",
            "macros.html",
            "api_docs.html",
            "admin_settings.html",
            "admin_users.html",
            "admin_user.html",
            "admin_clients.html",
            "admin_groups.html",
            "admin_group.html",
            "admin_hosts.html",
            "admin_host.html",
            "admin_audit.html",
        ] {
            assert!(super::TEMPLATES.get_template(name).is_ok(), "{name}");
        }
    }
}
