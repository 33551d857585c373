//! What the reports state about the run as a whole: its `RunInfo`, kept from `RunStarted` (or
//! a stand-in when a `RunFinished` arrives without one), and its start time in UTC, as the file
//! reports and the terminal write it.

use std::time::{SystemTime, UNIX_EPOCH};

use harness::RunInfo;
use time::OffsetDateTime;

/// The `RunInfo` of a run whose `RunStarted` never arrived.
pub(crate) fn unknown_run() -> RunInfo {
    RunInfo {
        target: "unknown".to_string(),
        host: "unknown".to_string(),
        profile: "unknown".to_string(),
        started_at: UNIX_EPOCH,
    }
}

/// The start of the run in UTC. A time outside the years 0 to 9999 (which RFC 3339 cannot
/// write) is reported as the Unix epoch rather than failing the report.
pub(crate) fn started_at_utc(started_at: SystemTime) -> OffsetDateTime {
    let nanos = match started_at.duration_since(UNIX_EPOCH) {
        Ok(after) => i128::try_from(after.as_nanos()).ok(),
        Err(before) => i128::try_from(before.duration().as_nanos()).ok().map(|nanos| -nanos),
    };
    nanos
        .and_then(|nanos| OffsetDateTime::from_unix_timestamp_nanos(nanos).ok())
        .filter(|utc| (0..=9999).contains(&utc.year()))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// `2026-03-02T09:30:00.250Z`: RFC 3339 in UTC, always with milliseconds.
pub(crate) fn rfc3339_millis(utc: OffsetDateTime) -> String {
    format!("{}.{:03}Z", seconds(utc), utc.millisecond())
}

/// `2026-03-02T09:30:00`: whole seconds, no zone (the Ant JUnit schema's timestamp; UTC).
pub(crate) fn seconds(utc: OffsetDateTime) -> String {
    let (year, month, day) = (utc.year(), u8::from(utc.month()), utc.day());
    let (hour, minute, second) = (utc.hour(), utc.minute(), utc.second());
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}")
}

/// `2026-03-02 09:30 UTC`: to the minute, for people.
pub(crate) fn minutes(utc: OffsetDateTime) -> String {
    let (year, month, day) = (utc.year(), u8::from(utc.month()), utc.day());
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02} UTC", utc.hour(), utc.minute())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn times_rfc_3339_cannot_write_fall_back_to_the_epoch() {
        let far_future = UNIX_EPOCH + Duration::from_secs(400_000_000_000);
        assert_eq!(started_at_utc(far_future), OffsetDateTime::UNIX_EPOCH);
        let before_epoch = UNIX_EPOCH - Duration::from_secs(86_400);
        assert_eq!(started_at_utc(before_epoch).year(), 1969);
        let moment = UNIX_EPOCH + Duration::from_millis(1_700_000_000_250);
        assert_eq!(started_at_utc(moment).unix_timestamp_nanos(), 1_700_000_000_250_000_000);
        assert_eq!(rfc3339_millis(started_at_utc(moment)), "2023-11-14T22:13:20.250Z");
        assert_eq!(seconds(started_at_utc(moment)), "2023-11-14T22:13:20");
        assert_eq!(minutes(started_at_utc(moment)), "2023-11-14 22:13 UTC");
    }
}
