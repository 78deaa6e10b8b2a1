//! Hostile flow: `plan` tries to escape the sandbox and reports what it got,
//! without trapping, as `skip("fs=<ok|err> env=<none|PATH|vars:N> net=<ok|err>")`:
//!
//! - `fs`: reads `/etc/passwd` with `std::fs` (`wasi:filesystem`; a flow has
//!   no preopened directories, so `err`).
//! - `env`: reads `PATH` and lists the environment (`wasi:cli/environment`;
//!   empty for flows, so `none`; `PATH` if PATH was visible, else `vars:N`
//!   if N other variables were).
//! - `net`: opens a TCP connection to `127.0.0.1:<port>` through
//!   `wasi:sockets` directly, `port` being the run setting `port` (default 9).
//!
//! A fully sandboxed host answers `fs=err env=none net=err`. Each attempt's
//! detailed error is logged at `info`.
use dialplane_guest::prelude::*;
use wasip2::sockets::network::{IpAddressFamily, IpSocketAddress, Ipv4SocketAddress};

struct HostileSandbox;

fn try_fs() -> String {
    match std::fs::read_to_string("/etc/passwd") {
        Ok(text) => {
            log::info(format!("fs: read /etc/passwd ({} bytes)", text.len()));
            "ok".into()
        }
        Err(e) => {
            log::info(format!("fs: /etc/passwd: {e}"));
            "err".into()
        }
    }
}

fn try_env() -> String {
    let path = std::env::var("PATH");
    let vars: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
    log::info(format!(
        "env: PATH={path:?}, {} variables {vars:?}",
        vars.len()
    ));
    if path.is_ok() {
        "PATH".into()
    } else if !vars.is_empty() {
        format!("vars:{}", vars.len())
    } else {
        "none".into()
    }
}

fn try_net(port: u16) -> String {
    use wasip2::sockets::{instance_network, tcp_create_socket};
    let attempt = || -> Result<(), String> {
        let network = instance_network::instance_network();
        let socket = tcp_create_socket::create_tcp_socket(IpAddressFamily::Ipv4)
            .map_err(|e| format!("create-tcp-socket: {e:?}"))?;
        let addr = IpSocketAddress::Ipv4(Ipv4SocketAddress {
            port,
            address: (127, 0, 0, 1),
        });
        socket
            .start_connect(&network, addr)
            .map_err(|e| format!("start-connect: {e:?}"))?;
        socket.subscribe().block();
        socket
            .finish_connect()
            .map(|_streams| ())
            .map_err(|e| format!("finish-connect: {e:?}"))
    };
    match attempt() {
        Ok(()) => {
            log::info(format!("net: connected to 127.0.0.1:{port}"));
            "ok".into()
        }
        Err(e) => {
            log::info(format!("net: 127.0.0.1:{port}: {e}"));
            "err".into()
        }
    }
}

impl Flow for HostileSandbox {
    fn plan(ctx: &RunContext, _lead: &Lead) -> Decision {
        let port = ctx.setting_or("port", 9u16);
        Decision::Skip(format!(
            "fs={} env={} net={}",
            try_fs(),
            try_env(),
            try_net(port)
        ))
    }
}

export_flow!(HostileSandbox);
