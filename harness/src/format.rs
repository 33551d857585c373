//! How reports, pages and messages print durations: one formatter for every crate.

use std::time::Duration;

/// Formats a duration the way reports, pages and messages print it, in at most two units:
/// `850ms`, `1.5s`, `30s`, `2m`, `3m 20s`, `2h 5m`, `4d 3h`.
pub fn humanize(duration: Duration) -> String {
    let millis = duration.as_millis();
    let seconds = duration.as_secs();
    let (days, hours, minutes) = (seconds / 86_400, seconds / 3600 % 24, seconds / 60 % 60);
    let two = |big: u64, big_unit: &str, small: u64, small_unit: &str| match small {
        0 => format!("{big}{big_unit}"),
        _ => format!("{big}{big_unit} {small}{small_unit}"),
    };
    match () {
        _ if millis < 1000 => format!("{millis}ms"),
        _ if seconds < 60 => match (millis % 1000) / 100 {
            0 => format!("{seconds}s"),
            tenths => format!("{seconds}.{tenths}s"),
        },
        _ if seconds < 3600 => two(minutes, "m", seconds % 60, "s"),
        _ if days == 0 => two(hours, "h", minutes, "m"),
        _ => two(days, "d", hours, "h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_a_person_wrote_them() {
        assert_eq!(humanize(Duration::from_millis(250)), "250ms");
        assert_eq!(humanize(Duration::from_millis(1500)), "1.5s");
        assert_eq!(humanize(Duration::from_secs(30)), "30s");
        assert_eq!(humanize(Duration::from_secs(120)), "2m");
        assert_eq!(humanize(Duration::from_secs(90)), "1m 30s");
        assert_eq!(humanize(Duration::from_secs(200)), "3m 20s");
        assert_eq!(humanize(Duration::from_secs(3600)), "1h");
        assert_eq!(humanize(Duration::from_secs(7500)), "2h 5m");
        assert_eq!(humanize(Duration::from_secs(4 * 86_400 + 3 * 3600 + 59)), "4d 3h");
    }
}
