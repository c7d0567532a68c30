//! When to try a failed delivery again: a configurable list of delays (by default Svix's, a shorter
//! variant of the Standard Webhooks example), random jitter so failures caused by our own load do
//! not recur in lock-step, and the receiver's `Retry-After` honoured up to a cap.

use std::time::{Duration, SystemTime};

use rand::Rng as _;

/// The fraction a delay is moved up or down at random by default (±10%).
pub const DEFAULT_JITTER: f64 = 0.1;
/// The longest `Retry-After` honoured by default: a receiver cannot park a message for a week.
pub const DEFAULT_MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;

/// The delays before each retry: the first attempt is immediate, then one retry per entry.
///
/// The default is immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h (eight attempts
/// over 27 h 35 min). The specification's example replaces the last 10 h with 14 h, 20 h and 24 h
/// (about three days); pass such a list to [`RetrySchedule::new`], as tests pass a shorter one.
#[derive(Debug, Clone, PartialEq)]
pub struct RetrySchedule {
    delays: Vec<Duration>,
    jitter: f64,
    max_retry_after: Duration,
}

impl Default for RetrySchedule {
    fn default() -> Self {
        Self::new(
            [
                5,
                5 * MINUTE,
                30 * MINUTE,
                2 * HOUR,
                5 * HOUR,
                10 * HOUR,
                10 * HOUR,
            ]
            .into_iter()
            .map(Duration::from_secs)
            .collect(),
        )
    }
}

impl RetrySchedule {
    /// A schedule retrying after each of `delays` in turn, with the default jitter and cap.
    /// An empty list means a single attempt and no retries.
    pub fn new(delays: Vec<Duration>) -> Self {
        Self {
            delays,
            jitter: DEFAULT_JITTER,
            max_retry_after: DEFAULT_MAX_RETRY_AFTER,
        }
    }

    /// The same schedule with each delay moved at random by up to `fraction` of itself
    /// (clamped to 0–1; 0 turns jitter off, which tests that compare instants want).
    pub fn with_jitter(mut self, fraction: f64) -> Self {
        self.jitter = clamp_fraction(fraction);
        self
    }

    /// The same schedule honouring a receiver's `Retry-After` up to `cap` only.
    pub fn with_max_retry_after(mut self, cap: Duration) -> Self {
        self.max_retry_after = cap;
        self
    }

    /// The delays before each retry, without jitter.
    pub fn delays(&self) -> &[Duration] {
        &self.delays
    }

    /// How many attempts a message gets in all: the first one and one per delay.
    pub fn max_attempts(&self) -> u32 {
        u32::try_from(self.delays.len())
            .unwrap_or(u32::MAX)
            .saturating_add(1)
    }

    /// How long to wait before the next attempt, given how many attempts were already made and the
    /// `Retry-After` the last one was answered with; `None` means give up (mark the message
    /// failed). The delay is jittered with the thread's random generator.
    pub fn next_delay(
        &self,
        attempts_made: u32,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        self.next_delay_with_sample(attempts_made, retry_after, rand::rng().random::<f64>())
    }

    /// [`RetrySchedule::next_delay`] with the random draw passed in (`sample` in 0–1, 0.5 meaning
    /// no change), so tests are deterministic.
    ///
    /// A `Retry-After` longer than the scheduled delay wins (capped); a shorter one does not make
    /// us retry sooner than planned. It never adds attempts beyond the schedule.
    pub fn next_delay_with_sample(
        &self,
        attempts_made: u32,
        retry_after: Option<Duration>,
        sample: f64,
    ) -> Option<Duration> {
        let scheduled = if attempts_made == 0 {
            // Nothing was tried yet: the first attempt is immediate.
            Duration::ZERO
        } else {
            let index = usize::try_from(attempts_made - 1).ok()?;
            jitter(*self.delays.get(index)?, self.jitter, sample)
        };
        let asked = retry_after.map_or(Duration::ZERO, |d| d.min(self.max_retry_after));
        Some(scheduled.max(asked))
    }
}

/// `delay` moved by up to ±`fraction` of itself: `sample` 0 gives the shortest, 0.5 the delay
/// itself, 1 the longest. A pure function so callers can use any random source.
pub fn jitter(delay: Duration, fraction: f64, sample: f64) -> Duration {
    let fraction = clamp_fraction(fraction);
    let sample = if sample.is_finite() {
        sample.clamp(0.0, 1.0)
    } else {
        0.5
    };
    let factor = 1.0 + fraction * (2.0 * sample - 1.0);
    // `factor` is within 0–2, so this only saturates for delays of centuries.
    Duration::try_from_secs_f64(delay.as_secs_f64() * factor).unwrap_or(delay)
}

fn clamp_fraction(fraction: f64) -> f64 {
    if fraction.is_finite() {
        fraction.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// Parses a `Retry-After` header value: either delta-seconds (`120`) or an HTTP-date
/// (`Wed, 21 Oct 2015 07:28:00 GMT`, also the obsolete RFC 850 and asctime forms), relative to
/// `now`. A date in the past means "now" (zero); anything unparseable is ignored (`None`).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Absurdly long digit strings are clamped rather than refused: the cap applies later.
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn the_default_schedule_is_eight_attempts_over_27_and_a_half_hours() {
        let schedule = RetrySchedule::default().with_jitter(0.0);
        assert_eq!(schedule.max_attempts(), 8);
        let delays: Vec<Duration> = (0..8)
            .map(|made| schedule.next_delay(made, None).unwrap())
            .collect();
        assert_eq!(
            delays,
            [0, 5, 300, 1800, 7200, 18000, 36000, 36000].map(secs)
        );
        assert_eq!(schedule.next_delay(8, None), None);
        assert_eq!(schedule.next_delay(u32::MAX, None), None);
        let total: Duration = delays.iter().sum();
        assert_eq!(total, secs(27 * 3600 + 35 * 60 + 5));
    }

    #[test]
    fn jitter_stays_within_the_fraction() {
        assert_eq!(jitter(secs(100), 0.1, 0.0), secs(90));
        assert_eq!(jitter(secs(100), 0.1, 0.5), secs(100));
        assert_eq!(jitter(secs(100), 0.1, 1.0), secs(110));
        assert_eq!(jitter(secs(100), 0.0, 1.0), secs(100));
        // Out-of-range inputs are clamped, never a panic or a negative delay.
        assert_eq!(jitter(secs(100), 5.0, 0.0), Duration::ZERO);
        assert_eq!(jitter(secs(100), 0.1, f64::NAN), secs(100));
        assert_eq!(jitter(secs(100), f64::INFINITY, 1.0), secs(100));
        assert_eq!(jitter(Duration::MAX, 1.0, 1.0), Duration::MAX);
    }

    #[test]
    fn random_jitter_is_bounded() {
        let schedule = RetrySchedule::new(vec![secs(1000)]);
        for _ in 0..200 {
            let delay = schedule.next_delay(1, None).unwrap();
            assert!((secs(900)..=secs(1100)).contains(&delay), "{delay:?}");
        }
    }

    #[test]
    fn a_longer_retry_after_wins_and_is_capped() {
        let schedule = RetrySchedule::new(vec![secs(5), secs(300)]).with_jitter(0.0);
        assert_eq!(schedule.next_delay(1, Some(secs(60))), Some(secs(60)));
        assert_eq!(schedule.next_delay(1, Some(secs(1))), Some(secs(5)));
        assert_eq!(
            schedule.next_delay(2, Some(secs(7 * 24 * 3600))),
            Some(DEFAULT_MAX_RETRY_AFTER)
        );
        let capped = schedule.clone().with_max_retry_after(secs(120));
        assert_eq!(capped.next_delay(1, Some(secs(600))), Some(secs(120)));
        // Retry-After never extends the schedule.
        assert_eq!(schedule.next_delay(3, Some(secs(10))), None);
    }

    #[test]
    fn a_short_schedule_for_tests() {
        let schedule = RetrySchedule::new(vec![Duration::from_millis(10); 2]).with_jitter(0.0);
        assert_eq!(schedule.max_attempts(), 3);
        assert_eq!(
            schedule.next_delay(2, None),
            Some(Duration::from_millis(10))
        );
        assert_eq!(schedule.next_delay(3, None), None);
        let none = RetrySchedule::new(Vec::new());
        assert_eq!(none.max_attempts(), 1);
        assert_eq!(none.next_delay(0, None), Some(Duration::ZERO));
        assert_eq!(none.next_delay(1, None), None);
    }

    #[test]
    fn parses_delta_seconds_and_http_dates() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        assert_eq!(parse_retry_after("120", now), Some(secs(120)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(secs(0)));
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(secs(u64::MAX))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:30:00 GMT", now),
            Some(secs(120))
        );
        assert_eq!(
            parse_retry_after("Wednesday, 21-Oct-15 07:29:00 GMT", now),
            Some(secs(60))
        );
        assert_eq!(
            parse_retry_after("Wed Oct 21 07:28:30 2015", now),
            Some(secs(30))
        );
        assert_eq!(
            parse_retry_after("Tue, 20 Oct 2015 07:28:00 GMT", now),
            Some(Duration::ZERO)
        );
        for junk in ["", "-5", "1.5", "soon", "120 seconds", "+120"] {
            assert_eq!(parse_retry_after(junk, now), None, "{junk:?}");
        }
    }
}
