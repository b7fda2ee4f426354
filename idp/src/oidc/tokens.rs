//! The JWTs the provider signs (ID tokens, RFC 9068 access tokens) and the check of tokens it
//! signed itself. Signing and verification are josekit's; here are only the claims.

use super::verified;
use crate::error::Error;
use crate::state::AppState;
use crate::store::clients::{Client, SigningAlg};
use crate::store::grants::{self, Grant};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use josekit::jws::JwsHeader;
use josekit::jwt::{self, JwtPayload};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use stepgate_core::users::User;

/// The header `typ` of an access token (RFC 9068 §2.1).
const AT_TYP: &str = "at+jwt";

/// The claims a user's scopes release, for the ID token and userinfo.
pub fn user_claims(user: &User, scopes: &[String]) -> Map<String, Value> {
    let has = |s: &str| scopes.iter().any(|x| x == s);
    let mut m = Map::new();
    m.insert("sub".into(), json!(user.id));
    if has("profile") {
        let name = if user.display_name.is_empty() {
            &user.username
        } else {
            &user.display_name
        };
        m.insert("name".into(), json!(name));
        m.insert("preferred_username".into(), json!(user.username));
        m.insert("updated_at".into(), json!(user.updated_at));
    }
    if has("email") {
        m.insert("email".into(), json!(user.email));
        // Addresses are set by administrators and never confirmed by a message.
        m.insert("email_verified".into(), json!(false));
    }
    if has("phone") {
        if let Some(phone) = &user.phone {
            m.insert("phone_number".into(), json!(phone));
            m.insert("phone_number_verified".into(), json!(false));
        }
    }
    m
}

/// With the `groups` scope: `"groups": [names…]`, the user's groups as they are now (sorted;
/// an empty list when they are in none, so the claim's absence means the scope was not given).
pub async fn add_groups_claim(
    st: &AppState,
    user: &User,
    scopes: &[String],
    claims: &mut Map<String, Value>,
) -> Result<(), Error> {
    if scopes.iter().any(|s| s == "groups") {
        let groups = st
            .core
            .groups_of(&user.id)
            .await
            .map_err(Error::server_error)?;
        claims.insert("groups".into(), json!(groups));
    }
    Ok(())
}

fn sign(
    key: &crate::store::keys::LoadedKey,
    typ: &str,
    claims: Map<String, Value>,
) -> Result<String, Error> {
    let payload = JwtPayload::from_map(claims).map_err(Error::server_error)?;
    let mut header = JwsHeader::new();
    header.set_token_type(typ);
    header.set_key_id(key.kid.clone());
    jwt::encode_with_signer(&payload, &header, key.signer()).map_err(Error::server_error)
}

/// The private claim naming the grant a user's access token was issued under. Issuing a token
/// then writes nothing: the token is checked against its grant (revoked with the login, the
/// client or a reused code) and against the `jti`s revoked one by one. The grant id is an
/// internal key, never accepted as a credential, and trusted here only under our signature.
/// A client's own (client_credentials) token names no grant: none is stored for it, and it
/// lives as long as its client does.
pub const GRANT_CLAIM: &str = "gid";

/// An access token: an RFC 9068 JWT, revocable by `jti` or with its grant.
pub struct AccessToken {
    pub token: String,
    pub expires_in: i64,
}

pub async fn issue_access_token(
    st: &AppState,
    grant: &Grant,
    scopes: &[String],
) -> Result<AccessToken, Error> {
    let now = st.now();
    let exp = now + st.settings.access_token_lifetime;
    let jti = crate::crypto::random_id();
    let key = st
        .keys
        .active(SigningAlg::Es256)
        .await
        .map_err(Error::server_error)?;
    let mut c = Map::new();
    c.insert("iss".into(), json!(st.settings.issuer));
    c.insert(
        "sub".into(),
        json!(grant.user_id.as_deref().unwrap_or(&grant.client_id)),
    );
    // A token that carries a Stepgate API scope is for the API (RFC 9068 §3: `aud` names the
    // resource); any other is for the client itself and never accepted by /api.
    let aud = if scopes.iter().any(|s| crate::api_resource::is_api_scope(s)) {
        crate::api_resource::audience(&st.settings.issuer)
    } else {
        grant.client_id.clone()
    };
    c.insert("aud".into(), json!(aud));
    c.insert("client_id".into(), json!(grant.client_id));
    c.insert("iat".into(), json!(now));
    c.insert("exp".into(), json!(exp));
    c.insert("jti".into(), json!(jti));
    c.insert("scope".into(), json!(scopes.join(" ")));
    if grant.user_id.is_some() {
        if let Some(t) = grant.auth_time {
            c.insert("auth_time".into(), json!(t));
        }
        if let Some(acr) = &grant.acr {
            c.insert("acr".into(), json!(acr));
        }
        c.insert("amr".into(), json!(grant.amr));
    }
    if grant.user_id.is_some() {
        c.insert(GRANT_CLAIM.into(), json!(grant.id));
    }
    let token = sign(&key, AT_TYP, c)?;
    Ok(AccessToken {
        token,
        expires_in: st.settings.access_token_lifetime,
    })
}

/// OIDC Core §3.1.3.6: the left half of the SHA-256 of the access token (ES256 and RS256 both
/// hash with SHA-256).
fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

pub async fn issue_id_token(
    st: &AppState,
    client: &Client,
    grant: &Grant,
    user: &User,
    nonce: Option<&str>,
    access_token: &str,
) -> Result<String, Error> {
    let now = st.now();
    let key = st
        .keys
        .active(client.id_token_alg)
        .await
        .map_err(Error::server_error)?;
    let mut c = user_claims(user, &grant.scopes);
    add_groups_claim(st, user, &grant.scopes, &mut c).await?;
    c.insert("iss".into(), json!(st.settings.issuer));
    c.insert("aud".into(), json!([client.client_id]));
    c.insert("azp".into(), json!(client.client_id));
    c.insert("iat".into(), json!(now));
    c.insert("exp".into(), json!(now + st.settings.id_token_lifetime));
    if let Some(t) = grant.auth_time {
        c.insert("auth_time".into(), json!(t));
    }
    if let Some(n) = nonce {
        c.insert("nonce".into(), json!(n));
    }
    if let Some(sid) = &grant.sid {
        c.insert("sid".into(), json!(sid));
    }
    c.insert("amr".into(), json!(grant.amr));
    if let Some(acr) = &grant.acr {
        c.insert("acr".into(), json!(acr));
    }
    c.insert("at_hash".into(), json!(at_hash(access_token)));
    sign(&key, ID_TOKEN_TYP, c)
}

/// A JWT this provider signed with a key still in its JWKS, and whose `iss` is ours. Expiry
/// and type are the caller's to check (logout accepts an expired ID token as a hint). A token
/// whose signature was checked before is not checked again (see `verified`).
pub async fn verify_own(st: &AppState, token: &str) -> Option<(JwtPayload, JwsHeader)> {
    let now = st.now();
    let digest = verified::digest(token);
    if let Some(seen) = st.verified.get(&digest, now) {
        st.keys.by_kid(&seen.kid).await.ok()??;
        return Some((seen.payload.clone(), seen.header.clone()));
    }
    let header = jwt::decode_header(token).ok()?;
    let kid = header.claim("kid")?.as_str()?.to_string();
    let key = st.keys.by_kid(&kid).await.ok()??;
    let (payload, header) = jwt::decode_with_verifier(token, key.verifier()).ok()?;
    if payload.issuer() != Some(st.settings.issuer.as_str()) {
        return None;
    }
    st.verified.insert(digest, &payload, &header, &kid, now);
    Some((payload, header))
}

/// The header `typ` of the ID tokens [`issue_id_token`] signs.
const ID_TOKEN_TYP: &str = "JWT";

/// The claims of an ID token this provider issued, presented back as an `id_token_hint`
/// (authorization and logout): our signature and issuer, an ID token's `typ` (an access token
/// names a user too, but is no statement about who signed in), a `sub`, and — when `audience`
/// is given — that client among its audiences. Expiry is not checked: OIDC Core §3.1.2.1 and
/// RP-Initiated Logout both expect an expired ID token as a hint.
pub async fn verify_id_token_hint(
    st: &AppState,
    token: &str,
    audience: Option<&str>,
) -> Option<Map<String, Value>> {
    let (payload, header) = verify_own(st, token).await?;
    if header.token_type() != Some(ID_TOKEN_TYP) {
        return None;
    }
    let claims = payload.claims_set();
    claims.get("sub").and_then(Value::as_str)?;
    if let Some(aud) = audience {
        let ours = match claims.get("aud") {
            Some(Value::String(s)) => s == aud,
            Some(Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(aud)),
            _ => false,
        };
        if !ours {
            return None;
        }
    }
    Some(claims.clone())
}

/// A live access token: ours, `at+jwt`, unexpired, not revoked (itself, or with its grant or
/// client), and its user (if any) still allowed to sign in.
pub struct LiveAccess {
    pub claims: Map<String, Value>,
    pub client_id: String,
    /// The user the token was issued for, as just read; `None` for a client's own token.
    pub user: Option<User>,
    /// The scopes the token carries.
    pub scopes: Vec<String>,
}

pub async fn verify_access_token(st: &AppState, token: &str) -> Result<Option<LiveAccess>, Error> {
    let Some((payload, header)) = verify_own(st, token).await else {
        return Ok(None);
    };
    if header.token_type() != Some(AT_TYP) {
        return Ok(None);
    }
    let claims = payload.claims_set().clone();
    let now = st.now();
    let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
    let str_claim = |k: &str| claims.get(k).and_then(Value::as_str);
    let (Some(jti), Some(client_id)) = (str_claim("jti"), str_claim("client_id")) else {
        return Ok(None);
    };
    if now >= exp {
        return Ok(None);
    }
    let db = st.core.db();
    let user = match str_claim(GRANT_CLAIM) {
        Some(grant_id) => {
            let Some(grant) = grants::live_access_grant(db, grant_id, jti)
                .await
                .map_err(Error::server_error)?
            else {
                return Ok(None);
            };
            let Some(user_id) = &grant.user_id else {
                return Ok(None);
            };
            // A user who was disabled or locked since loses what their tokens give at once.
            match st
                .core
                .user_by_id(user_id)
                .await
                .map_err(Error::server_error)?
            {
                Some(u) if !u.disabled && !u.locked => Some(u),
                _ => return Ok(None),
            }
        }
        None => {
            let live = str_claim("sub") == Some(client_id)
                && grants::client_token_live(db, client_id, jti)
                    .await
                    .map_err(Error::server_error)?;
            if !live {
                return Ok(None);
            }
            None
        }
    };
    let scopes = str_claim("scope")
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    Ok(Some(LiveAccess {
        client_id: client_id.to_string(),
        claims,
        user,
        scopes,
    }))
}
