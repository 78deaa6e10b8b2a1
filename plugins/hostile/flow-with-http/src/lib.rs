//! Hostile flow: implements `call-flow` correctly but ALSO imports
//! `wasi:http/outgoing-handler` (its `plan` sends a GET to
//! `http://127.0.0.1:<port>/` from run setting `port`, default 9). Flows get
//! no outbound HTTP: the host must refuse this component at validation,
//! naming the `wasi:http` import. If a host ever ran it, `plan` would answer
//! `skip("http=<ok|err>")`.
use dialplane_guest::prelude::*;
use wasip2::http::{outgoing_handler, types};

struct FlowWithHttp;

fn try_get(port: u16) -> Result<u16, String> {
    let request = types::OutgoingRequest::new(types::Fields::new());
    request
        .set_scheme(Some(&types::Scheme::Http))
        .map_err(|()| "scheme")?;
    request
        .set_authority(Some(&format!("127.0.0.1:{port}")))
        .map_err(|()| "authority")?;
    let future = outgoing_handler::handle(request, None).map_err(|e| format!("{e:?}"))?;
    future.subscribe().block();
    let response = future
        .get()
        .ok_or("no response")?
        .map_err(|()| "response taken twice")?
        .map_err(|e| format!("{e:?}"))?;
    Ok(response.status())
}

impl Flow for FlowWithHttp {
    fn plan(ctx: &RunContext, _lead: &Lead) -> Decision {
        let result = try_get(ctx.setting_or("port", 9u16));
        log::info(format!("http: {result:?}"));
        Decision::Skip(format!(
            "http={}",
            if result.is_ok() { "ok" } else { "err" }
        ))
    }
}

export_flow!(FlowWithHttp);
