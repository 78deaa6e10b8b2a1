// Live run updates: streams `GET /api/outbound/runs/{id}/events` through
// fetch() (EventSource cannot send the Authorization header, and the key
// must not end up in URLs or access logs). `state`/`progress` events carry
// the run JSON, merged with DP.updateRun; nothing else is re-fetched here.
//
// Browsers allow ~6 HTTP/1.1 connections per host and each stream holds
// one, so at most MAX_STREAMS runs stream at once: the run on screen first,
// then (on the runs list) the newest live ones.
"use strict";

DP.events = (() => {
  const MAX_STREAMS = 4;
  const STREAM_RETRY_MS = 2000;
  const streams = new Map(); // id -> AbortController

  function wanted() {
    const { state, isTerminal } = DP;
    const out = new Set();
    const r = state.route;
    if (r.view === "run" || r.view === "job") {
      const run = state.runs.get(r.run);
      if (!run || !isTerminal(run)) out.add(r.run);
      return out;
    }
    const live = [...state.runs.values()].filter((x) => !isTerminal(x)).sort((a, b) => b.id - a.id);
    for (const x of live) {
      if (out.size >= MAX_STREAMS) break;
      out.add(x.id);
    }
    return out;
  }

  /** Opens the streams the view wants and closes the others. */
  function manage() {
    if (!DP.state.key) return;
    const want = wanted();
    for (const [id, ctl] of streams) {
      if (!want.has(id)) {
        ctl.abort();
        streams.delete(id);
      }
    }
    for (const id of want) {
      if (!streams.has(id)) watch(id, DP.state.generation);
    }
  }

  function stopAll() {
    for (const c of streams.values()) c.abort();
    streams.clear();
  }

  async function watch(id, gen) {
    const ctl = new AbortController();
    streams.set(id, ctl);
    try {
      const res = await fetch("/api/outbound/runs/" + id + "/events", {
        headers: { Accept: "text/event-stream", Authorization: "Bearer " + DP.state.key },
        signal: ctl.signal,
        cache: "no-store",
      });
      if (res.status === 401) throw new DP.HttpError(401, "unauthorized");
      if (!res.ok || !res.body) throw new DP.HttpError(res.status, "events: " + res.status);
      await readEvents(res.body, (name, data) => {
        if (gen !== DP.state.generation) return;
        if (name !== "progress" && name !== "state") return;
        try {
          DP.updateRun(JSON.parse(data));
        } catch (_) {
          // a malformed event is ignored; the next one (or a reload) corrects it
        }
      });
    } catch (e) {
      if (ctl.signal.aborted || gen !== DP.state.generation) return;
      if (DP.handleAuthError(e)) return;
    } finally {
      if (streams.get(id) === ctl) streams.delete(id);
    }
    // Ended without a terminal state (server restart, proxy timeout): retry.
    if (gen === DP.state.generation && !ctl.signal.aborted) {
      const run = DP.state.runs.get(id);
      if (run && !DP.isTerminal(run)) setTimeout(manage, STREAM_RETRY_MS);
    }
  }

  /** Minimal text/event-stream parser over a fetch body. */
  async function readEvents(body, onEvent) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
      let sep;
      while ((sep = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, sep);
        buf = buf.slice(sep + 2);
        let name = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (line === "" || line.startsWith(":")) continue;
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          let val = colon < 0 ? "" : line.slice(colon + 1);
          if (val.startsWith(" ")) val = val.slice(1);
          if (field === "event") name = val;
          else if (field === "data") data.push(val);
        }
        if (data.length) onEvent(name, data.join("\n"));
      }
    }
  }

  return { manage, stopAll };
})();
