//! Bindings for `dialplane:plugin@0.1.0` (pinned in `wit/v0.1.0/`) and the
//! calls of its exports in host types.
//!
//! The call-flow world is generated first; the dialer-adapter world reuses its
//! shared interfaces (`types`, `log`, `tenant-store`) through `with`, so each
//! host import is implemented once for both worlds.
//!
//! 0.1.0 dialers have no `validate-config` (every configuration is accepted)
//! and their `parse-callback` sees no URL and answers a plain message, which
//! the host reads as `malformed`.

use wasmtime::Store;

use super::super::store_data::StoreData;
use crate::runtime::types as host;

/// The `call-flow` world (tenant call flows).
pub mod call_flow {
    wasmtime::component::bindgen!({
        path: "../wit/v0.1.0",
        world: "call-flow",
        imports: { default: async | trappable },
        exports: { default: async },
    });
}

/// The `dialer-adapter` world (platform dialer adapters).
pub mod dialer_adapter {
    wasmtime::component::bindgen!({
        path: "../wit/v0.1.0",
        world: "dialer-adapter",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "dialplane:plugin/types": super::call_flow::dialplane::plugin::types,
            "dialplane:plugin/log": super::call_flow::dialplane::plugin::log,
            "dialplane:plugin/tenant-store": super::call_flow::dialplane::plugin::tenant_store,
        },
    });
}

pub use call_flow::dialplane::plugin::log as wit_log;
pub use call_flow::dialplane::plugin::tenant_store as wit_tenant_store;
use call_flow::dialplane::plugin::types as wit;
use call_flow::exports::dialplane::plugin::flow as wit_flow;
use dialer_adapter::exports::dialplane::plugin::dialer as wit_dialer;

pub use call_flow::{CallFlow, CallFlowPre};
pub use dialer_adapter::{DialerAdapter, DialerAdapterPre};

/// Name of the interface a call flow exports.
pub const FLOW_EXPORT: &str = "dialplane:plugin/flow@0.1.0";
/// Name of the interface a dialer adapter exports.
pub const DIALER_EXPORT: &str = "dialplane:plugin/dialer@0.1.0";
/// The worlds (for messages).
pub const FLOW_WORLD: &str = "dialplane:plugin/call-flow@0.1.0";
pub const DIALER_WORLD: &str = "dialplane:plugin/dialer-adapter@0.1.0";

super::convert::shared_conversions!();

// ---- export calls ------------------------------------------------------

pub async fn plan(
    b: &CallFlow,
    s: &mut Store<StoreData>,
    ctx: &host::RunContext,
    l: &host::Lead,
) -> wasmtime::Result<host::Decision> {
    let d = b
        .dialplane_plugin_flow()
        .call_plan(s, &run_context(ctx), &lead(l))
        .await?;
    Ok(decision_from(d))
}

pub async fn on_result(
    b: &CallFlow,
    s: &mut Store<StoreData>,
    ctx: &host::RunContext,
    l: &host::Lead,
    report: &host::CallReport,
) -> wasmtime::Result<host::FollowUp> {
    let f = b
        .dialplane_plugin_flow()
        .call_on_result(s, &run_context(ctx), &lead(l), &call_report(report))
        .await?;
    Ok(follow_up_from(f))
}

pub async fn place_call(
    b: &DialerAdapter,
    s: &mut Store<StoreData>,
    config: &host::Properties,
    req: &host::CallRequest,
) -> wasmtime::Result<Result<host::Placement, host::DialError>> {
    let r = b
        .dialplane_plugin_dialer()
        .call_place_call(s, config, &call_request(req))
        .await?;
    Ok(r.map(placement_from).map_err(dial_error_from))
}

pub async fn hangup(
    b: &DialerAdapter,
    s: &mut Store<StoreData>,
    config: &host::Properties,
    provider_call_id: &str,
) -> wasmtime::Result<Result<(), host::DialError>> {
    let r = b
        .dialplane_plugin_dialer()
        .call_hangup(s, config, provider_call_id)
        .await?;
    Ok(r.map_err(dial_error_from))
}

/// 0.1.0 knows only "never placed" and "ended with this report".
pub async fn lookup(
    b: &DialerAdapter,
    s: &mut Store<StoreData>,
    config: &host::Properties,
    idempotency_key: &str,
) -> wasmtime::Result<Result<Option<host::Placement>, host::DialError>> {
    let r = b
        .dialplane_plugin_dialer()
        .call_lookup(s, config, idempotency_key)
        .await?;
    Ok(
        r.map(|o| o.map(|report| host::Placement::Finished(call_report_from(report))))
            .map_err(dial_error_from),
    )
}

/// 0.1.0 sees headers and body only; its error is a malformed request.
pub async fn parse_callback(
    b: &DialerAdapter,
    s: &mut Store<StoreData>,
    config: &host::Properties,
    req: &host::CallbackRequest,
) -> wasmtime::Result<Result<Option<host::CallEvent>, host::CallbackError>> {
    let r = b
        .dialplane_plugin_dialer()
        .call_parse_callback(s, config, &req.headers, &req.body)
        .await?;
    Ok(r.map(|o| o.map(call_event_from))
        .map_err(host::CallbackError::Malformed))
}
