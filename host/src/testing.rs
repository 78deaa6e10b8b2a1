//! Run a call flow over leads against the built-in simulated dialer and get a
//! YAML transcript: the same output as `dialplane plugin test`, for plugin
//! authors' own [insta](https://insta.rs) tests.
//!
//! ```no_run
//! # async fn t() -> anyhow::Result<()> {
//! use dialplane::runtime::Lead;
//! use dialplane::testing::{TranscriptOptions, transcript};
//!
//! let wasm = std::fs::read("target/wasm32-wasip2/release/my_flow.wasm")?;
//! let leads = vec![Lead {
//!     id: "a".into(),
//!     phone: "+14155550127".into(),
//!     name: None,
//!     timezone: None,
//!     attributes: vec![],
//! }];
//! let yaml = transcript(&wasm, &leads, &TranscriptOptions::default().set("timeout_secs", "20")).await?;
//! // insta::assert_snapshot!(yaml);
//! # Ok(()) }
//! ```
//!
//! (Leads can also come from a file: [`crate::leads_file::read`].)
//!
//! Same input, byte-identical output: the run id and idempotency keys are
//! fixed (`plugin-test`, `plugin-test-<lead id>-<attempt>`), every plugin sees
//! a fixed wall clock (2026-01-01T00:00:00Z), a monotonic clock stuck at 0 and
//! fixed "random" bytes, and the tenant store is a fresh in-memory one.
//!
//! Each lead is planned, dialed (when the flow says so) and handed back to
//! `on-result`; a retry the flow asks for is played at once, up to
//! `max_attempts`. A run applies each follow-up to the lead (status, tags
//! added once) and keeps its note with the attempt; a status or tag the
//! store cannot hold is shown as `follow_up_refused`. The platform's own rules (calling window, do-not-call list,
//! rate limits) are not applied here: this shows what the flow decides.

use std::sync::Arc;

use serde::Serialize;

use crate::runtime::{
    CallReport, CallRequest, Decision, DialerInstance, FlowInstance, FollowUp, HostOptions, Lead,
    Limits, LogLine, MemoryKv, Placement, PluginHost, PluginKind, PluginMeta, PluginScope,
    Prepared, Properties, RunContext, TenantKv,
};
use crate::store::LeadUpdate;

/// Run id every transcript uses.
pub const TRANSCRIPT_RUN_ID: &str = "plugin-test";
/// Tenant id every transcript uses.
pub const TRANSCRIPT_TENANT: i64 = 1;
/// Attempts per lead when not set.
pub const TRANSCRIPT_MAX_ATTEMPTS_DEFAULT: u32 = 3;

/// What to run a transcript with.
#[derive(Debug, Clone)]
pub struct TranscriptOptions {
    /// The run's settings (`--set key=value`).
    pub settings: Properties,
    /// Cap on attempts per lead (retries asked by the flow stop here).
    pub max_attempts: u32,
    /// Configuration handed to the sim dialer (e.g. `mode=sync`).
    pub dialer_config: Properties,
    /// Per-call limits of both plugins.
    pub limits: Limits,
    /// Name shown for the flow in the transcript.
    pub flow_name: String,
    /// Directory of compiled components to reuse (see
    /// [`HostOptions::compiled_cache_dir`]); `None` compiles in memory.
    pub compiled_cache_dir: Option<std::path::PathBuf>,
}

impl Default for TranscriptOptions {
    fn default() -> Self {
        TranscriptOptions {
            settings: Vec::new(),
            max_attempts: TRANSCRIPT_MAX_ATTEMPTS_DEFAULT,
            dialer_config: Vec::new(),
            limits: Limits::default(),
            flow_name: "flow".into(),
            compiled_cache_dir: None,
        }
    }
}

impl TranscriptOptions {
    /// Adds one run setting.
    pub fn set(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.push((key.into(), value.into()));
        self
    }
}

/// The whole transcript (serialised as YAML by [`Transcript::to_yaml`]).
#[derive(Debug, Clone, Serialize)]
pub struct Transcript {
    pub flow: String,
    pub dialer: String,
    pub run_id: String,
    pub max_attempts: u32,
    #[serde(serialize_with = "as_map")]
    pub settings: Properties,
    pub leads: Vec<LeadTranscript>,
    /// The tenant store after the run: `namespace/key: value` (UTF-8 text, or
    /// `hex:` followed by the bytes).
    #[serde(serialize_with = "as_map")]
    pub tenant_store: Vec<(String, String)>,
    /// Number of leads whose run stopped on a plugin failure.
    pub failures: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct LeadTranscript {
    pub lead: String,
    pub phone: String,
    pub attempts: Vec<AttemptTranscript>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct AttemptTranscript {
    pub attempt: u32,
    /// `dial` or `skip: <reason>`.
    pub decision: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_request: Option<CallRequest>,
    /// Why the host refused the flow's call request, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<ReportView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dial_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follow_up: Option<FollowUp>,
    /// What of the follow-up's lead status and tags a run would not store
    /// (the same words a run appends to the attempt's note).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follow_up_refused: Option<String>,
    /// A plugin failure (deadline, trap, …) that ended this lead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flow_log: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dialer_log: Vec<String>,
}

/// A call report as shown in transcripts: the outcome as its stable label
/// (`answered-human`, `busy`, …) rather than a nested variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportView {
    pub outcome: String,
    /// The code carried by `failed(code)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    pub provider_call_id: Option<String>,
    pub ring_secs: u32,
    pub talk_secs: u32,
    pub provider_code: Option<String>,
    pub detail: Option<String>,
}

impl From<&CallReport> for ReportView {
    fn from(r: &CallReport) -> Self {
        ReportView {
            outcome: r.outcome.label(),
            failure: match &r.outcome {
                crate::runtime::Outcome::Failed(code) => Some(code.clone()),
                _ => None,
            },
            provider_call_id: r.provider_call_id.clone(),
            ring_secs: r.ring_secs,
            talk_secs: r.talk_secs,
            provider_code: r.provider_code.clone(),
            detail: r.detail.clone(),
        }
    }
}

/// Ordered pairs as a YAML mapping, in their original order.
fn as_map<S: serde::Serializer>(pairs: &Properties, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(Some(pairs.len()))?;
    for (k, v) in pairs {
        m.serialize_entry(k, v)?;
    }
    m.end()
}

impl Transcript {
    pub fn to_yaml(&self) -> String {
        // Only plain data: serialisation cannot fail.
        serde_yaml::to_string(self).unwrap_or_else(|e| format!("error: {e}\n"))
    }
}

/// Runs `flow_wasm` over `leads` and returns the YAML transcript.
pub async fn transcript(
    flow_wasm: &[u8],
    leads: &[Lead],
    opts: &TranscriptOptions,
) -> anyhow::Result<String> {
    Ok(run(flow_wasm, leads, opts).await?.to_yaml())
}

/// [`transcript`] for synchronous tests (builds its own tokio runtime; do
/// not call it from inside one).
pub fn transcript_blocking(
    flow_wasm: &[u8],
    leads: &[Lead],
    opts: &TranscriptOptions,
) -> anyhow::Result<String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(transcript(flow_wasm, leads, opts))
}

fn lines(logs: Vec<LogLine>) -> Vec<String> {
    logs.into_iter()
        .map(|l| format!("{}: {}", l.level, l.message))
        .collect()
}

/// The instances of one transcript; a failed (poisoned) instance is replaced
/// before the next lead.
struct Instances<'a> {
    host: &'a PluginHost,
    flow_p: Arc<Prepared>,
    dialer_p: Arc<Prepared>,
    kv: Arc<dyn TenantKv>,
    flow: Option<FlowInstance>,
    dialer: Option<DialerInstance>,
}

impl Instances<'_> {
    async fn flow(&mut self) -> Result<&mut FlowInstance, crate::runtime::PluginError> {
        if self.flow.as_ref().is_none_or(|f| f.is_poisoned()) {
            let scope = PluginScope::new(TRANSCRIPT_TENANT, &self.flow_p.meta, self.kv.clone())
                .with_log_field("run_id", TRANSCRIPT_RUN_ID);
            self.flow = Some(self.host.flow(&self.flow_p, scope).await?);
        }
        Ok(self.flow.as_mut().expect("just set"))
    }

    async fn dialer(&mut self) -> Result<&mut DialerInstance, crate::runtime::PluginError> {
        if self.dialer.as_ref().is_none_or(|d| d.is_poisoned()) {
            let scope = PluginScope::new(TRANSCRIPT_TENANT, &self.dialer_p.meta, self.kv.clone())
                .with_log_field("run_id", TRANSCRIPT_RUN_ID);
            self.dialer = Some(self.host.dialer(&self.dialer_p, scope).await?);
        }
        Ok(self.dialer.as_mut().expect("just set"))
    }

    fn flow_logs(&mut self) -> Vec<String> {
        self.flow
            .as_mut()
            .map(|f| lines(f.take_logs()))
            .unwrap_or_default()
    }

    fn dialer_logs(&mut self) -> Vec<String> {
        self.dialer
            .as_mut()
            .map(|d| lines(d.take_logs()))
            .unwrap_or_default()
    }
}

/// Runs `flow_wasm` over `leads` and returns the structured transcript.
pub async fn run(
    flow_wasm: &[u8],
    leads: &[Lead],
    opts: &TranscriptOptions,
) -> anyhow::Result<Transcript> {
    let host = PluginHost::with_options(
        opts.limits.clone(),
        HostOptions {
            deterministic: true,
            pool_instances: 0,
            compiled_cache_dir: opts.compiled_cache_dir.clone(),
            ..HostOptions::default()
        },
    )?;
    let flow_meta = PluginMeta {
        kind: PluginKind::Flow,
        name: opts.flow_name.clone(),
        version: 1,
    };
    let dialer_meta = PluginMeta {
        kind: PluginKind::Dialer,
        name: "sim-dialer".into(),
        version: 1,
    };
    let flow_p = host.prepare(flow_meta, flow_wasm)?;
    let dialer_p = host.prepare(dialer_meta, crate::builtin::SIM_DIALER)?;
    let mem = Arc::new(MemoryKv::new());
    let mut inst = Instances {
        host: &host,
        flow_p,
        dialer_p,
        kv: mem.clone(),
        flow: None,
        dialer: None,
    };
    let mut out = Transcript {
        flow: opts.flow_name.clone(),
        dialer: "sim-dialer".into(),
        run_id: TRANSCRIPT_RUN_ID.into(),
        max_attempts: opts.max_attempts,
        settings: opts.settings.clone(),
        leads: Vec::new(),
        tenant_store: Vec::new(),
        failures: 0,
    };
    for lead in leads {
        let (attempts, failed) = run_lead(&mut inst, lead, opts).await;
        out.failures += usize::from(failed);
        out.leads.push(LeadTranscript {
            lead: lead.id.clone(),
            phone: lead.phone.clone(),
            attempts,
        });
    }
    out.tenant_store = mem
        .dump()
        .into_iter()
        .map(|(_, ns, k, v)| {
            let v = match String::from_utf8(v) {
                Ok(s) => s,
                Err(e) => format!("hex:{}", hex::encode(e.as_bytes())),
            };
            (format!("{ns}/{k}"), v)
        })
        .collect();
    Ok(out)
}

/// Plays one lead: attempts until the flow stops asking for retries, the cap
/// is reached, or a plugin fails. Returns the attempts and whether it failed.
async fn run_lead(
    inst: &mut Instances<'_>,
    lead: &Lead,
    opts: &TranscriptOptions,
) -> (Vec<AttemptTranscript>, bool) {
    let mut attempts = Vec::new();
    for attempt in 1..=opts.max_attempts.max(1) {
        let ctx = RunContext {
            run_id: TRANSCRIPT_RUN_ID.into(),
            attempt,
            max_attempts: opts.max_attempts,
            settings: opts.settings.clone(),
        };
        let mut t = AttemptTranscript {
            attempt,
            ..Default::default()
        };
        let step = play_attempt(inst, lead, &ctx, opts, &mut t).await;
        t.flow_log = inst.flow_logs();
        t.dialer_log = inst.dialer_logs();
        let failed = t.error.is_some();
        attempts.push(t);
        match step {
            Step::Retry if attempt < opts.max_attempts => continue,
            _ => return (attempts, failed),
        }
    }
    (attempts, false)
}

enum Step {
    Done,
    Retry,
}

async fn play_attempt(
    inst: &mut Instances<'_>,
    lead: &Lead,
    ctx: &RunContext,
    opts: &TranscriptOptions,
    t: &mut AttemptTranscript,
) -> Step {
    macro_rules! ok_or_stop {
        ($e:expr) => {
            match $e {
                Ok(v) => v,
                Err(err) => {
                    t.error = Some(err.to_string());
                    return Step::Done;
                }
            }
        };
    }
    let flow = ok_or_stop!(inst.flow().await);
    let decision = ok_or_stop!(flow.plan(ctx, lead).await);
    let mut req = match decision {
        Decision::Skip(reason) => {
            t.decision = format!("skip: {reason}");
            return Step::Done;
        }
        Decision::Dial(req) => req,
    };
    t.decision = "dial".into();
    // As in production: the host's own key, and only the lead's own number.
    req.idempotency_key = format!("{TRANSCRIPT_RUN_ID}-{}-{}", lead.id, ctx.attempt);
    t.call_request = Some(req.clone());
    if req.to != lead.phone {
        t.refused = Some(format!(
            "call-request.to `{}` is not the lead's number `{}`",
            req.to, lead.phone
        ));
        return Step::Done;
    }
    let dialer = ok_or_stop!(inst.dialer().await);
    let report = match ok_or_stop!(dialer.place_call(&opts.dialer_config, &req).await) {
        Ok(Placement::Finished(r)) => r,
        Ok(Placement::Pending(id)) => {
            // The simulator's pending mode ends through `lookup`.
            match ok_or_stop!(
                dialer
                    .lookup(&opts.dialer_config, &req.idempotency_key)
                    .await
            ) {
                Ok(Some(Placement::Finished(r))) => r,
                Ok(Some(Placement::Pending(id))) => {
                    t.dial_error = Some(format!("call {id} is still in progress"));
                    return Step::Done;
                }
                Ok(None) => CallReport {
                    outcome: crate::runtime::Outcome::Unknown,
                    provider_call_id: Some(id),
                    ring_secs: 0,
                    talk_secs: 0,
                    provider_code: None,
                    detail: Some("lookup found no call".into()),
                },
                Err(e) => {
                    t.dial_error = Some(e.to_string());
                    return Step::Done;
                }
            }
        }
        Err(e) => {
            t.dial_error = Some(e.to_string());
            return Step::Done;
        }
    };
    t.report = Some(ReportView::from(&report));
    let flow = ok_or_stop!(inst.flow().await);
    let follow = ok_or_stop!(flow.on_result(ctx, lead, &report).await);
    let retry = follow.retry_after_secs.is_some();
    t.follow_up_refused = LeadUpdate::checked(follow.lead_status.as_deref(), &follow.tags).1;
    t.follow_up = Some(follow);
    if retry { Step::Retry } else { Step::Done }
}
