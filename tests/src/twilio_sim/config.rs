//! What the simulator does with each call: the outcome rule, the time scale
//! and durations, the delivery quirks and the faults injected on create. All
//! random choices hash the seed with the call's key (`To` plus how many
//! create requests that number has had), so a run reproduces whatever order
//! concurrent requests arrive in.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Default account: `AC` + 32 hex digits, like a real one.
pub const DEFAULT_ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";
pub const DEFAULT_AUTH_TOKEN: &str = "twilio-sim-auth-token";
/// Real length of one simulated second.
pub const DEFAULT_TIME_SCALE: Duration = Duration::from_millis(10);
/// Simulated seconds from create to the first event (`initiated`), so that
/// ordinary calls' callbacks normally follow the create answer.
pub const DEFAULT_SETUP_SECS: u32 = 1;
pub const DEFAULT_RING_SECS: u32 = 3;
pub const DEFAULT_TALK_SECS: u32 = 5;
/// How long a call that waits for a hang-up lasts at most (Twilio's
/// `TimeLimit`, much shortened).
pub const DEFAULT_MAX_CALL_SECS: u32 = 120;
/// Twilio's default `Timeout` (ring time before `no-answer`).
pub const DEFAULT_RING_TIMEOUT_SECS: u32 = 60;
pub const DEFAULT_RETRY_AFTER_SECS: u32 = 1;
/// Delay range of a slow create answer.
pub const DEFAULT_SLOW_ANSWER: (Duration, Duration) =
    (Duration::from_millis(600), Duration::from_millis(900));
/// Attempts per status callback (the first plus retries on 5xx or a
/// connection error), as Twilio retries.
pub const DEFAULT_CALLBACK_ATTEMPTS: u32 = 3;
pub const DEFAULT_CALLBACK_RETRY_DELAY: Duration = Duration::from_millis(20);
/// A callback answer slower than this counts as a failed attempt.
pub const DEFAULT_CALLBACK_TIMEOUT: Duration = Duration::from_secs(5);

/// How one call goes when nobody hangs up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Rings, is answered (`AnsweredBy` = `answered_by` when
    /// `MachineDetection` is set), talks, ends `completed`.
    Completed { answered_by: &'static str },
    /// Ends `busy` without ringing.
    Busy,
    /// Rings for the request's `Timeout`, ends `no-answer`.
    NoAnswer,
    /// Ends `failed` at once with this `SipResponseCode`.
    Failed { sip: u16 },
    /// Answered by a human, talks until hung up (or the max call length:
    /// then `completed`).
    AnsweredUntilHangup,
    /// Rings until hung up (then `canceled`; at the max call length
    /// `no-answer`).
    RingsUntilHangup,
}

impl Scenario {
    /// The default rule, by the last digit of `To`: 0–3 completed (human),
    /// 4 completed (machine), 5 busy, 6 no-answer, 7 failed (SIP 404),
    /// 8 failed (SIP 503), 9 answered and talking until hung up. No digit
    /// at the end: completed (human).
    pub fn by_last_digit(to: &str) -> Scenario {
        match to.chars().last().and_then(|c| c.to_digit(10)) {
            Some(4) => Scenario::Completed {
                answered_by: "machine_end_beep",
            },
            Some(5) => Scenario::Busy,
            Some(6) => Scenario::NoAnswer,
            Some(7) => Scenario::Failed { sip: 404 },
            Some(8) => Scenario::Failed { sip: 503 },
            Some(9) => Scenario::AnsweredUntilHangup,
            _ => Scenario::Completed {
                answered_by: "human",
            },
        }
    }

    /// The final `CallStatus` when nobody hangs up.
    pub fn final_status(&self) -> &'static str {
        match self {
            Scenario::Completed { .. } | Scenario::AnsweredUntilHangup => "completed",
            Scenario::Busy => "busy",
            Scenario::NoAnswer | Scenario::RingsUntilHangup => "no-answer",
            Scenario::Failed { .. } => "failed",
        }
    }

    /// The outcome label a dialplane run records for a call played out
    /// this way (with machine detection on, so `AnsweredBy` is sent).
    pub fn run_outcome(&self) -> &'static str {
        match self {
            Scenario::Completed {
                answered_by: "human",
            }
            | Scenario::AnsweredUntilHangup => "answered-human",
            Scenario::Completed { .. } => "answered-machine",
            Scenario::Busy => "busy",
            Scenario::NoAnswer | Scenario::RingsUntilHangup => "no-answer",
            Scenario::Failed { sip: 404 } => "invalid-number",
            Scenario::Failed { .. } => "network-error",
        }
    }

    /// `AnsweredBy` once answered (with machine detection on).
    pub fn answered_by(&self) -> Option<&'static str> {
        match self {
            Scenario::Completed { answered_by } => Some(answered_by),
            Scenario::AnsweredUntilHangup => Some("human"),
            _ => None,
        }
    }
}

/// Picks a call's scenario from its `To`.
pub type OutcomeRule = Arc<dyn Fn(&str) -> Scenario + Send + Sync>;

/// The simulator's behaviour. Start from [`TwilioSimConfig::new`] and
/// chain the builder methods; fractions are of calls (or of create
/// requests, for faults), 0.0 to 1.0.
#[derive(Clone)]
pub struct TwilioSimConfig {
    pub account_sid: String,
    pub auth_token: String,
    pub seed: u64,
    pub time_scale: Duration,
    pub setup_secs: u32,
    pub ring_secs: u32,
    pub talk_secs: u32,
    pub max_call_secs: u32,
    pub outcome: OutcomeRule,
    /// Calls whose every callback is sent twice.
    pub duplicate_fraction: f64,
    /// Calls whose `ringing` callback is held back until after the final one.
    pub out_of_order_fraction: f64,
    /// Calls whose final callback (and only that) is sent, and its answer
    /// awaited, before the create request is answered.
    pub early_final_fraction: f64,
    /// Create requests answered 429 (nothing placed).
    pub rate_limit_fraction: f64,
    pub retry_after_secs: u32,
    /// Create requests answered 500 before placing (nothing placed).
    pub server_error_fraction: f64,
    /// Create requests that place the call but are answered 500 anyway.
    pub server_error_after_place_fraction: f64,
    /// Create answers delayed by a duration within `slow_answer`.
    pub slow_fraction: f64,
    pub slow_answer: (Duration, Duration),
    pub callback_attempts: u32,
    pub callback_retry_delay: Duration,
    pub callback_timeout: Duration,
}

impl fmt::Debug for TwilioSimConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioSimConfig")
            .field("account_sid", &self.account_sid)
            .field("seed", &self.seed)
            .field("time_scale", &self.time_scale)
            .field("duplicate_fraction", &self.duplicate_fraction)
            .field("out_of_order_fraction", &self.out_of_order_fraction)
            .field("early_final_fraction", &self.early_final_fraction)
            .field("rate_limit_fraction", &self.rate_limit_fraction)
            .field("server_error_fraction", &self.server_error_fraction)
            .field(
                "server_error_after_place_fraction",
                &self.server_error_after_place_fraction,
            )
            .field("slow_fraction", &self.slow_fraction)
            .finish_non_exhaustive()
    }
}

impl Default for TwilioSimConfig {
    fn default() -> Self {
        TwilioSimConfig::new(0)
    }
}

impl TwilioSimConfig {
    /// Every call follows [`Scenario::by_last_digit`], nothing odd happens.
    pub fn new(seed: u64) -> Self {
        TwilioSimConfig {
            account_sid: DEFAULT_ACCOUNT_SID.into(),
            auth_token: DEFAULT_AUTH_TOKEN.into(),
            seed,
            time_scale: DEFAULT_TIME_SCALE,
            setup_secs: DEFAULT_SETUP_SECS,
            ring_secs: DEFAULT_RING_SECS,
            talk_secs: DEFAULT_TALK_SECS,
            max_call_secs: DEFAULT_MAX_CALL_SECS,
            outcome: Arc::new(Scenario::by_last_digit),
            duplicate_fraction: 0.0,
            out_of_order_fraction: 0.0,
            early_final_fraction: 0.0,
            rate_limit_fraction: 0.0,
            retry_after_secs: DEFAULT_RETRY_AFTER_SECS,
            server_error_fraction: 0.0,
            server_error_after_place_fraction: 0.0,
            slow_fraction: 0.0,
            slow_answer: DEFAULT_SLOW_ANSWER,
            callback_attempts: DEFAULT_CALLBACK_ATTEMPTS,
            callback_retry_delay: DEFAULT_CALLBACK_RETRY_DELAY,
            callback_timeout: DEFAULT_CALLBACK_TIMEOUT,
        }
    }

    pub fn credentials(mut self, account_sid: &str, auth_token: &str) -> Self {
        self.account_sid = account_sid.into();
        self.auth_token = auth_token.into();
        self
    }

    /// Real length of one simulated second.
    pub fn time_scale(mut self, one_second: Duration) -> Self {
        self.time_scale = one_second;
        self
    }

    /// Simulated seconds of ringing before an answer, and of talk.
    pub fn durations(mut self, ring_secs: u32, talk_secs: u32) -> Self {
        self.ring_secs = ring_secs;
        self.talk_secs = talk_secs;
        self
    }

    pub fn max_call_secs(mut self, secs: u32) -> Self {
        self.max_call_secs = secs;
        self
    }

    pub fn outcome(mut self, rule: impl Fn(&str) -> Scenario + Send + Sync + 'static) -> Self {
        self.outcome = Arc::new(rule);
        self
    }

    pub fn duplicates(mut self, fraction: f64) -> Self {
        self.duplicate_fraction = fraction;
        self
    }

    pub fn out_of_order(mut self, fraction: f64) -> Self {
        self.out_of_order_fraction = fraction;
        self
    }

    pub fn early_final(mut self, fraction: f64) -> Self {
        self.early_final_fraction = fraction;
        self
    }

    pub fn rate_limited(mut self, fraction: f64, retry_after_secs: u32) -> Self {
        self.rate_limit_fraction = fraction;
        self.retry_after_secs = retry_after_secs;
        self
    }

    pub fn server_errors(mut self, fraction: f64) -> Self {
        self.server_error_fraction = fraction;
        self
    }

    pub fn server_errors_after_place(mut self, fraction: f64) -> Self {
        self.server_error_after_place_fraction = fraction;
        self
    }

    pub fn slow_answers(mut self, fraction: f64, min: Duration, max: Duration) -> Self {
        self.slow_fraction = fraction;
        self.slow_answer = (min, max);
        self
    }

    pub fn callback_retries(mut self, attempts: u32, delay: Duration) -> Self {
        self.callback_attempts = attempts.max(1);
        self.callback_retry_delay = delay;
        self
    }

    /// The scenario the rule picks for `to`.
    pub fn scenario_for(&self, to: &str) -> Scenario {
        (self.outcome)(to)
    }

    /// Real duration of `secs` simulated seconds.
    pub fn scaled(&self, secs: u32) -> Duration {
        self.time_scale * secs
    }

    /// A number in [0, 1) fixed by the seed, the call's key and `what`.
    pub(crate) fn roll(&self, key: &str, what: &str) -> f64 {
        (self.hash(key, what) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// FNV-1a over the parts, then splitmix64's finaliser.
    pub(crate) fn hash(&self, key: &str, what: &str) -> u64 {
        let mut h = 0xcbf2_9ce4_8422_2325u64 ^ self.seed;
        for part in [key, what] {
            for b in part.bytes().chain([0xff]) {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        }
        h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        h ^ (h >> 31)
    }
}
