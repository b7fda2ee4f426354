//! One login and one refresh, as a browser and a relying party do them: the authorization
//! request with PKCE, the login page's form (CSRF token and cookies included), the TOTP page,
//! the redirect back with the code, and the token request. Every step is checked, so a
//! benchmark never counts an error page as a login.

use crate::Target;
use anyhow::{anyhow, bail, ensure, Context, Result};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use reqwest::header::{AUTHORIZATION, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Response, StatusCode};
use scraper::{Html, Selector};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use stepgate_core::totp::{self, Algorithm};
use url::Url;

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Sleeps until 0.2 s into the next 30-second step.
pub async fn wait_for_fresh_step() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    let next = (now / 30.0).floor() * 30.0 + 30.0 + 0.2;
    tokio::time::sleep(Duration::from_secs_f64(next - now)).await;
}

fn random_b64(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// The cookies of one browser session (one login).
#[derive(Default)]
struct Jar(Vec<(String, String)>);

impl Jar {
    fn take(&mut self, resp: &Response) {
        for value in resp.headers().get_all(SET_COOKIE) {
            let Ok(c) = cookie::Cookie::parse(value.to_str().unwrap_or_default().to_string())
            else {
                continue;
            };
            self.0.retain(|(n, _)| n != c.name());
            self.0.push((c.name().to_string(), c.value().to_string()));
        }
    }

    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

pub struct Flow {
    http: reqwest::Client,
    issuer: Url,
    target: Target,
    basic: String,
}

/// The tokens a login or refresh returned.
pub struct Tokens {
    pub refresh_token: Option<String>,
}

impl Flow {
    pub fn new(target: &Target) -> Result<Flow> {
        let issuer = Url::parse(&format!("{}/", target.issuer.trim_end_matches('/')))?;
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", target.client_id, target.client_secret))
        );
        Ok(Flow {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(60))
                .build()?,
            issuer,
            target: target.clone(),
            basic,
        })
    }

    /// authorize → password → TOTP (at `at`, a unix time in the step the caller reserved) →
    /// code → token.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        totp_secret: &[u8],
        at: u64,
        scope: &str,
    ) -> Result<Tokens> {
        let verifier = random_b64(32);
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let state = random_b64(16);
        let mut authorize = self.issuer.join("authorize")?;
        authorize
            .query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.target.client_id)
            .append_pair("redirect_uri", &self.target.redirect_uri)
            .append_pair("scope", scope)
            .append_pair("state", &state)
            .append_pair("nonce", &random_b64(16))
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        let mut jar = Jar::default();

        let page = self.get(&mut jar, authorize).await?;
        let (action, mut fields) =
            form(&page, "password", &self.issuer).context("the login page")?;
        set(&mut fields, "username", username);
        set(&mut fields, "password", password);
        let page = self.post(&mut jar, &action, &fields).await?;
        let (action, mut fields) =
            form(&page, "code", &self.issuer).context("the second-factor page")?;
        let code = totp::code_at(totp_secret, Algorithm::SHA1, 6, at);
        set(&mut fields, "code", &code);
        let Step::Back(back) = self.post_step(&mut jar, &action, &fields).await? else {
            bail!("the code was not accepted");
        };
        let pairs: Vec<(String, String)> = back.query_pairs().into_owned().collect();
        let param = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        ensure!(
            param("state").as_deref() == Some(state.as_str()),
            "state differs"
        );
        let code = param("code").ok_or_else(|| anyhow!("no code in {back}"))?;
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &self.target.redirect_uri),
            ("code_verifier", &verifier),
        ])
        .await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Result<Tokens> {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ])
        .await
    }

    async fn token(&self, form: &[(&str, &str)]) -> Result<Tokens> {
        let resp = self
            .http
            .post(self.issuer.join("token")?)
            .header(AUTHORIZATION, &self.basic)
            .form(form)
            .send()
            .await?;
        let status = resp.status();
        let body: Value = resp.json().await?;
        ensure!(
            status == StatusCode::OK,
            "token endpoint answered {status}: {body}"
        );
        ensure!(body["access_token"].is_string(), "no access token: {body}");
        Ok(Tokens {
            refresh_token: body["refresh_token"].as_str().map(str::to_string),
        })
    }

    /// GETs `url`, following redirects within the provider, to a page.
    async fn get(&self, jar: &mut Jar, url: Url) -> Result<String> {
        match self.follow(jar, self.http.get(url)).await? {
            Step::Page(body) => Ok(body),
            Step::Back(u) => bail!("sent back to the client early: {u}"),
        }
    }

    async fn post(&self, jar: &mut Jar, url: &Url, fields: &[(String, String)]) -> Result<String> {
        match self.post_step(jar, url, fields).await? {
            Step::Page(body) => Ok(body),
            Step::Back(u) => bail!("sent back to the client early: {u}"),
        }
    }

    async fn post_step(
        &self,
        jar: &mut Jar,
        url: &Url,
        fields: &[(String, String)],
    ) -> Result<Step> {
        self.follow(jar, self.http.post(url.clone()).form(fields))
            .await
    }

    async fn follow(&self, jar: &mut Jar, mut req: reqwest::RequestBuilder) -> Result<Step> {
        for _ in 0..10 {
            let resp = req.header(COOKIE, jar.header()).send().await?;
            jar.take(&resp);
            let status = resp.status();
            if !status.is_redirection() {
                ensure!(status == StatusCode::OK, "{} answered {status}", resp.url());
                return Ok(Step::Page(resp.text().await?));
            }
            let loc = resp
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| anyhow!("redirect without a location"))?;
            let next = resp.url().join(loc)?;
            if next.as_str().starts_with(&self.target.redirect_uri) {
                return Ok(Step::Back(next));
            }
            ensure!(
                next.origin() == self.issuer.origin(),
                "redirected away to {next}"
            );
            req = self.http.get(next);
        }
        bail!("too many redirects")
    }
}

enum Step {
    Page(String),
    Back(Url),
}

/// The action and fields of the page's form that has an input named `field`.
fn form(page: &str, field: &str, base: &Url) -> Result<(Url, Vec<(String, String)>)> {
    let doc = Html::parse_document(page);
    let forms = Selector::parse("form").expect("selector");
    let inputs = Selector::parse("input").expect("selector");
    for f in doc.select(&forms) {
        let fields: Vec<(String, String)> = f
            .select(&inputs)
            .filter_map(|i| {
                let name = i.value().attr("name")?;
                Some((name.into(), i.value().attr("value").unwrap_or("").into()))
            })
            .collect();
        if fields.iter().any(|(n, _)| n == field) {
            let action = f.value().attr("action").unwrap_or("");
            return Ok((base.join(action)?, fields));
        }
    }
    let text: String = doc.root_element().text().collect::<Vec<_>>().join(" ");
    let text: Vec<&str> = text.split_whitespace().collect();
    bail!("no form with {field}: {}", text.join(" "))
}

fn set(fields: &mut Vec<(String, String)>, name: &str, value: &str) {
    match fields.iter_mut().find(|(n, _)| n == name) {
        Some(f) => f.1 = value.into(),
        None => fields.push((name.into(), value.into())),
    }
}
