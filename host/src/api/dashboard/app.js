// dialplane dashboard: one page, no build step, no third-party code.
//
// - The API key lives in sessionStorage (this tab only) and travels in the
//   Authorization header. Live progress uses fetch() streaming of the
//   server-sent events endpoint rather than EventSource, because EventSource
//   cannot send headers and the key must not end up in URLs or access logs.
// - Browsers allow ~6 HTTP/1.1 connections per host, and each live stream
//   holds one, so at most MAX_STREAMS runs stream at once; the others are
//   refreshed by polling the run list.
// - Everything from the server is written with textContent, never innerHTML.
"use strict";

(() => {
  const KEY_STORAGE = "dialplane.apiKey";
  const TERMINAL = new Set(["completed", "cancelled", "failed"]);
  const MAX_STREAMS = 4;
  const LIST_REFRESH_MS = 2000;
  const DETAIL_REFRESH_MS = 1500;
  const STREAM_RETRY_MS = 2000;
  const PAGE_LIMIT = 500;
  const MAX_PAGES = 20;
  const LATEST_ATTEMPTS = 25;

  const state = {
    key: null,
    runs: new Map(), // id -> Run JSON
    streams: new Map(), // id -> AbortController
    selected: null,
    listTimer: null,
    detailTimer: null,
    detailPending: false,
    generation: 0, // bumps on login/logout so stale callbacks stop
  };

  const $ = (id) => document.getElementById(id);

  class HttpError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(path, options = {}) {
    const headers = Object.assign(
      { Accept: "application/json", Authorization: "Bearer " + state.key },
      options.headers || {},
    );
    const res = await fetch(path, Object.assign({}, options, { headers }));
    if (!res.ok) {
      let message = res.status + " " + res.statusText;
      try {
        const body = await res.json();
        if (body && body.error) {
          message = body.error.message || body.error.code || message;
        }
      } catch (_) {
        // not JSON: keep the status line
      }
      throw new HttpError(res.status, message);
    }
    if (res.status === 204) return null;
    return res.json();
  }

  function show(el, visible) {
    el.hidden = !visible;
  }

  function setError(el, message) {
    el.textContent = message || "";
    show(el, !!message);
  }

  function isTerminal(run) {
    return TERMINAL.has(run.status);
  }

  function percent(run) {
    if (run.total_leads > 0) {
      return Math.min(100, Math.floor((run.cursor_position * 100) / run.total_leads));
    }
    return isTerminal(run) ? 100 : 0;
  }

  function fmtTime(rfc3339) {
    if (!rfc3339) return "—";
    const d = new Date(rfc3339);
    return isNaN(d.getTime()) ? rfc3339 : d.toLocaleString();
  }

  function cell(tr, text, cls) {
    const td = document.createElement("td");
    if (cls) td.className = cls;
    td.textContent = text;
    tr.appendChild(td);
    return td;
  }

  // ---------------------------------------------------------------- login

  async function login(key, quiet) {
    state.key = key;
    const gen = ++state.generation;
    try {
      await loadRuns(gen);
    } catch (e) {
      state.key = null;
      if (!quiet) {
        setError(
          $("login-error"),
          e.status === 401 ? "This API key was not accepted (401)." : "Cannot log in: " + e.message,
        );
      }
      sessionStorage.removeItem(KEY_STORAGE);
      return;
    }
    sessionStorage.setItem(KEY_STORAGE, key);
    setError($("login-error"), "");
    show($("login"), false);
    show($("runs-panel"), true);
    show($("logout"), true);
    const who = $("whoami");
    who.textContent = "key " + key.slice(0, 8) + "…";
    show(who, true);
    document.body.dataset.loggedIn = "true";
    state.listTimer = setInterval(() => refreshList(gen), LIST_REFRESH_MS);
  }

  function logout(message) {
    state.generation++;
    for (const c of state.streams.values()) c.abort();
    state.streams.clear();
    clearInterval(state.listTimer);
    clearTimeout(state.detailTimer);
    state.key = null;
    state.runs.clear();
    state.selected = null;
    sessionStorage.removeItem(KEY_STORAGE);
    $("runs").tBodies[0].replaceChildren();
    show($("runs-panel"), false);
    show($("detail"), false);
    show($("logout"), false);
    show($("whoami"), false);
    show($("login"), true);
    delete document.body.dataset.loggedIn;
    setError($("login-error"), message || "");
  }

  function handleAuthError(e) {
    if (e && e.status === 401) {
      logout("Your API key is no longer accepted (401). Log in again.");
      return true;
    }
    return false;
  }

  // ---------------------------------------------------------------- runs list

  async function fetchAllRuns() {
    const items = [];
    let cursor = null;
    for (let page = 0; page < MAX_PAGES; page++) {
      const q = "?limit=" + PAGE_LIMIT + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "");
      const body = await api("/api/outbound/runs" + q);
      items.push(...body.items);
      cursor = body.next_cursor;
      if (!cursor) break;
    }
    return items;
  }

  async function loadRuns(gen) {
    const runs = await fetchAllRuns();
    if (gen !== state.generation) return;
    for (const run of runs) updateRun(run);
    show($("runs-empty"), state.runs.size === 0);
    manageStreams(gen);
  }

  async function refreshList(gen) {
    try {
      await loadRuns(gen);
      setError($("runs-error"), "");
    } catch (e) {
      if (!handleAuthError(e)) setError($("runs-error"), "Cannot refresh runs: " + e.message);
    }
  }

  /** Merges a Run JSON into the table (creating the row if needed). */
  function updateRun(run) {
    const old = state.runs.get(run.id);
    // A late list response must not roll back a newer streamed state.
    if (old && isTerminal(old) && !isTerminal(run)) return;
    if (old && !isTerminal(run) && old.cursor_position > run.cursor_position) return;
    state.runs.set(run.id, run);
    renderRow(run);
    if (state.selected === run.id) scheduleDetail();
  }

  function renderRow(run) {
    const tbody = $("runs").tBodies[0];
    let tr = tbody.querySelector('tr[data-run-id="' + run.id + '"]');
    if (!tr) {
      tr = document.createElement("tr");
      tr.dataset.runId = String(run.id);
      tr.addEventListener("click", (ev) => {
        if (ev.target.closest("button")) return;
        selectRun(run.id);
      });
      // newest first
      const after = [...tbody.rows].find((r) => Number(r.dataset.runId) < run.id);
      tbody.insertBefore(tr, after || null);
    }
    const pct = percent(run);
    tr.dataset.status = run.status;
    tr.dataset.percent = String(pct);
    tr.classList.toggle("selected", state.selected === run.id);
    tr.replaceChildren();

    cell(tr, "#" + run.id, "run-id");
    let note = "";
    if (run.cancel_requested && !isTerminal(run)) note = " (cancelling)";
    else if (run.pause_requested && run.status === "running") note = " (pausing)";
    const st = cell(tr, run.status + note, "status");
    st.dataset.status = run.status;
    if (run.failure) st.title = run.failure;

    const td = document.createElement("td");
    td.className = "progress";
    const bar = document.createElement("div");
    bar.className = "bar";
    bar.setAttribute("role", "progressbar");
    bar.setAttribute("aria-valuemin", "0");
    bar.setAttribute("aria-valuemax", "100");
    bar.setAttribute("aria-valuenow", String(pct));
    const fill = document.createElement("div");
    fill.className = "fill " + run.status;
    fill.style.width = pct + "%";
    bar.appendChild(fill);
    const label = document.createElement("span");
    label.className = "pct";
    label.textContent = run.cursor_position + " / " + run.total_leads + " (" + pct + "%)";
    td.append(bar, label);
    tr.appendChild(td);

    const flow = run.flow ? run.flow.name + " v" + run.flow.version : "—";
    cell(tr, flow, "flow");
    cell(tr, run.dialer || "—", "dialer");
    cell(tr, fmtTime(run.created_at), "created");

    const actions = document.createElement("td");
    actions.className = "actions";
    if (!isTerminal(run)) {
      const btn = document.createElement("button");
      btn.type = "button";
      btn.className = "cancel";
      btn.dataset.runId = String(run.id);
      btn.textContent = run.cancel_requested ? "Cancelling…" : "Cancel";
      btn.disabled = !!run.cancel_requested;
      btn.addEventListener("click", () => cancelRun(run.id, btn));
      actions.appendChild(btn);
      if (!run.cancel_requested) actions.appendChild(pauseButton(run));
    }
    tr.appendChild(actions);
  }

  /** Pause for a run that may dial, Resume for a paused (or pausing) one. */
  function pauseButton(run) {
    const resume = !!run.pause_requested;
    const btn = document.createElement("button");
    btn.type = "button";
    btn.className = resume ? "resume" : "pause";
    btn.dataset.runId = String(run.id);
    btn.textContent = resume ? "Resume" : "Pause";
    btn.addEventListener("click", () => pauseOrResume(run.id, btn, resume ? "resume" : "pause"));
    return btn;
  }

  async function pauseOrResume(id, btn, action) {
    const gen = state.generation;
    const idle = btn.textContent;
    btn.disabled = true;
    btn.textContent = action === "pause" ? "Pausing…" : "Resuming…";
    try {
      const run = await api("/api/outbound/runs/" + id + "/" + action, { method: "POST" });
      if (gen === state.generation) updateRun(run);
      setError($("runs-error"), "");
    } catch (e) {
      if (handleAuthError(e)) return;
      setError($("runs-error"), "Cannot " + action + " run #" + id + ": " + e.message);
      btn.disabled = false;
      btn.textContent = idle;
    }
  }

  async function cancelRun(id, btn) {
    const gen = state.generation;
    btn.disabled = true;
    btn.textContent = "Cancelling…";
    try {
      const run = await api("/api/outbound/runs/" + id + "/cancel", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: "{}",
      });
      if (gen === state.generation) updateRun(run);
      setError($("runs-error"), "");
    } catch (e) {
      if (handleAuthError(e)) return;
      setError($("runs-error"), "Cannot cancel run #" + id + ": " + e.message);
      btn.disabled = false;
      btn.textContent = "Cancel";
    }
  }

  // ---------------------------------------------------------------- live events

  /** Streams the newest non-terminal runs (the selected one first). */
  function manageStreams(gen) {
    const live = [...state.runs.values()].filter((r) => !isTerminal(r)).sort((a, b) => b.id - a.id);
    const wanted = new Set();
    if (state.selected !== null && live.some((r) => r.id === state.selected)) wanted.add(state.selected);
    for (const r of live) {
      if (wanted.size >= MAX_STREAMS) break;
      wanted.add(r.id);
    }
    for (const [id, ctl] of state.streams) {
      if (!wanted.has(id)) {
        ctl.abort();
        state.streams.delete(id);
      }
    }
    for (const id of wanted) {
      if (!state.streams.has(id)) watch(id, gen);
    }
  }

  async function watch(id, gen) {
    const ctl = new AbortController();
    state.streams.set(id, ctl);
    try {
      const res = await fetch("/api/outbound/runs/" + id + "/events", {
        headers: { Accept: "text/event-stream", Authorization: "Bearer " + state.key },
        signal: ctl.signal,
        cache: "no-store",
      });
      if (res.status === 401) throw new HttpError(401, "unauthorized");
      if (!res.ok || !res.body) throw new HttpError(res.status, "events: " + res.status);
      await readEvents(res.body, (name, data) => {
        if (gen !== state.generation) return;
        if (name !== "progress" && name !== "state") return;
        try {
          updateRun(JSON.parse(data));
        } catch (_) {
          // a malformed event is ignored; the list refresh corrects the row
        }
      });
    } catch (e) {
      if (ctl.signal.aborted || gen !== state.generation) return;
      if (handleAuthError(e)) return;
    } finally {
      if (state.streams.get(id) === ctl) state.streams.delete(id);
    }
    // Ended without a terminal state (server restart, proxy timeout): retry.
    if (gen === state.generation && !ctl.signal.aborted) {
      const run = state.runs.get(id);
      if (run && !isTerminal(run)) setTimeout(() => manageStreams(gen), STREAM_RETRY_MS);
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

  // ---------------------------------------------------------------- detail

  function selectRun(id) {
    state.selected = id;
    for (const tr of $("runs").tBodies[0].rows) {
      tr.classList.toggle("selected", Number(tr.dataset.runId) === id);
    }
    show($("detail"), true);
    $("detail-id").textContent = "#" + id;
    manageStreams(state.generation);
    loadDetail(id, state.generation);
  }

  function scheduleDetail() {
    if (state.detailPending) return;
    state.detailPending = true;
    const gen = state.generation;
    state.detailTimer = setTimeout(() => {
      state.detailPending = false;
      if (state.selected !== null) loadDetail(state.selected, gen);
    }, DETAIL_REFRESH_MS);
  }

  async function loadDetail(id, gen) {
    try {
      const run = await api("/api/outbound/runs/" + id);
      const jobs = [];
      let cursor = null;
      for (let page = 0; page < MAX_PAGES; page++) {
        const q = "?limit=" + PAGE_LIMIT + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "");
        const body = await api("/api/outbound/runs/" + id + "/jobs" + q);
        jobs.push(...body.items);
        cursor = body.next_cursor;
        if (!cursor) break;
      }
      if (gen !== state.generation || state.selected !== id) return;
      updateRun(run);
      renderDetail(run, jobs);
    } catch (e) {
      if (handleAuthError(e)) return;
      $("detail-summary").textContent = "Cannot load run #" + id + ": " + e.message;
    }
  }

  function renderCounts(table, counts) {
    const tbody = table.tBodies[0];
    tbody.replaceChildren();
    const entries = Object.entries(counts || {}).sort((a, b) => b[1] - a[1]);
    for (const [label, n] of entries) {
      const tr = document.createElement("tr");
      tr.dataset.label = label;
      cell(tr, label);
      cell(tr, String(n), "num");
      tbody.appendChild(tr);
    }
    if (entries.length === 0) {
      const tr = document.createElement("tr");
      cell(tr, "none yet").colSpan = 2;
      tbody.appendChild(tr);
    }
  }

  function renderDetail(run, jobs) {
    const parts = [
      "Status " + run.status,
      run.cursor_position + " of " + run.total_leads + " leads finished",
    ];
    if (run.cancel_requested) parts.push("cancel requested (" + (run.cancel_mode || "hangup") + ")");
    if (run.pause_requested && run.status === "running") parts.push("pausing: calls in flight are ending");
    if (run.paused_at) parts.push("paused " + fmtTime(run.paused_at));
    if (run.last_call_placed_at) parts.push("last call placed " + fmtTime(run.last_call_placed_at));
    if (run.finished_at) parts.push("finished " + fmtTime(run.finished_at));
    if (run.failure) parts.push("failed: " + run.failure);
    $("detail-summary").textContent = parts.join(" · ");
    $("detail").dataset.status = run.status;
    renderCounts($("detail-outcomes"), run.counts);
    renderCounts($("detail-jobs"), run.jobs);

    const attempts = [];
    for (const job of jobs) {
      for (const a of job.attempts || []) attempts.push({ job, a });
    }
    attempts.sort((x, y) => {
      const tx = x.a.placed_at || "";
      const ty = y.a.placed_at || "";
      if (tx !== ty) return tx < ty ? 1 : -1;
      return y.job.id - x.job.id || y.a.attempt - x.a.attempt;
    });
    const tbody = $("detail-attempts").tBodies[0];
    tbody.replaceChildren();
    for (const { job, a } of attempts.slice(0, LATEST_ATTEMPTS)) {
      const tr = document.createElement("tr");
      // The compliance record (rule, time zone, local time, DNC check).
      const d =
        a.compliance && typeof a.compliance === "object"
          ? a.compliance
          : a.decision && typeof a.decision === "object"
            ? a.decision
            : {};
      cell(tr, "#" + job.id);
      cell(tr, job.lead_external_id || String(job.lead_id));
      cell(tr, String(a.attempt), "num");
      cell(tr, fmtTime(a.placed_at));
      cell(tr, a.outcome || (typeof a.decision === "string" ? a.decision : job.state));
      cell(tr, d.rule || "—");
      cell(tr, d.timezone || "—");
      cell(tr, d.local_time || "—");
      // The flow's note (and what of its follow-up the store refused).
      cell(tr, a.note || "—", "note");
      tbody.appendChild(tr);
    }
    if (attempts.length === 0) {
      const tr = document.createElement("tr");
      cell(tr, "no attempts yet").colSpan = 9;
      tbody.appendChild(tr);
    }
  }

  // ---------------------------------------------------------------- start

  document.addEventListener("DOMContentLoaded", () => {
    $("login-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const key = $("api-key").value.trim();
      if (key) {
        $("api-key").value = "";
        login(key, false);
      }
    });
    $("logout").addEventListener("click", () => logout(""));
    const saved = sessionStorage.getItem(KEY_STORAGE);
    if (saved) login(saved, true);
  });
})();
