//! Amazon SNS: one `Publish` call per message, straight to the phone number, over the Query API
//! (an HTTPS POST form), signed with Signature Version 4 by `aws-sigv4`, the AWS SDK's own signer.

use super::sms::{check_e164, http_error, log_outcome, SmsSender};
use super::NotifyError;
use async_trait::async_trait;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use std::time::SystemTime;

/// What the signature covers and SNS parses; the charset keeps non-ASCII messages intact.
const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// The service name SigV4 signs for.
const SIGNING_NAME: &str = "sns";

/// SNS's regional endpoint; the China regions live under their own domain.
pub(super) fn default_endpoint(region: &str) -> String {
    let domain = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("https://sns.{region}.{domain}/")
}

/// Credentials from `[sms]` when both keys are there, else from the environment variables the
/// AWS tools read (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`).
pub(super) fn resolve_credentials(
    access_key_id: Option<&str>,
    secret_access_key: Option<&str>,
    session_token: Option<&str>,
) -> Result<Credentials, NotifyError> {
    if let (Some(id), Some(secret)) = (access_key_id, secret_access_key) {
        return Ok(Credentials::new(
            id,
            secret,
            session_token.map(str::to_owned),
            None,
            "stepgate-config",
        ));
    }
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        (Some(id), Some(secret)) => Ok(Credentials::new(
            id,
            secret,
            env("AWS_SESSION_TOKEN"),
            None,
            "stepgate-environment",
        )),
        _ => Err(NotifyError::InvalidConfig {
            key: "access_key_id",
            message: "no AWS credentials: set access_key_id and secret_access_key in [sms], \
                      or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment"
                .into(),
        }),
    }
}

pub(super) struct SnsSender {
    pub(super) client: reqwest::Client,
    pub(super) url: reqwest::Url,
    pub(super) region: String,
    pub(super) credentials: Credentials,
}

/// The `Publish` form. Login codes are `Transactional`: AWS routes those for reliability
/// rather than cost, as it recommends for one-time passwords.
pub(super) fn publish_form(to_e164: &str, message: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("Action", "Publish")
        .append_pair("Version", "2010-03-31")
        .append_pair("PhoneNumber", to_e164)
        .append_pair("Message", message)
        .append_pair("MessageAttributes.entry.1.Name", "AWS.SNS.SMS.SMSType")
        .append_pair("MessageAttributes.entry.1.Value.DataType", "String")
        .append_pair(
            "MessageAttributes.entry.1.Value.StringValue",
            "Transactional",
        )
        .finish()
}

impl SnsSender {
    /// The SigV4 headers (`authorization`, `x-amz-date`, and `x-amz-security-token` with
    /// temporary credentials) for a POST of `body` to the endpoint, signed now.
    // AWS refuses a signature more than five minutes off its own clock: this is the wall clock
    // by necessity, never the core's (test-controlled) one.
    #[allow(clippy::disallowed_methods)]
    fn signature_headers(&self, body: &[u8]) -> Result<Vec<(String, String)>, NotifyError> {
        let identity = self.credentials.clone().into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(SIGNING_NAME)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| NotifyError::Transport(format!("preparing the SigV4 signature: {e}")))?
            .into();
        let signable = SignableRequest::new(
            "POST",
            self.url.as_str(),
            [("content-type", FORM_CONTENT_TYPE)].into_iter(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| NotifyError::Transport(format!("signing the request: {e}")))?;
        let (instructions, _signature) = sign(signable, &params)
            .map_err(|e| NotifyError::Transport(format!("signing the request: {e}")))?
            .into_parts();
        Ok(instructions
            .headers()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect())
    }
}

#[async_trait]
impl SmsSender for SnsSender {
    async fn send(&self, to_e164: &str, message: &str) -> Result<(), NotifyError> {
        check_e164(to_e164)?;
        let result = self.publish(to_e164, message).await;
        log_outcome(self.kind(), to_e164, &result);
        result
    }

    fn kind(&self) -> &'static str {
        "aws-sns"
    }
}

impl SnsSender {
    async fn publish(&self, to_e164: &str, message: &str) -> Result<(), NotifyError> {
        let body = publish_form(to_e164, message);
        let mut request = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, FORM_CONTENT_TYPE);
        for (name, value) in self.signature_headers(body.as_bytes())? {
            request = request.header(name, value);
        }
        match request.body(body).send().await {
            Ok(response) if response.status().is_success() => {
                let text = response.text().await.unwrap_or_default();
                tracing::debug!(
                    message_id = xml_text(&text, "MessageId").unwrap_or(""),
                    "sns accepted the message"
                );
                Ok(())
            }
            Ok(response) => {
                let status = response.status().as_u16();
                let text = response.text().await.unwrap_or_default();
                // The error's `Message` is left out: it may quote the phone number.
                tracing::debug!(
                    status,
                    sns_code = xml_text(&text, "Code").unwrap_or(""),
                    request_id = xml_text(&text, "RequestId").unwrap_or(""),
                    "sns refused the message"
                );
                Err(NotifyError::Rejected { status })
            }
            Err(e) => Err(http_error(e)),
        }
    }
}

/// The text of the first `<tag>` element, for log fields only (an error code, a message id):
/// nothing is decided on it, so a missing or odd element just leaves the field empty.
fn xml_text<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let start = xml.find(&format!("<{tag}>"))? + tag.len() + 2;
    let len = xml[start..].find('<')?;
    let text = xml[start..start + len].trim();
    (text.len() <= 128 && text.chars().all(|c| c.is_ascii_graphic())).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_follow_the_region() {
        assert_eq!(
            default_endpoint("eu-west-1"),
            "https://sns.eu-west-1.amazonaws.com/"
        );
        assert_eq!(
            default_endpoint("cn-north-1"),
            "https://sns.cn-north-1.amazonaws.com.cn/"
        );
    }

    #[test]
    fn xml_fields_for_logs() {
        let error = "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidParameter</Code>\
                     <Message>Invalid parameter: PhoneNumber +447700900123</Message></Error>\
                     <RequestId>abc-1</RequestId></ErrorResponse>";
        assert_eq!(xml_text(error, "Code"), Some("InvalidParameter"));
        assert_eq!(xml_text(error, "RequestId"), Some("abc-1"));
        // Free text (which may quote the number) never passes.
        assert_eq!(xml_text(error, "Message"), None);
        assert_eq!(xml_text("not xml", "Code"), None);
    }

    #[test]
    fn the_form_is_a_publish_to_a_phone_number() {
        let form = publish_form("+447700900123", "Code 1 & 2");
        let pairs: Vec<(String, String)> = form_urlencoded::parse(form.as_bytes())
            .into_owned()
            .collect();
        assert!(pairs.contains(&("Action".into(), "Publish".into())));
        assert!(pairs.contains(&("Version".into(), "2010-03-31".into())));
        assert!(pairs.contains(&("PhoneNumber".into(), "+447700900123".into())));
        assert!(pairs.contains(&("Message".into(), "Code 1 & 2".into())));
    }
}
