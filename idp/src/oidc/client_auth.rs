//! Client authentication at the token, revocation and introspection endpoints:
//! `client_secret_basic`, `client_secret_post`, or `none` for public clients (which prove
//! themselves with PKCE instead). Secrets are compared as SHA-256 hashes in constant time, and
//! an unknown client costs the same hashing as a known one.

use crate::crypto;
use crate::error::Error;
use crate::params::Params;
use crate::state::AppState;
use crate::store::clients::Client;
use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// RFC 6749 §2.3.1: Basic credentials are form-urlencoded before base64.
fn form_decode(s: &str) -> String {
    url::form_urlencoded::parse(s.as_bytes())
        .next()
        .map(|(k, v)| {
            if v.is_empty() {
                k.into_owned()
            } else {
                format!("{k}={v}")
            }
        })
        .unwrap_or_default()
}

/// `Some((id, secret))` for an `Authorization: Basic` header; an error when it is malformed.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, Error> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| Error::invalid_client(true))?;
    let Some((scheme, rest)) = value.split_once(' ') else {
        return Err(Error::invalid_client(true));
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let decoded = STANDARD
        .decode(rest.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| Error::invalid_client(true))?;
    let (id, secret) = decoded
        .split_once(':')
        .ok_or_else(|| Error::invalid_client(true))?;
    Ok(Some((form_decode(id), form_decode(secret))))
}

/// Identifies and authenticates the calling client. `require_secret` refuses public clients
/// (introspection is for confidential clients only).
pub async fn authenticate(
    st: &AppState,
    headers: &HeaderMap,
    p: &Params,
    require_secret: bool,
) -> Result<Client, Error> {
    let basic = basic_credentials(headers)?;
    let used_basic = basic.is_some();
    let post_id = p.get("client_id")?;
    let post_secret = p.get("client_secret")?;
    let (client_id, secret) = match (basic, post_id, post_secret) {
        (Some(_), _, Some(_)) => {
            return Err(Error::invalid_request(
                "use one client authentication method, not two",
            ))
        }
        (Some((id, secret)), Some(pid), None) if pid != id => {
            let _ = secret;
            return Err(Error::invalid_request(
                "client_id does not match the credentials",
            ));
        }
        (Some((id, secret)), _, None) => (id, Some(secret)),
        (None, Some(id), secret) => (id.to_string(), secret.map(str::to_string)),
        (None, None, _) => return Err(Error::invalid_client(false)),
    };
    let client = st
        .clients
        .get(st.core.db(), &client_id, st.now())
        .await
        .map_err(Error::server_error)?;
    let Some(client) = client else {
        // Same work as a real check, so response time does not reveal which ids exist.
        let _ = crypto::verify_token(secret.as_deref().unwrap_or(""), "");
        return Err(Error::invalid_client(used_basic));
    };
    match (&client.secret_hash, secret) {
        (Some(hash), Some(secret)) if crypto::verify_token(&secret, hash) => Ok(client),
        (None, None) if !require_secret => Ok(client),
        _ => Err(Error::invalid_client(used_basic)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let mut h = HeaderMap::new();
        let raw = STANDARD.encode("my%3Aclient:s%2Bcr+t");
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {raw}")).unwrap(),
        );
        let (id, secret) = basic_credentials(&h).unwrap().unwrap();
        assert_eq!(id, "my:client");
        assert_eq!(secret, "s+cr t");
    }
}
