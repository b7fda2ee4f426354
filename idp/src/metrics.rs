//! Prometheus metrics at `/metrics`: requests, logins, second-factor outcomes by provider,
//! lockouts and issued tokens. Each [`Metrics`] has its own registry, so several servers in one
//! test process do not share counters.

use prometheus::{Encoder, IntCounterVec, Opts, Registry, TextEncoder};
use stepgate_core::challenge::CheckOutcome;
use stepgate_core::{Error as CoreError, ProviderType};

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
    pub logins: IntCounterVec,
    pub second_factor: IntCounterVec,
    pub lockouts: IntCounterVec,
    pub tokens: IntCounterVec,
}

fn counter(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels)
        .unwrap_or_else(|e| panic!("metric {name} is malformed: {e}"));
    if let Err(e) = registry.register(Box::new(c.clone())) {
        tracing::error!(metric = name, error = %e, "metric could not be registered");
    }
    c
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry =
            Registry::new_custom(Some("stepgate".into()), None).unwrap_or_else(|_| Registry::new());
        Metrics {
            http_requests: counter(
                &registry,
                "http_requests_total",
                "HTTP requests by method, route and status",
                &["method", "route", "status"],
            ),
            logins: counter(
                &registry,
                "logins_total",
                "Login attempts at the password step by outcome",
                &["outcome"],
            ),
            second_factor: counter(
                &registry,
                "second_factor_checks_total",
                "Second-factor checks by provider and outcome",
                &["provider", "outcome"],
            ),
            lockouts: counter(
                &registry,
                "lockouts_total",
                "Accounts locked by failed second-factor checks",
                &["source"],
            ),
            tokens: counter(
                &registry,
                "tokens_issued_total",
                "Token responses by grant type",
                &["grant_type"],
            ),
            registry,
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            tracing::error!(error = %e, "metrics could not be encoded");
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

impl Metrics {
    /// Counts a second-factor check at either door by its outcome, and a lockout it caused
    /// or met; `door` is the `lockouts_total` source (`oidc` for the pages, `host` for the
    /// host protocol).
    pub fn count_check(
        &self,
        door: &str,
        provider: ProviderType,
        result: Result<&CheckOutcome, &CoreError>,
    ) {
        let (provider, outcome) = match result {
            Ok(CheckOutcome::Verified(used)) => (*used, "verified"),
            Ok(CheckOutcome::WrongCode { .. }) => (provider, "wrong_code"),
            Err(e) => (provider, outcome_label(e)),
        };
        self.second_factor
            .with_label_values(&[provider.as_str(), outcome])
            .inc();
        if matches!(result, Err(CoreError::Locked)) {
            self.lockouts.with_label_values(&[door]).inc();
        }
    }
}

/// The `outcome` label of a check that did not come to a verdict.
pub fn outcome_label(e: &CoreError) -> &'static str {
    match e {
        CoreError::Locked => "locked",
        CoreError::RateLimited { .. } => "rate_limited",
        CoreError::ChallengeExpired | CoreError::NotFound(_) => "expired",
        CoreError::ChallengeClosed => "closed",
        _ => "error",
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
