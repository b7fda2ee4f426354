//! Registered OpenID Connect clients (relying parties).
//!
//! A confidential client's secret is 256 random bits shown once; only its SHA-256 is stored
//! and it is compared in constant time. Redirect URIs are matched exactly, so registration
//! checks that each one is an absolute URL without a fragment, https unless it points at the
//! loopback interface (development) or uses a private scheme (native apps, RFC 8252).

use super::{from_json_list, to_json_list};
use crate::crypto;
use sqlx::any::AnyRow;
use sqlx::Row;
use stepgate_core::db::Db;
use stepgate_core::Error;

/// The client store's refusals, in words every language has: like the core's own
/// (`stepgate_core::words`), they are `core-<id>` in the catalogue.
pub mod words {
    stepgate_core::words! {
        CLIENT_EXISTS = "client-exists": "a client {id:?} already exists";
        CLIENT_PUBLIC_NO_SECRET = "client-public-no-secret": "{id} is a public client: it has no secret to rotate";
        CLIENT_ID_FORM = "client-id-form": "use 1 to 128 letters, digits, '.', '_', '-' or ':'";
        CLIENT_NAME_LONG = "client-name-long": "must be at most 200 characters";
        URI_NOT_ABSOLUTE = "uri-not-absolute": "{uri:?} is not an absolute URL: {why}";
        URI_FRAGMENT = "uri-fragment": "{uri:?} must not contain a fragment";
        URI_NOT_HTTPS = "uri-not-https": "{uri:?} must use https (plain http is only allowed for localhost)";
        URI_SCHEME = "uri-scheme": "{uri:?}: the scheme {scheme:?} is not allowed; use https";
        CLIENT_NO_GRANT = "client-no-grant": "give at least one grant type";
        CLIENT_CODE_NO_REDIRECT = "client-code-no-redirect": "the authorization_code grant needs at least one --redirect-uri";
        CLIENT_CODE_REDIRECT_LEFT = "client-code-redirect-left": "the authorization_code grant needs at least one redirect URI";
        CLIENT_REFRESH_ALONE = "client-refresh-alone": "refresh_token only makes sense with authorization_code or {device}";
        CLIENT_PUBLIC_CREDENTIALS = "client-public-credentials": "a public client cannot use client_credentials (it has no secret)";
        CLIENT_SCOPE_IS_API = "client-scope-is-api": "{scope:?} is a Stepgate API scope: register it with --api-scope";
        CLIENT_SCOPE_NOT_GRANTABLE = "client-scope-not-grantable": "{scope:?} cannot be granted through client_credentials";
        CLIENT_API_SCOPE_UNKNOWN = "client-api-scope-unknown": "{scope:?} is not a Stepgate API scope (use {scopes})";
        CLIENT_API_SCOPE_TWICE = "client-api-scope-twice": "{scope:?} is listed twice";
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
    /// RFC 8628: a device without a browser polls while its user approves on `/device`.
    DeviceCode,
}

impl GrantType {
    pub const ALL: [GrantType; 4] = [
        GrantType::AuthorizationCode,
        GrantType::RefreshToken,
        GrantType::ClientCredentials,
        GrantType::DeviceCode,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::ClientCredentials => "client_credentials",
            GrantType::DeviceCode => DEVICE_CODE_GRANT,
        }
    }

    pub fn parse(s: &str) -> Option<GrantType> {
        Self::ALL.into_iter().find(|g| g.as_str() == s)
    }
}

/// The grant type name of RFC 8628 §3.4.
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The JWS algorithm a client's ID tokens are signed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SigningAlg {
    Es256,
    Rs256,
}

impl SigningAlg {
    pub const ALL: [SigningAlg; 2] = [SigningAlg::Es256, SigningAlg::Rs256];

    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::Es256 => "ES256",
            SigningAlg::Rs256 => "RS256",
        }
    }

    pub fn parse(s: &str) -> Option<SigningAlg> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s))
    }
}

#[derive(Clone, Debug)]
pub struct Client {
    pub client_id: String,
    pub name: String,
    /// `None` for a public client (it authenticates with PKCE only).
    pub secret_hash: Option<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<GrantType>,
    /// Scopes the client may ask for with `client_credentials` (beyond the OIDC ones, which
    /// only user logins get).
    pub scopes: Vec<String>,
    /// Stepgate API scopes (`stepgate:account`, `stepgate:admin`) an administrator granted this
    /// client; none unless registered (see `api_resource`).
    pub api_scopes: Vec<String>,
    /// Only members of one of these groups may sign in to this client; none: everyone.
    pub allowed_groups: Vec<String>,
    /// Every login to this client must pass a second factor.
    pub require_2fa: bool,
    pub id_token_alg: SigningAlg,
    pub created_at: i64,
}

impl Client {
    pub fn is_public(&self) -> bool {
        self.secret_hash.is_none()
    }

    pub fn allows(&self, g: GrantType) -> bool {
        self.grant_types.contains(&g)
    }

    /// Whether an administrator registered this client for the API scope `s`.
    pub fn has_api_scope(&self, s: &str) -> bool {
        self.api_scopes.iter().any(|x| x == s)
    }

    /// Whether a user in the groups `member_of` may sign in to this client.
    pub fn admits(&self, member_of: &[String]) -> bool {
        stepgate_core::groups::admitted_by(&self.allowed_groups, member_of)
    }

    /// What `client_credentials` may grant: the registered scopes and API scopes.
    pub fn may_grant_itself(&self, s: &str) -> bool {
        self.scopes.iter().any(|x| x == s) || self.has_api_scope(s)
    }

    /// A name for pages: the registered name, else the id.
    pub fn display_name(&self) -> &str {
        if self.name.is_empty() {
            &self.client_id
        } else {
            &self.name
        }
    }
}

/// What `stepgate client add` (and later the admin console) registers.
#[derive(Clone, Debug)]
pub struct NewClient {
    pub client_id: String,
    pub name: String,
    pub public: bool,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<GrantType>,
    pub scopes: Vec<String>,
    pub api_scopes: Vec<String>,
    /// Group names (see `Client::allowed_groups`); each must exist.
    pub allowed_groups: Vec<String>,
    pub require_2fa: bool,
    pub id_token_alg: SigningAlg,
}

const COLUMNS: &str = "client_id, name, secret_hash, redirect_uris, post_logout_redirect_uris, \
                       grant_types, scopes, api_scopes, allowed_groups, require_2fa, id_token_alg, \
                       created_at";

fn from_row(r: &AnyRow) -> Result<Client, Error> {
    let grant_types = from_json_list(&r.try_get::<String, _>("grant_types")?)?
        .iter()
        .filter_map(|g| GrantType::parse(g))
        .collect();
    let alg: String = r.try_get("id_token_alg")?;
    Ok(Client {
        client_id: r.try_get("client_id")?,
        name: r.try_get("name")?,
        secret_hash: r.try_get("secret_hash")?,
        redirect_uris: from_json_list(&r.try_get::<String, _>("redirect_uris")?)?,
        post_logout_redirect_uris: from_json_list(
            &r.try_get::<String, _>("post_logout_redirect_uris")?,
        )?,
        grant_types,
        scopes: from_json_list(&r.try_get::<String, _>("scopes")?)?,
        api_scopes: from_json_list(&r.try_get::<String, _>("api_scopes")?)?,
        allowed_groups: from_json_list(&r.try_get::<String, _>("allowed_groups")?)?,
        require_2fa: r.try_get::<i64, _>("require_2fa")? != 0,
        id_token_alg: SigningAlg::parse(&alg).unwrap_or(SigningAlg::Es256),
        created_at: r.try_get("created_at")?,
    })
}

pub fn validate_client_id(id: &str) -> Result<(), Error> {
    let ok = (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'));
    if ok {
        Ok(())
    } else {
        Err(Error::refused_as("client_id", words::CLIENT_ID_FORM))
    }
}

/// Checks a redirect URI (or post-logout redirect URI) at registration.
pub fn validate_redirect_uri(field: &str, uri: &str) -> Result<(), Error> {
    let parsed = url::Url::parse(uri).map_err(|e| {
        Error::refused_as(
            field,
            words::URI_NOT_ABSOLUTE.with("uri", uri).with("why", e),
        )
    })?;
    if parsed.fragment().is_some() {
        return Err(Error::refused_as(
            field,
            words::URI_FRAGMENT.with("uri", uri),
        ));
    }
    match parsed.scheme() {
        "https" => Ok(()),
        "http" => {
            let loopback = match parsed.host() {
                Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            };
            if loopback {
                Ok(())
            } else {
                Err(Error::refused_as(
                    field,
                    words::URI_NOT_HTTPS.with("uri", uri),
                ))
            }
        }
        // RFC 8252 §7.1: native apps use a private-use scheme in reverse-domain form.
        s if s.contains('.') => Ok(()),
        s => Err(Error::refused_as(
            field,
            words::URI_SCHEME.with("uri", uri).with("scheme", s),
        )),
    }
}

/// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
pub fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

fn validate(new: &NewClient) -> Result<(), Error> {
    validate_client_id(&new.client_id)?;
    if new.name.chars().count() > 200 {
        return Err(Error::refused_as("name", words::CLIENT_NAME_LONG));
    }
    for uri in &new.redirect_uris {
        validate_redirect_uri("redirect_uri", uri)?;
    }
    for uri in &new.post_logout_redirect_uris {
        validate_redirect_uri("post_logout_redirect_uri", uri)?;
    }
    if new.grant_types.is_empty() {
        return Err(Error::refused_as("grant", words::CLIENT_NO_GRANT));
    }
    if new.grant_types.contains(&GrantType::AuthorizationCode) && new.redirect_uris.is_empty() {
        return Err(Error::refused_as(
            "redirect_uri",
            words::CLIENT_CODE_NO_REDIRECT,
        ));
    }
    if new.grant_types.contains(&GrantType::RefreshToken)
        && !new.grant_types.contains(&GrantType::AuthorizationCode)
        && !new.grant_types.contains(&GrantType::DeviceCode)
    {
        return Err(Error::refused_as(
            "grant",
            words::CLIENT_REFRESH_ALONE.with("device", DEVICE_CODE_GRANT),
        ));
    }
    if new.public && new.grant_types.contains(&GrantType::ClientCredentials) {
        return Err(Error::refused_as("grant", words::CLIENT_PUBLIC_CREDENTIALS));
    }
    for s in &new.scopes {
        if s.starts_with("stepgate:") {
            return Err(Error::refused_as(
                "scope",
                words::CLIENT_SCOPE_IS_API.with("scope", s),
            ));
        }
        if !is_scope_token(s) || matches!(s.as_str(), "openid" | "offline_access") {
            return Err(Error::refused_as(
                "scope",
                words::CLIENT_SCOPE_NOT_GRANTABLE.with("scope", s),
            ));
        }
    }
    validate_api_scopes(&new.api_scopes)
}

/// The field a bad allowed group is reported under (`--allow-group` on the command line).
pub const ALLOW_GROUP: &str = "allow_group";

/// API scopes must be Stepgate's own, each once.
pub fn validate_api_scopes(scopes: &[String]) -> Result<(), Error> {
    for (i, s) in scopes.iter().enumerate() {
        if !crate::api_resource::is_api_scope(s) {
            return Err(Error::refused_as(
                "api_scope",
                words::CLIENT_API_SCOPE_UNKNOWN
                    .with("scope", s)
                    .with("scopes", crate::api_resource::API_SCOPES.join(" or ")),
            ));
        }
        if scopes[..i].contains(s) {
            return Err(Error::refused_as(
                "api_scope",
                words::CLIENT_API_SCOPE_TWICE.with("scope", s),
            ));
        }
    }
    Ok(())
}

/// Registers a client; returns it with its secret (confidential clients), shown only now.
pub async fn create(db: &Db, new: NewClient, now: i64) -> Result<(Client, Option<String>), Error> {
    validate(&new)?;
    stepgate_core::groups::check_names(db.pool(), ALLOW_GROUP, &new.allowed_groups).await?;
    let secret = (!new.public).then(crypto::random_token);
    let mut tx = db.begin().await?;
    let exists: Option<(String,)> =
        sqlx::query_as("SELECT client_id FROM oidc_clients WHERE client_id = $1")
            .bind(&new.client_id)
            .fetch_optional(&mut *tx)
            .await?;
    if exists.is_some() {
        return Err(Error::conflict(
            words::CLIENT_EXISTS.with("id", &new.client_id),
        ));
    }
    let grants: Vec<String> = new
        .grant_types
        .iter()
        .map(|g| g.as_str().to_string())
        .collect();
    sqlx::query(
        "INSERT INTO oidc_clients (client_id, name, secret_hash, redirect_uris, \
         post_logout_redirect_uris, grant_types, scopes, api_scopes, allowed_groups, require_2fa, \
         id_token_alg, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)",
    )
    .bind(&new.client_id)
    .bind(&new.name)
    .bind(secret.as_deref().map(crypto::hash_token))
    .bind(to_json_list(&new.redirect_uris))
    .bind(to_json_list(&new.post_logout_redirect_uris))
    .bind(to_json_list(&grants))
    .bind(to_json_list(&new.scopes))
    .bind(to_json_list(&new.api_scopes))
    .bind(to_json_list(&new.allowed_groups))
    .bind(i64::from(new.require_2fa))
    .bind(new.id_token_alg.as_str())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    let client = get(db, &new.client_id)
        .await?
        .ok_or(Error::NotFound("client"))?;
    Ok((client, secret))
}

pub async fn get(db: &Db, client_id: &str) -> Result<Option<Client>, Error> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM oidc_clients WHERE client_id = $1"
    ))
    .bind(client_id)
    .fetch_optional(db.pool())
    .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn list(db: &Db) -> Result<Vec<Client>, Error> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM oidc_clients ORDER BY client_id"
    ))
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(from_row).collect()
}

/// Removes a client with everything issued to it (grants, codes, tokens cascade).
pub async fn remove(db: &Db, client_id: &str) -> Result<(), Error> {
    let done = sqlx::query("DELETE FROM oidc_clients WHERE client_id = $1")
        .bind(client_id)
        .execute(db.pool())
        .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("client"));
    }
    Ok(())
}

/// What the admin console and API may change on a registered client.
#[derive(Clone, Debug)]
pub struct ClientUpdate {
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub require_2fa: bool,
    /// `None` keeps the registered API scopes.
    pub api_scopes: Option<Vec<String>>,
    /// `None` keeps the allowed groups; an empty list admits everyone again.
    pub allowed_groups: Option<Vec<String>>,
}

/// Changes a client's redirect URIs and 2FA requirement, checked like a registration.
pub async fn update(db: &Db, client_id: &str, up: ClientUpdate, now: i64) -> Result<Client, Error> {
    let client = get(db, client_id).await?.ok_or(Error::NotFound("client"))?;
    for uri in &up.redirect_uris {
        validate_redirect_uri("redirect_uri", uri)?;
    }
    for uri in &up.post_logout_redirect_uris {
        validate_redirect_uri("post_logout_redirect_uri", uri)?;
    }
    if client.allows(GrantType::AuthorizationCode) && up.redirect_uris.is_empty() {
        return Err(Error::refused_as(
            "redirect_uri",
            words::CLIENT_CODE_REDIRECT_LEFT,
        ));
    }
    let api_scopes = up.api_scopes.unwrap_or(client.api_scopes);
    validate_api_scopes(&api_scopes)?;
    let allowed_groups = up.allowed_groups.unwrap_or(client.allowed_groups);
    stepgate_core::groups::check_names(db.pool(), ALLOW_GROUP, &allowed_groups).await?;
    sqlx::query(
        "UPDATE oidc_clients SET redirect_uris = $1, post_logout_redirect_uris = $2, \
         require_2fa = $3, api_scopes = $4, allowed_groups = $5, updated_at = $6 \
         WHERE client_id = $7",
    )
    .bind(to_json_list(&up.redirect_uris))
    .bind(to_json_list(&up.post_logout_redirect_uris))
    .bind(i64::from(up.require_2fa))
    .bind(to_json_list(&api_scopes))
    .bind(to_json_list(&allowed_groups))
    .bind(now)
    .bind(client_id)
    .execute(db.pool())
    .await?;
    get(db, client_id).await?.ok_or(Error::NotFound("client"))
}

/// Replaces a confidential client's secret; the old one stops working at once.
pub async fn rotate_secret(db: &Db, client_id: &str, now: i64) -> Result<String, Error> {
    let client = get(db, client_id).await?.ok_or(Error::NotFound("client"))?;
    if client.is_public() {
        return Err(Error::refused(
            words::CLIENT_PUBLIC_NO_SECRET.with("id", client_id),
        ));
    }
    let secret = crypto::random_token();
    sqlx::query("UPDATE oidc_clients SET secret_hash = $1, updated_at = $2 WHERE client_id = $3")
        .bind(crypto::hash_token(&secret))
        .bind(now)
        .bind(client_id)
        .execute(db.pool())
        .await?;
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_must_be_safe() {
        for ok in [
            "https://app.example.com/cb",
            "http://127.0.0.1:8000/cb",
            "http://localhost/cb",
            "http://[::1]:9/cb",
            "com.example.app:/oauth2redirect",
        ] {
            assert!(validate_redirect_uri("r", ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://app.example.com/cb",
            "https://app.example.com/cb#x",
            "/relative",
            "javascript:alert(1)",
        ] {
            assert!(validate_redirect_uri("r", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn scope_tokens() {
        assert!(is_scope_token("api:read"));
        assert!(!is_scope_token("a b"));
        assert!(!is_scope_token("a\"b"));
        assert!(!is_scope_token(""));
    }
}
