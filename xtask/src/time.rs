//! Dates without a date crate: epoch seconds, RFC 3339 (GitHub's timestamps, the image
//! `created` label, the notes) and HTTP dates (GitHub's `Date` header). Pure; the release
//! code, the GitHub client and the stand-ins share them.

use std::time::{SystemTime, UNIX_EPOCH};

pub fn now_epoch() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Epoch seconds as `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) fn rfc3339(epoch: u64) -> String {
    let days = (epoch / 86_400) as i64;
    let secs = epoch % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

/// Parses an HTTP date in the IMF-fixdate form servers must send (RFC 9110 section 5.6.7),
/// `Sun, 06 Nov 1994 08:49:37 GMT`, to epoch seconds.
pub(crate) fn parse_http_date(s: &str) -> Option<u64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let rest = s.trim().split_once(", ")?.1;
    let mut it = rest.split(' ');
    let day: u32 = it.next()?.parse().ok()?;
    let m = it.next()?;
    let mon = MONTHS.iter().position(|x| *x == m)? + 1;
    let year: u32 = it.next()?.parse().ok()?;
    let time = it.next()?;
    if it.next()? != "GMT" || it.next().is_some() || time.len() != 8 {
        return None;
    }
    parse_rfc3339(&format!("{year:04}-{mon:02}-{day:02}T{time}Z"))
}

/// Parses `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SSZ` to epoch seconds.
pub fn parse_rfc3339(s: &str) -> Option<u64> {
    let s = s.trim();
    let (date, time) = match s.split_once('T') {
        Some((d, t)) => (d, Some(t.trim_end_matches('Z'))),
        None => (s, None),
    };
    let mut it = date.split('-');
    let y: i64 = it.next()?.parse().ok()?;
    let m: u32 = it.next()?.parse().ok()?;
    let d: u32 = it.next()?.parse().ok()?;
    // Bounded fields: a hostile date (`08:-0102601111…`, year 10^17) must not overflow.
    if it.next().is_some()
        || !(1..=12).contains(&m)
        || !(1..=31).contains(&d)
        || !(0..=9999).contains(&y)
    {
        return None;
    }
    let mut secs = days_from_civil(y, m, d) * 86_400;
    if let Some(t) = time {
        let mut it = t.split(':');
        let h: i64 = it.next()?.parse().ok()?;
        let mi: i64 = it.next()?.parse().ok()?;
        let se: i64 = it.next().unwrap_or("0").split('.').next()?.parse().ok()?;
        if !(0..=23).contains(&h) || !(0..=59).contains(&mi) || !(0..=60).contains(&se) {
            return None;
        }
        secs += h * 3600 + mi * 60 + se;
    }
    u64::try_from(secs).ok()
}

// Howard Hinnant's civil-date algorithms.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Inputs the `link_header` fuzz target found (overflow panics in debug builds).
    #[test]
    fn hostile_dates_are_refused_not_overflowed() {
        for bad in [
            "2026-11-28T08:-0102601111111111111",
            "99999999999999999-01-01",
            "2026-11-28T99999999999999999:00:00Z",
            "2026-11-28T24:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
        assert_eq!(
            parse_rfc3339("2026-11-28T23:59:60Z").map(|t| t % 60),
            Some(0)
        );
    }

    #[test]
    fn round_trips() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        let t = parse_rfc3339("2026-11-28T07:25:51Z").unwrap();
        assert_eq!(rfc3339(t), "2026-11-28T07:25:51Z");
        assert_eq!(parse_rfc3339("2024-02-29"), Some(1_709_164_800));
    }
}
