//! Unix times for people, in UTC: the one calendar conversion the pages and the CLI share.

/// `(year, month, day, seconds into the day)` of a Unix time (proleptic Gregorian; Howard
/// Hinnant's `civil_from_days`), so no date crate is needed for two formats.
fn civil(t: i64) -> (i64, i64, i64, i64) {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, secs)
}

/// `YYYY-MM-DD HH:MM UTC`: the pages (minutes are enough to recognise an event).
pub fn minutes(t: i64) -> String {
    let (y, m, d, secs) = civil(t);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60
    )
}

/// `YYYY-MM-DD HH:MM:SS UTC`: the CLI (scripts compare exact times).
pub fn seconds(t: i64) -> String {
    let (y, m, d, secs) = civil(t);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_are_formatted_in_utc() {
        assert_eq!(super::seconds(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(super::seconds(1_800_000_000), "2027-01-15 08:00:00 UTC");
        assert_eq!(super::seconds(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(
            super::minutes(20_785 * 86_400 + 3600),
            "2026-11-28 01:00 UTC"
        );
    }
}
