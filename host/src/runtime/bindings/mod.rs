//! Generated bindings, one module per WIT package version (Zed's
//! `since_v0_x` style), and the enums that pick the right one per component.
//!
//! Only this folder knows the bindgen-generated types; everything else in the
//! host speaks [`crate::runtime::types`] through [`FlowBindings`] and
//! [`DialerBindings`]. A new WIT version adds a sibling module, a variant of
//! [`WitVersion`] and an arm in each `match` below; nothing else changes.
//!
//! - [`v0_1_0`]: `dialplane:plugin@0.1.0`, pinned in `wit/v0.1.0/`.
//! - [`v0_2_0`]: `dialplane:plugin@0.2.0`, the current `wit/`.
//! - `convert`: the conversions every version shares, as a macro.

mod convert;
pub mod v0_1_0;
pub mod v0_2_0;

use wasmtime::Store;
use wasmtime::component::InstancePre;

use super::store_data::StoreData;
use super::types::*;

/// A published version of the plugin contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WitVersion {
    V0_1_0,
    V0_2_0,
}

impl WitVersion {
    /// Newest first: what messages name and what kind detection tries first.
    pub const ALL: [WitVersion; 2] = [WitVersion::V0_2_0, WitVersion::V0_1_0];
    /// The version new plugins are built against.
    pub const CURRENT: WitVersion = WitVersion::V0_2_0;

    /// `0.1.0`, `0.2.0`.
    pub fn as_str(self) -> &'static str {
        match self {
            WitVersion::V0_1_0 => "0.1.0",
            WitVersion::V0_2_0 => "0.2.0",
        }
    }

    /// The interface a component of `kind` exports in this version.
    pub fn export(self, kind: PluginKind) -> &'static str {
        match (self, kind) {
            (WitVersion::V0_1_0, PluginKind::Flow) => v0_1_0::FLOW_EXPORT,
            (WitVersion::V0_1_0, PluginKind::Dialer) => v0_1_0::DIALER_EXPORT,
            (WitVersion::V0_2_0, PluginKind::Flow) => v0_2_0::FLOW_EXPORT,
            (WitVersion::V0_2_0, PluginKind::Dialer) => v0_2_0::DIALER_EXPORT,
        }
    }

    /// The world of `kind` in this version.
    pub fn world(self, kind: PluginKind) -> &'static str {
        match (self, kind) {
            (WitVersion::V0_1_0, PluginKind::Flow) => v0_1_0::FLOW_WORLD,
            (WitVersion::V0_1_0, PluginKind::Dialer) => v0_1_0::DIALER_WORLD,
            (WitVersion::V0_2_0, PluginKind::Flow) => v0_2_0::FLOW_WORLD,
            (WitVersion::V0_2_0, PluginKind::Dialer) => v0_2_0::DIALER_WORLD,
        }
    }

    /// The version whose `kind` export is among `exports`, newest first.
    pub fn of_exports(kind: PluginKind, exports: &[String]) -> Option<WitVersion> {
        WitVersion::ALL
            .into_iter()
            .find(|v| exports.iter().any(|e| e == v.export(kind)))
    }
}

/// A call flow checked against the world of its version.
#[derive(Clone)]
pub enum FlowPre {
    V0_1_0(v0_1_0::CallFlowPre<StoreData>),
    V0_2_0(v0_2_0::CallFlowPre<StoreData>),
}

impl FlowPre {
    /// Checks the exports of `pre` against `version`'s `call-flow` world.
    pub fn new(version: WitVersion, pre: InstancePre<StoreData>) -> wasmtime::Result<Self> {
        Ok(match version {
            WitVersion::V0_1_0 => FlowPre::V0_1_0(v0_1_0::CallFlowPre::new(pre)?),
            WitVersion::V0_2_0 => FlowPre::V0_2_0(v0_2_0::CallFlowPre::new(pre)?),
        })
    }

    pub fn version(&self) -> WitVersion {
        match self {
            FlowPre::V0_1_0(_) => WitVersion::V0_1_0,
            FlowPre::V0_2_0(_) => WitVersion::V0_2_0,
        }
    }

    pub async fn instantiate(&self, s: &mut Store<StoreData>) -> wasmtime::Result<FlowBindings> {
        Ok(match self {
            FlowPre::V0_1_0(p) => FlowBindings::V0_1_0(p.instantiate_async(s).await?),
            FlowPre::V0_2_0(p) => FlowBindings::V0_2_0(p.instantiate_async(s).await?),
        })
    }
}

/// A dialer adapter checked against the world of its version.
#[derive(Clone)]
pub enum DialerPre {
    V0_1_0(v0_1_0::DialerAdapterPre<StoreData>),
    V0_2_0(v0_2_0::DialerAdapterPre<StoreData>),
}

impl DialerPre {
    /// Checks the exports of `pre` against `version`'s `dialer-adapter` world.
    pub fn new(version: WitVersion, pre: InstancePre<StoreData>) -> wasmtime::Result<Self> {
        Ok(match version {
            WitVersion::V0_1_0 => DialerPre::V0_1_0(v0_1_0::DialerAdapterPre::new(pre)?),
            WitVersion::V0_2_0 => DialerPre::V0_2_0(v0_2_0::DialerAdapterPre::new(pre)?),
        })
    }

    pub fn version(&self) -> WitVersion {
        match self {
            DialerPre::V0_1_0(_) => WitVersion::V0_1_0,
            DialerPre::V0_2_0(_) => WitVersion::V0_2_0,
        }
    }

    pub async fn instantiate(&self, s: &mut Store<StoreData>) -> wasmtime::Result<DialerBindings> {
        Ok(match self {
            DialerPre::V0_1_0(p) => DialerBindings::V0_1_0(p.instantiate_async(s).await?),
            DialerPre::V0_2_0(p) => DialerBindings::V0_2_0(p.instantiate_async(s).await?),
        })
    }
}

/// An instantiated call flow of either version; calls speak host types.
pub enum FlowBindings {
    V0_1_0(v0_1_0::CallFlow),
    V0_2_0(v0_2_0::CallFlow),
}

impl FlowBindings {
    pub async fn plan(
        &self,
        s: &mut Store<StoreData>,
        ctx: &RunContext,
        lead: &Lead,
    ) -> wasmtime::Result<Decision> {
        match self {
            FlowBindings::V0_1_0(b) => v0_1_0::plan(b, s, ctx, lead).await,
            FlowBindings::V0_2_0(b) => v0_2_0::plan(b, s, ctx, lead).await,
        }
    }

    pub async fn on_result(
        &self,
        s: &mut Store<StoreData>,
        ctx: &RunContext,
        lead: &Lead,
        report: &CallReport,
    ) -> wasmtime::Result<FollowUp> {
        match self {
            FlowBindings::V0_1_0(b) => v0_1_0::on_result(b, s, ctx, lead, report).await,
            FlowBindings::V0_2_0(b) => v0_2_0::on_result(b, s, ctx, lead, report).await,
        }
    }
}

/// An instantiated dialer adapter of either version; calls speak host types.
pub enum DialerBindings {
    V0_1_0(v0_1_0::DialerAdapter),
    V0_2_0(v0_2_0::DialerAdapter),
}

impl DialerBindings {
    pub async fn place_call(
        &self,
        s: &mut Store<StoreData>,
        config: &Properties,
        req: &CallRequest,
    ) -> wasmtime::Result<Result<Placement, DialError>> {
        match self {
            DialerBindings::V0_1_0(b) => v0_1_0::place_call(b, s, config, req).await,
            DialerBindings::V0_2_0(b) => v0_2_0::place_call(b, s, config, req).await,
        }
    }

    pub async fn hangup(
        &self,
        s: &mut Store<StoreData>,
        config: &Properties,
        provider_call_id: &str,
    ) -> wasmtime::Result<Result<(), DialError>> {
        match self {
            DialerBindings::V0_1_0(b) => v0_1_0::hangup(b, s, config, provider_call_id).await,
            DialerBindings::V0_2_0(b) => v0_2_0::hangup(b, s, config, provider_call_id).await,
        }
    }

    pub async fn lookup(
        &self,
        s: &mut Store<StoreData>,
        config: &Properties,
        idempotency_key: &str,
    ) -> wasmtime::Result<Result<Option<Placement>, DialError>> {
        match self {
            DialerBindings::V0_1_0(b) => v0_1_0::lookup(b, s, config, idempotency_key).await,
            DialerBindings::V0_2_0(b) => v0_2_0::lookup(b, s, config, idempotency_key).await,
        }
    }

    /// 0.1.0 has no `validate-config`: every configuration is accepted.
    pub async fn validate_config(
        &self,
        s: &mut Store<StoreData>,
        config: &Properties,
    ) -> wasmtime::Result<Result<(), ConfigProblem>> {
        match self {
            DialerBindings::V0_1_0(_) => Ok(Ok(())),
            DialerBindings::V0_2_0(b) => v0_2_0::validate_config(b, s, config).await,
        }
    }

    pub async fn parse_callback(
        &self,
        s: &mut Store<StoreData>,
        config: &Properties,
        req: &CallbackRequest,
    ) -> wasmtime::Result<Result<Option<CallEvent>, CallbackError>> {
        match self {
            DialerBindings::V0_1_0(b) => v0_1_0::parse_callback(b, s, config, req).await,
            DialerBindings::V0_2_0(b) => v0_2_0::parse_callback(b, s, config, req).await,
        }
    }
}
