//! SMPP 3.4: one short session per message against the operator's SMSC — `bind_transmitter`,
//! `submit_sm`, `unbind` — with the PDUs encoded and decoded by `rusmpp`, optionally over TLS.
//!
//! A session per message keeps nothing open between logins (codes are rare next to a bind's
//! cost of one round trip) and leaves no link for `enquire_link` to keep alive.

use super::sms::{check_e164, log_outcome, SmsSender};
use super::NotifyError;
use async_trait::async_trait;
use futures_util::{SinkExt as _, StreamExt as _};
use rusmpp::pdus::{BindTransmitter, SubmitSm};
use rusmpp::tlvs::MessageSubmissionRequestTlvValue;
use rusmpp::tokio_codec::CommandCodec;
use rusmpp::types::{AnyOctetString, COctetString, OctetString};
use rusmpp::values::{DataCoding, InterfaceVersion, MessagePayload, Npi, Ton};
use rusmpp::{Command, CommandId, CommandStatus, Pdu};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls;
use tokio_util::codec::Framed;

/// The IANA port for SMPP.
pub(super) fn default_smpp_port() -> u16 {
    2775
}

/// The longest `short_message` SMPP 3.4 allows; longer texts go in `message_payload`.
const MAX_SHORT_MESSAGE: usize = 254;

/// How long a finished session waits for `unbind_resp` before just closing.
const UNBIND_WAIT: Duration = Duration::from_secs(2);

pub(super) struct SmppSender {
    pub(super) host: String,
    pub(super) port: u16,
    pub(super) system_id: String,
    pub(super) password: String,
    pub(super) system_type: String,
    pub(super) source_address: String,
    pub(super) source_ton: Option<u8>,
    pub(super) source_npi: Option<u8>,
    /// Set when `tls = true`: the connector and the name the certificate must carry.
    pub(super) tls: Option<(
        tokio_rustls::TlsConnector,
        rustls::pki_types::ServerName<'static>,
    )>,
    pub(super) timeout: Duration,
}

/// A connector trusting the Mozilla roots that `webpki-roots` ships, like the HTTP senders.
pub(super) fn tls_connector() -> Result<tokio_rustls::TlsConnector, NotifyError> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| NotifyError::Transport(format!("building the TLS client: {e}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

#[async_trait]
impl SmsSender for SmppSender {
    async fn send(&self, to_e164: &str, message: &str) -> Result<(), NotifyError> {
        check_e164(to_e164)?;
        let result = match tokio::time::timeout(self.timeout, self.deliver(to_e164, message)).await
        {
            Ok(result) => result,
            Err(_) => Err(NotifyError::Transport(format!(
                "the SMSC did not finish within {} s (timed out)",
                self.timeout.as_secs()
            ))),
        };
        log_outcome(self.kind(), to_e164, &result);
        result
    }

    fn kind(&self) -> &'static str {
        "smpp"
    }
}

impl SmppSender {
    async fn deliver(&self, to_e164: &str, message: &str) -> Result<(), NotifyError> {
        let submit = self.submit_sm(to_e164, message)?;
        let bind = self.bind_transmitter()?;
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| {
                NotifyError::Transport(format!("connecting to {}:{}: {e}", self.host, self.port))
            })?;
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            None => session(Framed::new(tcp, CommandCodec::new()), bind, submit).await,
            Some((connector, name)) => {
                let stream = connector
                    .connect(name.clone(), tcp)
                    .await
                    .map_err(|e| NotifyError::Transport(format!("TLS with the SMSC: {e}")))?;
                session(Framed::new(stream, CommandCodec::new()), bind, submit).await
            }
        }
    }

    fn bind_transmitter(&self) -> Result<BindTransmitter, NotifyError> {
        Ok(BindTransmitter::builder()
            .system_id(c_octets("system_id", &self.system_id)?)
            .password(c_octets("password", &self.password)?)
            .system_type(c_octets("system_type", &self.system_type)?)
            .interface_version(InterfaceVersion::Smpp3_4)
            .addr_ton(Ton::Unknown)
            .addr_npi(Npi::Unknown)
            .address_range(COctetString::empty())
            .build())
    }

    fn submit_sm(&self, to_e164: &str, message: &str) -> Result<SubmitSm, NotifyError> {
        let (default_ton, default_npi) = source_numbering(&self.source_address);
        let source = self.source_address.trim_start_matches('+');
        let (data_coding, text) = encode_text(message);
        let mut submit = SubmitSm::builder()
            .source_addr_ton(self.source_ton.map_or(default_ton, Ton::from))
            .source_addr_npi(self.source_npi.map_or(default_npi, Npi::from))
            .source_addr(c_octets("source_address", source)?)
            // check_e164 has made sure of "+" and digits only.
            .dest_addr_ton(Ton::International)
            .dest_addr_npi(Npi::Isdn)
            .destination_addr(c_octets("to", to_e164.trim_start_matches('+'))?)
            .data_coding(data_coding)
            .build();
        if text.len() <= MAX_SHORT_MESSAGE {
            let octets = OctetString::from_vec(text)
                .map_err(|e| NotifyError::Transport(format!("encoding the message: {e}")))?;
            submit.set_short_message(octets);
        } else {
            // SMPP 3.4 §5.3.2.32: a longer text goes in message_payload, short_message empty.
            submit.push_tlv(MessageSubmissionRequestTlvValue::MessagePayload(
                MessagePayload::new(AnyOctetString::from_vec(text)),
            ));
        }
        Ok(submit)
    }
}

/// An address that is a phone number (digits, maybe a leading "+") is international E.164;
/// anything else is an alphanumeric sender id.
fn source_numbering(source: &str) -> (Ton, Npi) {
    let digits = source.strip_prefix('+').unwrap_or(source);
    if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
        (Ton::International, Npi::Isdn)
    } else {
        (Ton::Alphanumeric, Npi::Unknown)
    }
}

/// ASCII goes as the SMSC's default alphabet (data_coding 0), which every SMSC accepts;
/// anything else as UCS-2 (data_coding 8), big-endian UTF-16 as GSM 03.38 specifies.
pub(super) fn encode_text(message: &str) -> (DataCoding, Vec<u8>) {
    if message.is_ascii() {
        (DataCoding::McSpecific, message.as_bytes().to_vec())
    } else {
        let bytes = message.encode_utf16().flat_map(u16::to_be_bytes).collect();
        (DataCoding::Ucs2, bytes)
    }
}

fn c_octets<const MIN: usize, const MAX: usize>(
    key: &'static str,
    value: &str,
) -> Result<COctetString<MIN, MAX>, NotifyError> {
    COctetString::from_string(value.to_owned()).map_err(|e| NotifyError::InvalidConfig {
        key,
        message: format!("cannot be sent in SMPP: {e}"),
    })
}

/// Binds, submits, unbinds. The message counts as sent once `submit_sm_resp` says so; the
/// unbind after it is a courtesy whose failure changes nothing.
async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    mut framed: Framed<S, CommandCodec>,
    bind: BindTransmitter,
    submit: SubmitSm,
) -> Result<(), NotifyError> {
    let bound = request(&mut framed, 1, bind, CommandId::BindTransmitterResp).await?;
    check_status("bind_transmitter", bound.status())?;
    let submitted = request(&mut framed, 2, submit, CommandId::SubmitSmResp).await?;
    let result = check_status("submit_sm", submitted.status());
    if let (Ok(()), Some(Pdu::SubmitSmResp(resp))) = (&result, submitted.pdu()) {
        tracing::debug!(
            message_id = resp.message_id().as_str(),
            "smsc accepted the message"
        );
    }
    let _ = tokio::time::timeout(
        UNBIND_WAIT,
        request(&mut framed, 3, Pdu::Unbind, CommandId::UnbindResp),
    )
    .await;
    result
}

/// Sends one request and waits for the response with its sequence number, answering the
/// SMSC's `enquire_link`s meanwhile.
async fn request<S: AsyncRead + AsyncWrite + Unpin>(
    framed: &mut Framed<S, CommandCodec>,
    sequence_number: u32,
    pdu: impl Into<Pdu>,
    response: CommandId,
) -> Result<Command, NotifyError> {
    let pdu = pdu.into();
    let step = command_name(pdu.command_id());
    framed
        .send(Command::new(CommandStatus::EsmeRok, sequence_number, pdu))
        .await
        .map_err(|e| NotifyError::Transport(format!("sending {step}: {e}")))?;
    loop {
        let command = match framed.next().await {
            Some(Ok(command)) => command,
            Some(Err(e)) => {
                return Err(NotifyError::Transport(format!(
                    "reading the answer to {step}: {e}"
                )))
            }
            None => {
                return Err(NotifyError::Transport(format!(
                    "the SMSC closed the connection after {step}"
                )))
            }
        };
        match command.id() {
            CommandId::EnquireLink => {
                let resp = Command::new(
                    CommandStatus::EsmeRok,
                    command.sequence_number(),
                    Pdu::EnquireLinkResp,
                );
                framed
                    .send(resp)
                    .await
                    .map_err(|e| NotifyError::Transport(format!("answering enquire_link: {e}")))?;
            }
            CommandId::GenericNack if command.sequence_number() == sequence_number => {
                check_status(step, command.status())?;
                return Err(NotifyError::Transport(format!(
                    "the SMSC answered {step} with generic_nack"
                )));
            }
            id if id == response && command.sequence_number() == sequence_number => {
                return Ok(command)
            }
            // Nothing else is meant for a transmitter waiting on this request.
            _ => {}
        }
    }
}

fn command_name(id: CommandId) -> &'static str {
    match id {
        CommandId::BindTransmitter => "bind_transmitter",
        CommandId::SubmitSm => "submit_sm",
        CommandId::Unbind => "unbind",
        _ => "a request",
    }
}

/// A non-zero command_status is the SMSC refusing: `Rejected` with the status (SMPP 3.4 §5.1.3,
/// e.g. 14 = invalid password, 11 = invalid destination, 69 = submit failed). Statuses past
/// 65535 (none are defined) show as 65535.
fn check_status(step: &'static str, status: CommandStatus) -> Result<(), NotifyError> {
    let code = u32::from(status);
    if code == 0 {
        return Ok(());
    }
    tracing::debug!(step, command_status = %format!("0x{code:08X}"), ?status, "smsc refused");
    Err(NotifyError::Rejected {
        status: u16::try_from(code).unwrap_or(u16::MAX),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_encoding_follows_the_alphabet() {
        assert_eq!(
            encode_text("Code 123"),
            (DataCoding::McSpecific, b"Code 123".to_vec())
        );
        assert_eq!(
            encode_text("ü€"),
            (DataCoding::Ucs2, vec![0x00, 0xFC, 0x20, 0xAC])
        );
    }

    #[test]
    fn source_numbering_tells_numbers_from_names() {
        assert_eq!(
            source_numbering("+15005550006"),
            (Ton::International, Npi::Isdn)
        );
        assert_eq!(
            source_numbering("Stepgate"),
            (Ton::Alphanumeric, Npi::Unknown)
        );
    }
}
