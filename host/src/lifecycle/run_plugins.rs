//! The two components a run uses: its pinned flow version and the dialer
//! adapter active when the run was claimed, each bound to the run's tenant.
//! Instances are pooled per run (reused across leads of the same tenant,
//! never across tenants) and dropped after any error: a trapped or
//! poisoned instance is never reused.

use std::sync::{Arc, Mutex};

use crate::runtime::{
    CallReport, CallRequest, Decision, DialError, DialerInstance, FlowInstance, FollowUp, Lead,
    Placement, PluginError, PluginHost, PluginKind, PluginMeta, Prepared, Properties, RunContext,
    Scope,
};
use crate::store::{ClaimedRun, StoreKv};

use super::worker::WorkerCtx;

pub struct RunPlugins {
    host: Arc<PluginHost>,
    flow: Arc<Prepared>,
    dialer: Arc<Prepared>,
    flow_scope: Scope,
    dialer_scope: Scope,
    /// The tenant's configuration of this dialer (write-only elsewhere).
    pub dialer_config: Properties,
    flows: Mutex<Vec<FlowInstance>>,
    dialers: Mutex<Vec<DialerInstance>>,
}

impl RunPlugins {
    /// Loads and prepares (cached by sha256) the run's flow and dialer.
    pub async fn load(ctx: &Arc<WorkerCtx>, run: &ClaimedRun) -> anyhow::Result<RunPlugins> {
        let (flow_name, flow_version, flow_bytes) = ctx.store.run_flow_plugin(run.run_id).await?;
        let dialer = ctx
            .store
            .get_active_plugin(PluginKind::Dialer, None, &run.dialer)
            .await
            .map_err(|e| anyhow::anyhow!("dialer {:?} has no active version: {e}", run.dialer))?;
        let dialer_config = ctx
            .store
            .dialer_config_for_worker(run.business_id, &run.dialer)
            .await?
            .unwrap_or_default();
        let flow = ctx.plugins.prepare(
            PluginMeta {
                kind: PluginKind::Flow,
                name: flow_name.clone(),
                version: flow_version,
            },
            &flow_bytes,
        )?;
        let dialer_prep = ctx.plugins.prepare(
            PluginMeta {
                kind: PluginKind::Dialer,
                name: run.dialer.clone(),
                version: dialer.version.version,
            },
            &dialer.bytes,
        )?;
        let kv = Arc::new(StoreKv(ctx.store.clone()));
        let log_fields = vec![("run_id".to_string(), run.run_id.to_string())];
        Ok(RunPlugins {
            host: ctx.plugins.clone(),
            flow,
            dialer: dialer_prep,
            flow_scope: Scope {
                business_id: run.business_id,
                kv_namespace: format!("flow:{flow_name}"),
                kv: kv.clone(),
                http_allow: Vec::new(),
                log_fields: log_fields.clone(),
            },
            dialer_scope: Scope {
                business_id: run.business_id,
                kv_namespace: format!("dialer:{}", run.dialer),
                kv,
                http_allow: Vec::new(),
                log_fields,
            },
            dialer_config,
            flows: Mutex::new(Vec::new()),
            dialers: Mutex::new(Vec::new()),
        })
    }

    async fn take_flow(&self) -> Result<FlowInstance, PluginError> {
        let pooled = self.flows.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match pooled {
            Some(f) => Ok(f),
            None => self.host.flow(&self.flow, self.flow_scope.clone()).await,
        }
    }

    async fn take_dialer(&self) -> Result<DialerInstance, PluginError> {
        let pooled = self.dialers.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match pooled {
            Some(d) => Ok(d),
            None => {
                self.host
                    .dialer(&self.dialer, self.dialer_scope.clone())
                    .await
            }
        }
    }

    /// Returns a healthy instance to the pool. Its log lines already went to
    /// `tracing` with tenant and run attached; drop the buffered copies.
    fn put_flow(&self, mut f: FlowInstance) {
        f.take_logs();
        self.flows.lock().unwrap_or_else(|p| p.into_inner()).push(f);
    }

    fn put_dialer(&self, mut d: DialerInstance) {
        d.take_logs();
        self.dialers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(d);
    }

    #[tracing::instrument(level = "info", name = "plugin", skip_all, fields(plugin = %self.flow.meta.name, version = self.flow.meta.version))]
    pub async fn plan(&self, ctx: &RunContext, lead: &Lead) -> Result<Decision, PluginError> {
        let mut f = self.take_flow().await?;
        let r = f.plan(ctx, lead).await;
        if r.is_ok() {
            self.put_flow(f);
        }
        r
    }

    #[tracing::instrument(level = "info", name = "plugin", skip_all, fields(plugin = %self.flow.meta.name, version = self.flow.meta.version))]
    pub async fn on_result(
        &self,
        ctx: &RunContext,
        lead: &Lead,
        report: &CallReport,
    ) -> Result<FollowUp, PluginError> {
        let mut f = self.take_flow().await?;
        let r = f.on_result(ctx, lead, report).await;
        if r.is_ok() {
            self.put_flow(f);
        }
        r
    }

    #[tracing::instrument(level = "info", name = "plugin", skip_all, fields(plugin = %self.dialer.meta.name, version = self.dialer.meta.version))]
    pub async fn place_call(
        &self,
        req: &CallRequest,
    ) -> Result<Result<Placement, DialError>, PluginError> {
        let mut d = self.take_dialer().await?;
        let r = d.place_call(&self.dialer_config, req).await;
        if r.is_ok() {
            self.put_dialer(d);
        }
        r
    }

    #[tracing::instrument(level = "info", name = "plugin", skip_all, fields(plugin = %self.dialer.meta.name, version = self.dialer.meta.version))]
    pub async fn hangup(
        &self,
        provider_call_id: &str,
    ) -> Result<Result<(), DialError>, PluginError> {
        let mut d = self.take_dialer().await?;
        let r = d.hangup(&self.dialer_config, provider_call_id).await;
        if r.is_ok() {
            self.put_dialer(d);
        }
        r
    }

    #[tracing::instrument(level = "info", name = "plugin", skip_all, fields(plugin = %self.dialer.meta.name, version = self.dialer.meta.version))]
    pub async fn lookup(
        &self,
        idempotency_key: &str,
    ) -> Result<Result<Option<CallReport>, DialError>, PluginError> {
        let mut d = self.take_dialer().await?;
        let r = d.lookup(&self.dialer_config, idempotency_key).await;
        if r.is_ok() {
            self.put_dialer(d);
        }
        r
    }
}
