//! Wall-clock times as the API, the page and the webhooks write them: RFC 3339 in UTC, and
//! durations between two instants in words ("3m", "in 4m", "2h 5m ago").

use time::OffsetDateTime;

/// `2026-03-02T09:30:00.250Z` for Unix milliseconds.
pub fn rfc3339(millis: u64) -> String {
    format!("{}T{}.{:03}Z", date(millis), clock(millis), millis % 1000)
}

/// `2026-03-02 09:30:00 UTC`, for people.
pub fn readable(millis: u64) -> String {
    format!("{} {} UTC", date(millis), clock(millis))
}

/// `2026-03-02` in UTC.
fn date(millis: u64) -> String {
    let utc = utc(millis);
    format!("{:04}-{:02}-{:02}", utc.year(), u8::from(utc.month()), utc.day())
}

/// `09:30:00` in UTC.
fn clock(millis: u64) -> String {
    let utc = utc(millis);
    format!("{:02}:{:02}:{:02}", utc.hour(), utc.minute(), utc.second())
}

fn utc(millis: u64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// A span of milliseconds as every duration is printed ([`harness::humanize`]).
pub fn span(millis: u64) -> String {
    harness::humanize(std::time::Duration::from_millis(millis))
}

/// `at` seen from `now`: `in 4m`, `2h 5m ago`, `now`.
pub fn relative(at: u64, now: u64) -> String {
    match at.cmp(&now) {
        std::cmp::Ordering::Greater => format!("in {}", span(at - now)),
        std::cmp::Ordering::Less if now - at >= 1000 => format!("{} ago", span(now - at)),
        _ => "now".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_spans() {
        assert_eq!(rfc3339(1_700_000_000_250), "2023-11-14T22:13:20.250Z");
        assert_eq!(readable(1_700_000_000_250), "2023-11-14 22:13:20 UTC");
        assert_eq!(span(200_000), "3m 20s");
        assert_eq!(relative(10_000, 5_000), "in 5s");
        assert_eq!(relative(5_000, 65_000), "1m ago");
        assert_eq!(relative(5_000, 5_500), "now");
    }
}
