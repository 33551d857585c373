//! How reports and messages print the engine's values: durations.

use std::time::Duration;

/// Formats a duration the way reports and messages print it: `30s`, `1.5s`, `2m`, `1m30s`.
pub fn humanize(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis < 1000 {
        return format!("{millis}ms");
    }
    let secs = duration.as_secs();
    if secs < 60 {
        let tenths = (millis % 1000) / 100;
        return if tenths == 0 { format!("{secs}s") } else { format!("{secs}.{tenths}s") };
    }
    let (minutes, rest) = (secs / 60, secs % 60);
    if rest == 0 { format!("{minutes}m") } else { format!("{minutes}m{rest}s") }
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
        assert_eq!(humanize(Duration::from_secs(90)), "1m30s");
    }
}
