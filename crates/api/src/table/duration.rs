//! apimachinery's `duration.HumanDuration`: about two significant figures, finer units while
//! the value is small (`90s`, `5m30s`, `3h10m`, `2d5h`, `3y20d`), then whole units.

const NANOS_PER_SECOND: i128 = 1_000_000_000;
const NANOS_PER_MINUTE: i128 = 60 * NANOS_PER_SECOND;
const NANOS_PER_HOUR: i128 = 60 * NANOS_PER_MINUTE;
const HOURS_PER_DAY: i128 = 24;
const DAYS_PER_YEAR: i128 = 365;

/// Renders a duration the way kubectl's AGE column does (`45s`, `5m30s`, `3h`, `2d`, `2y`).
pub fn human_duration(d: std::time::Duration) -> String {
    human_nanos(i128::try_from(d.as_nanos()).unwrap_or(i128::MAX))
}

/// [`human_duration`] for a signed duration in nanoseconds.
///
/// Negative values come from clock skew between the server and whoever set a timestamp:
/// up to a second and a bit reads as `0s`, anything further off as `<invalid>`.
pub(super) fn human_nanos(nanos: i128) -> String {
    // Integer division truncates toward zero, like Go's int(d.Seconds()).
    let seconds = nanos / NANOS_PER_SECOND;
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 2 * 60 {
        return format!("{seconds}s");
    }

    let minutes = nanos / NANOS_PER_MINUTE;
    if minutes < 10 {
        return with_remainder(minutes, "m", seconds % 60, "s");
    }
    if minutes < 3 * 60 {
        return format!("{minutes}m");
    }

    let hours = nanos / NANOS_PER_HOUR;
    let days = hours / HOURS_PER_DAY;
    if hours < 8 {
        return with_remainder(hours, "h", minutes % 60, "m");
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 8 * HOURS_PER_DAY {
        return with_remainder(days, "d", hours % HOURS_PER_DAY, "h");
    }
    if hours < 2 * DAYS_PER_YEAR * HOURS_PER_DAY {
        return format!("{days}d");
    }

    let years = days / DAYS_PER_YEAR;
    if hours < 8 * DAYS_PER_YEAR * HOURS_PER_DAY {
        return with_remainder(years, "y", days % DAYS_PER_YEAR, "d");
    }
    format!("{years}y")
}

/// `"5m30s"`, or just `"5m"` when the finer unit is zero.
fn with_remainder(whole: i128, unit: &str, rest: i128, rest_unit: &str) -> String {
    if rest == 0 {
        format!("{whole}{unit}")
    } else {
        format!("{whole}{unit}{rest}{rest_unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const MINUTE: u64 = 60;
    const HOUR: u64 = 60 * MINUTE;
    const DAY: u64 = 24 * HOUR;
    const YEAR: u64 = 365 * DAY;

    #[test]
    fn boundaries() {
        let cases = [
            ("zero", 0, "0s"),
            ("one second", 1, "1s"),
            ("under two minutes shows seconds", 2 * MINUTE - 1, "119s"),
            ("ninety seconds", 90, "90s"),
            ("two minutes", 2 * MINUTE, "2m"),
            ("minutes and seconds", 5 * MINUTE + 30, "5m30s"),
            ("just under ten minutes", 10 * MINUTE - 1, "9m59s"),
            ("ten minutes drops seconds", 10 * MINUTE + 30, "10m"),
            ("just under three hours", 3 * HOUR - 1, "179m"),
            ("three hours", 3 * HOUR, "3h"),
            ("hours and minutes", 3 * HOUR + 10 * MINUTE + 59, "3h10m"),
            ("just under eight hours", 8 * HOUR - 1, "7h59m"),
            ("eight hours drops minutes", 8 * HOUR + 30 * MINUTE, "8h"),
            ("just under two days", 48 * HOUR - 1, "47h"),
            ("two days", 2 * DAY, "2d"),
            ("days and hours", 2 * DAY + 5 * HOUR + 59 * MINUTE, "2d5h"),
            ("just under eight days", 8 * DAY - 1, "7d23h"),
            ("eight days drops hours", 8 * DAY + 5 * HOUR, "8d"),
            ("forty-four days", 44 * DAY, "44d"),
            ("just under two years", 2 * YEAR - 1, "729d"),
            ("two years", 2 * YEAR, "2y"),
            ("years and days", 3 * YEAR + 20 * DAY, "3y20d"),
            ("just under eight years", 8 * YEAR - 1, "7y364d"),
            ("eight years drops days", 8 * YEAR + 100 * DAY, "8y"),
            ("a century", 100 * YEAR, "100y"),
        ];
        for (name, seconds, want) in cases {
            assert_eq!(human_duration(Duration::from_secs(seconds)), want, "{name}");
        }
    }

    #[test]
    fn sub_second_precision_truncates() {
        assert_eq!(human_duration(Duration::from_millis(999)), "0s");
        assert_eq!(human_duration(Duration::from_millis(119_999)), "119s");
        assert_eq!(
            human_duration(Duration::MAX),
            format!("{}y", u64::MAX / YEAR)
        );
    }

    #[test]
    fn negative_durations_tolerate_small_skew() {
        let cases = [
            ("half a second early", -500_000_000, "0s"),
            ("one second early", -NANOS_PER_SECOND, "0s"),
            (
                "just under two seconds early",
                -2 * NANOS_PER_SECOND + 1,
                "0s",
            ),
            ("two seconds early", -2 * NANOS_PER_SECOND, "<invalid>"),
            ("an hour early", -3600 * NANOS_PER_SECOND, "<invalid>"),
        ];
        for (name, nanos, want) in cases {
            assert_eq!(human_nanos(nanos), want, "{name}");
        }
    }
}
