//! Upload validation: is this a component, and does it implement the world of
//! its kind, in one of the published WIT versions, on the real linker? Every
//! refusal names the item at fault, since the message is what a tenant sees
//! when an upload answers 400. The version is the one whose export the
//! component has ([`WitVersion::of_exports`]).

use wasmtime::Engine;
use wasmtime::component::{Component, Linker};

use super::bindings::{DialerPre, FlowPre, WitVersion};
use super::store_data::StoreData;
use super::{PluginFailure, PluginKind};

/// A compiled component's type, as names (what `plugin check` prints).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ComponentInfo {
    pub imports: Vec<String>,
    pub exports: Vec<String>,
}

impl ComponentInfo {
    pub fn of(engine: &Engine, component: &Component) -> Self {
        let ty = component.component_type();
        ComponentInfo {
            imports: ty.imports(engine).map(|(n, _)| n.to_string()).collect(),
            exports: ty.exports(engine).map(|(n, _)| n.to_string()).collect(),
        }
    }

    /// Imports that link but give this plugin nothing, each with why: the
    /// host grants no preopened directory and no network (see
    /// `StoreData::new`). (Every Rust component imports the empty
    /// `wasi:cli/environment`: not worth a warning.) `plugin check` warns about them; they are
    /// not errors, since language runtimes (JavaScript, Python) import them
    /// whether or not the plugin uses them.
    pub fn inert_imports(&self) -> Vec<(String, &'static str)> {
        const INERT: &[(&str, &str)] = &[
            (
                "wasi:filesystem/",
                "no directory is preopened for plugins: every file operation fails",
            ),
            (
                "wasi:sockets/",
                "plugins get no network: TCP, UDP and name lookup are refused (a dialer reaches its provider through wasi:http, allowed to one host:port)",
            ),
        ];
        self.imports
            .iter()
            .filter_map(|i| {
                INERT
                    .iter()
                    .find(|(prefix, _)| i.starts_with(prefix))
                    .map(|(_, why)| (i.clone(), *why))
            })
            .collect()
    }

    /// The kind whose export this component has, if exactly one matches.
    pub fn detect_kind(&self) -> Option<PluginKind> {
        let flow = WitVersion::of_exports(PluginKind::Flow, &self.exports).is_some();
        let dialer = WitVersion::of_exports(PluginKind::Dialer, &self.exports).is_some();
        match (flow, dialer) {
            (true, false) => Some(PluginKind::Flow),
            (false, true) => Some(PluginKind::Dialer),
            _ => None,
        }
    }
}

/// The current WIT world of each kind (for messages).
pub fn world_name(kind: PluginKind) -> &'static str {
    WitVersion::CURRENT.world(kind)
}

/// The export of `kind` in every version, newest first, as
/// `` `a` (or `b`) `` for messages.
pub fn export_names(kind: PluginKind) -> String {
    let mut names = WitVersion::ALL
        .iter()
        .map(|v| format!("`{}`", v.export(kind)));
    let first = names.next().unwrap_or_default();
    let older: Vec<String> = names.collect();
    if older.is_empty() {
        first
    } else {
        format!("{first} (or {})", older.join(", "))
    }
}

/// Layer/version bytes after `\0asm`: a core module is version 1, a
/// component is version 0xd layer 1.
const CORE_MODULE_VERSION: [u8; 4] = [0x01, 0x00, 0x00, 0x00];

/// Compiles `wasm` as a component, with a one-line explanation when it is not one.
pub fn compile(engine: &Engine, wasm: &[u8]) -> Result<Component, PluginFailure> {
    if wasm.len() < 8 || &wasm[..4] != b"\0asm" {
        return Err(PluginFailure::NotAComponent(
            "the file does not start with the WebAssembly magic bytes `\\0asm`".into(),
        ));
    }
    if wasm[4..8] == CORE_MODULE_VERSION {
        return Err(PluginFailure::NotAComponent(
            "this is a core WebAssembly module; build for `wasm32-wasip2` (or wrap it with `wasm-tools component new`) to get a component".into(),
        ));
    }
    Component::new(engine, wasm)
        .map_err(|e| PluginFailure::NotAComponent(format!("invalid component: {}", one_line(&e))))
}

/// The first line of an error chain, joined with ": ".
pub fn one_line(e: &wasmtime::Error) -> String {
    e.chain()
        .map(|c| c.to_string().lines().next().unwrap_or_default().to_string())
        .collect::<Vec<_>>()
        .join(": ")
}

/// A component checked against its world.
#[derive(Clone)]
pub enum Pre {
    Flow(FlowPre),
    Dialer(DialerPre),
}

impl Pre {
    /// The WIT version the component was built against.
    pub fn version(&self) -> WitVersion {
        match self {
            Pre::Flow(p) => p.version(),
            Pre::Dialer(p) => p.version(),
        }
    }
}

/// Type-checks `component` as `kind` against `linker` (imports) and the
/// world's exports.
pub fn check_world(
    engine: &Engine,
    linker: &Linker<StoreData>,
    component: &Component,
    kind: PluginKind,
) -> Result<Pre, PluginFailure> {
    let info = ComponentInfo::of(engine, component);
    let version = WitVersion::of_exports(kind, &info.exports);
    let world = version.unwrap_or(WitVersion::CURRENT).world(kind);
    let wrong = |detail: String| PluginFailure::WrongWorld {
        world: world.to_string(),
        detail,
    };
    if kind == PluginKind::Flow {
        // Name the outgoing handler first: it is what grants network access.
        let mut http: Vec<&String> = info
            .imports
            .iter()
            .filter(|i| i.starts_with("wasi:http/"))
            .collect();
        http.sort_by_key(|i| !i.starts_with("wasi:http/outgoing-handler"));
        if let Some(first) = http.first() {
            let others = http[1..]
                .iter()
                .map(|i| format!("`{i}`"))
                .collect::<Vec<_>>();
            let also = if others.is_empty() {
                String::new()
            } else {
                format!("; also imports {}", others.join(", "))
            };
            return Err(wrong(format!(
                "import `{first}` is not available to call flows (outbound HTTP is for dialer adapters only){also}"
            )));
        }
    }
    let Some(version) = version else {
        let has = if info.exports.is_empty() {
            "nothing".to_string()
        } else {
            info.exports
                .iter()
                .map(|e| format!("`{e}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(wrong(format!(
            "missing export {}; the component exports {has}",
            export_names(kind)
        )));
    };
    let export = version.export(kind);
    let pre = linker.instantiate_pre(component).map_err(|e| {
        let unmet = info
            .imports
            .iter()
            .find(|i| one_line(&e).contains(i.as_str()))
            .map(|i| format!("import `{i}` is not provided to {}s: ", kind.as_str()))
            .unwrap_or_default();
        wrong(format!("{unmet}{}", one_line(&e)))
    })?;
    match kind {
        PluginKind::Flow => FlowPre::new(version, pre).map(Pre::Flow),
        PluginKind::Dialer => DialerPre::new(version, pre).map(Pre::Dialer),
    }
    .map_err(|e| {
        wrong(format!(
            "export `{export}` does not match: {}",
            one_line(&e)
        ))
    })
}
