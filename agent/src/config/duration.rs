//! Durations as written in `wavesync.yaml`: `500ms`, `90s`, `5m`, `1h30m`.
//!
//! The syntax is Go's `time.ParseDuration` restricted to whole numbers and the
//! units `h`, `m`, `s`, `ms`, the notation Flux and kubectl users already
//! write. A bare number is rejected rather than guessed at: `timeout: 300`
//! could mean seconds or milliseconds.

use std::fmt;
use std::time::Duration;

/// What is wrong with a duration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DurationError {
    /// Nothing was written.
    Empty,
    /// A number without a unit, e.g. `300`.
    MissingUnit,
    /// A unit we do not know, e.g. `5min` or `2d`.
    UnknownUnit(String),
    /// A unit without a number in front, or a stray character.
    ExpectedNumber,
    /// Too large to represent.
    Overflow,
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DurationError::Empty => f.write_str("it is empty"),
            DurationError::MissingUnit => f.write_str("a number needs a unit (h, m, s, ms)"),
            DurationError::UnknownUnit(u) => write!(f, "unknown unit \"{u}\" (use h, m, s, ms)"),
            DurationError::ExpectedNumber => {
                f.write_str("expected a whole number before each unit")
            }
            DurationError::Overflow => f.write_str("it is too large"),
        }
    }
}

/// Parses `1h30m`, `90s`, `500ms`, `0s`.
///
/// # Errors
///
/// [`DurationError`] when the text is empty, has a number without a unit, an
/// unknown unit, or overflows.
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(DurationError::ExpectedNumber);
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| DurationError::Overflow)?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let part = match unit {
            "" => return Err(DurationError::MissingUnit),
            "ms" => Some(Duration::from_millis(number)),
            "s" => Some(Duration::from_secs(number)),
            "m" => number.checked_mul(60).map(Duration::from_secs),
            "h" => number.checked_mul(3600).map(Duration::from_secs),
            other => return Err(DurationError::UnknownUnit(other.to_string())),
        };
        total = part
            .and_then(|p| total.checked_add(p))
            .ok_or(DurationError::Overflow)?;
    }
    Ok(total)
}

/// Formats a duration the way [`parse`] reads it (`1h30m`, `500ms`, `0s`), for
/// status tables and messages. Sub-millisecond parts are dropped.
pub fn format(d: Duration) -> String {
    let millis = d.as_millis();
    if millis == 0 {
        return "0s".to_string();
    }
    let (h, m, s, ms) = (
        millis / 3_600_000,
        millis / 60_000 % 60,
        millis / 1000 % 60,
        millis % 1000,
    );
    let mut out = String::new();
    for (n, unit) in [(h, "h"), (m, "m"), (s, "s"), (ms, "ms")] {
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_units_and_their_combinations() {
        assert_eq!(parse("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("1m30s250ms"), Ok(Duration::from_millis(90_250)));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
        assert_eq!(parse(" 10s "), Ok(Duration::from_secs(10)));
    }

    #[test]
    fn rejects_what_it_would_have_to_guess() {
        assert_eq!(parse(""), Err(DurationError::Empty));
        assert_eq!(parse("300"), Err(DurationError::MissingUnit));
        assert_eq!(parse("1h30"), Err(DurationError::MissingUnit));
        assert_eq!(parse("5min"), Err(DurationError::UnknownUnit("min".into())));
        assert_eq!(parse("2d"), Err(DurationError::UnknownUnit("d".into())));
        assert_eq!(parse("1.5h"), Err(DurationError::UnknownUnit(".".into())));
        assert_eq!(parse("m"), Err(DurationError::ExpectedNumber));
        assert_eq!(parse("-5s"), Err(DurationError::ExpectedNumber));
        assert_eq!(parse("99999999999999999999s"), Err(DurationError::Overflow));
        assert_eq!(parse("9999999999999999999h"), Err(DurationError::Overflow));
    }

    #[test]
    fn formats_what_it_parses() {
        for text in ["0s", "500ms", "90s", "5m", "1h30m", "2h0m5s"] {
            let d = parse(text).expect("valid");
            assert_eq!(parse(&format(d)), Ok(d), "{text}");
        }
        assert_eq!(format(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format(Duration::from_secs(90)), "1m30s");
        assert_eq!(format(Duration::from_millis(500)), "500ms");
    }
}
