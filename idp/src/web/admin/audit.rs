//! The audit log: newest first, filtered by user, event and date, one page at a time
//! (`before` = the last id shown, so pages stay stable while new events arrive).

use super::admin_or_return;
use crate::error::Error;
use crate::http::csrf;
use crate::state::AppState;
use crate::templates::render;
use crate::timefmt::minutes as format_time;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use minijinja::context;
use serde::{Deserialize, Serialize};
use stepgate_core::audit::{self, AuditFilter, EventKind};

pub const PAGE_SIZE: u32 = 50;

#[derive(Deserialize, Default, Serialize)]
pub struct AuditQuery {
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub event: String,
    /// `YYYY-MM-DD`, from the start of that day (UTC).
    #[serde(default)]
    pub since: String,
    /// `YYYY-MM-DD`, to the end of that day (UTC).
    #[serde(default)]
    pub until: String,
    #[serde(default)]
    pub before: Option<i64>,
    /// A registered host's name: only PAM events at that host.
    #[serde(default)]
    pub host: String,
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date (Howard Hinnant's days_from_civil).
pub fn parse_date(s: &str) -> Option<i64> {
    let mut it = s.trim().splitn(3, '-');
    let y: i64 = it.next()?.parse().ok()?;
    let m: i64 = it.next()?.parse().ok()?;
    let d: i64 = it.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || !(1970..=9999).contains(&y) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// The filter for a query, or the field that is wrong and why.
pub async fn filter_for(
    st: &AppState,
    q: &AuditQuery,
    limit: u32,
) -> Result<Result<Option<AuditFilter>, (&'static str, String)>, Error> {
    let date =
        |s: &str, field: &'static str, end: bool| -> Result<Option<i64>, (&'static str, String)> {
            if s.trim().is_empty() {
                return Ok(None);
            }
            parse_date(s)
                .map(|d| Some(d * 86_400 + if end { 86_399 } else { 0 }))
                .ok_or((field, crate::i18n::t("audit-date-wrong")))
        };
    let since = match date(&q.since, "since", false) {
        Ok(v) => v,
        Err(e) => return Ok(Err(e)),
    };
    let until = match date(&q.until, "until", true) {
        Ok(v) => v,
        Err(e) => return Ok(Err(e)),
    };
    let user_id = if q.user.trim().is_empty() {
        None
    } else {
        match st.core.user_by_username(q.user.trim()).await? {
            Some(u) => Some(u.id),
            // An unknown user has no events.
            None => return Ok(Ok(None)),
        }
    };
    Ok(Ok(Some(AuditFilter {
        user_id,
        event: Some(q.event.trim().to_string()).filter(|e| !e.is_empty()),
        since,
        until,
        before_id: q.before,
        host: Some(q.host.trim().to_string()).filter(|h| !h.is_empty()),
        limit,
        ..AuditFilter::default()
    })))
}

#[derive(Serialize)]
struct Row {
    id: i64,
    at: String,
    username: Option<String>,
    event: String,
    provider: Option<String>,
    source: String,
    remote_addr: Option<String>,
    service: Option<String>,
    host: Option<String>,
    tty: Option<String>,
    detail: Option<String>,
}

pub async fn list(
    State(st): State<AppState>,
    jar: CookieJar,
    Query(q): Query<AuditQuery>,
) -> Result<Response, Error> {
    admin_or_return!(&st, &jar);
    let mut errors = super::Errors::new();
    let mut status = StatusCode::OK;
    let records = match filter_for(&st, &q, PAGE_SIZE + 1).await? {
        Ok(Some(f)) => audit::list(st.core.db().pool(), &f).await?,
        Ok(None) => Vec::new(),
        Err((field, message)) => {
            errors.insert(format!("filter-{field}"), message);
            status = StatusCode::UNPROCESSABLE_ENTITY;
            Vec::new()
        }
    };
    let more = records.len() > PAGE_SIZE as usize;
    let rows: Vec<Row> = records
        .into_iter()
        .take(PAGE_SIZE as usize)
        .map(|r| Row {
            id: r.id,
            at: format_time(r.at),
            username: r.username,
            event: r.event,
            provider: r.provider,
            source: r.source,
            remote_addr: r.remote_addr,
            service: r.service,
            host: r.host,
            tty: r.tty,
            detail: r.detail,
        })
        .collect();
    let next = if more {
        rows.last().map(|r| {
            let mut s = url::form_urlencoded::Serializer::new(String::new());
            s.append_pair("user", &q.user)
                .append_pair("event", &q.event)
                .append_pair("since", &q.since)
                .append_pair("until", &q.until)
                .append_pair("host", &q.host)
                .append_pair("before", &r.id.to_string());
            format!("/admin/audit?{}", s.finish())
        })
    } else {
        None
    };
    let (jar, token) = csrf::ensure(&st, jar);
    let html = render(
        "admin_audit.html",
        context! {
            wide => true, csrf => token, section => "audit", rows, q => &q, next, errors,
            events => EventKind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
        },
    );
    Ok((status, jar, html).into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_round_trip() {
        assert_eq!(super::parse_date("1970-01-01"), Some(0));
        assert_eq!(super::parse_date("2026-11-28"), Some(20_785));
        assert_eq!(super::parse_date("2026-13-01"), None);
        assert_eq!(super::parse_date("yesterday"), None);
    }
}
