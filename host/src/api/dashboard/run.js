// One run (`#/runs/N`): summary, progress, actions, counts, and one page
// of its jobs, filtered on the server (state, outcome, lead, update time;
// the filters and the page cursor live in the hash, so a reload or a
// shared link shows the same page). Counts and progress come from the
// run's event stream; the jobs page is re-fetched only when an event says
// something changed, at most every JOBS_REFRESH_MS.
"use strict";

DP.run = (() => {
  const JOBS_PAGE = 50;
  const JOBS_REFRESH_MS = 3000;
  const FILTERS = ["status", "outcome", "lead", "since", "until"];

  const view = {
    id: null,
    params: new URLSearchParams(),
    prev: [], // cursors of the pages before this one
    keepStack: false, // the next route comes from Next/Previous: keep `prev`
    lastKey: null, // what the jobs page was fetched for
    refreshTimer: null,
    lastFetch: 0,
    loading: false,
  };

  function init() {
    const $ = DP.$;
    $("filters").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const q = new URLSearchParams();
      for (const f of FILTERS) {
        const v = $("f-" + f).value.trim();
        if (v) q.set(f, v);
      }
      view.prev = [];
      DP.go(hashFor(view.id, q));
    });
    $("f-clear").addEventListener("click", () => {
      view.prev = [];
      DP.go(hashFor(view.id, new URLSearchParams()));
    });
    $("page-first").addEventListener("click", () => {
      const q = new URLSearchParams(view.params);
      q.delete("cursor");
      view.prev = [];
      DP.go(hashFor(view.id, q));
    });
    $("page-prev").addEventListener("click", () => {
      const q = new URLSearchParams(view.params);
      const before = view.prev.pop();
      if (before) q.set("cursor", before);
      else q.delete("cursor");
      view.keepStack = true;
      DP.go(hashFor(view.id, q));
    });
    $("page-next").addEventListener("click", () => {
      if (!view.next) return;
      const q = new URLSearchParams(view.params);
      view.prev.push(view.params.get("cursor") || "");
      q.set("cursor", view.next);
      view.keepStack = true;
      DP.go(hashFor(view.id, q));
    });
  }

  function hashFor(id, q) {
    const s = q.toString();
    return "#/runs/" + id + (s ? "?" + s : "");
  }

  function stop() {
    clearTimeout(view.refreshTimer);
    view.refreshTimer = null;
    view.id = null;
  }

  function onRoute(r) {
    if (r.view !== "run") {
      stop();
      return;
    }
    const $ = DP.$;
    if (view.id !== r.run) view.prev = [];
    if (!view.keepStack && !r.params.get("cursor")) view.prev = [];
    view.keepStack = false;
    view.id = r.run;
    view.params = r.params;
    view.lastKey = null;
    for (const f of FILTERS) $("f-" + f).value = r.params.get(f) || "";
    $("detail-id").textContent = "#" + r.run;
    DP.setError($("detail-error"), "");
    const known = DP.state.runs.get(r.run);
    if (known) renderRun(known);
    loadRun(r.run, DP.state.generation);
    loadJobs();
  }

  async function loadRun(id, gen) {
    try {
      const run = await DP.api("/api/outbound/runs/" + id);
      if (gen !== DP.state.generation) return;
      DP.updateRun(run);
      DP.events.manage();
    } catch (e) {
      if (DP.handleAuthError(e)) return;
      DP.setError(DP.$("detail-error"), "Cannot load run #" + id + ": " + e.message);
    }
  }

  /** A Run JSON arrived (list, action or event). */
  function onRunUpdate(run) {
    if (view.id !== run.id || DP.state.route.view !== "run") return;
    renderRun(run);
    const key = JSON.stringify([run.status, run.cursor_position, run.counts, run.jobs]);
    if (view.lastKey !== null && key !== view.lastKey) scheduleJobs(DP.isTerminal(run));
    view.lastKey = key;
  }

  /** Re-fetches the jobs page, at most every JOBS_REFRESH_MS. */
  function scheduleJobs(final) {
    if (view.refreshTimer) return;
    const wait = final ? 0 : Math.max(0, view.lastFetch + JOBS_REFRESH_MS - Date.now());
    view.refreshTimer = setTimeout(() => {
      view.refreshTimer = null;
      if (view.id !== null) loadJobs();
    }, wait);
  }

  /** Count tables; `names` rewords a label (the key stays in data-label). */
  function renderCounts(table, counts, names) {
    const tbody = table.tBodies[0];
    tbody.replaceChildren();
    const entries = Object.entries(counts || {}).sort((a, b) => b[1] - a[1]);
    for (const [label, n] of entries) {
      const tr = document.createElement("tr");
      tr.dataset.label = label;
      DP.cell(tr, (names && names[label]) || label);
      DP.cell(tr, String(n), "num");
      tbody.appendChild(tr);
    }
    if (entries.length === 0) {
      const tr = document.createElement("tr");
      DP.cell(tr, "none yet").colSpan = 2;
      tbody.appendChild(tr);
    }
  }

  function renderRun(run) {
    const $ = DP.$;
    const parts = ["Status " + DP.runs.statusText(run)];
    if (run.flow) parts.push("flow " + run.flow.name + " v" + run.flow.version);
    parts.push("dialer " + run.dialer);
    if (run.cancel_requested) parts.push("cancel requested (" + (run.cancel_mode || "hangup") + ")");
    if (run.pause_requested && run.status === "running") parts.push("pausing: calls in flight are ending");
    if (run.paused_at) parts.push("paused " + DP.fmtTime(run.paused_at));
    parts.push("created " + DP.fmtTime(run.created_at));
    if (run.last_call_placed_at) parts.push("last call placed " + DP.fmtTime(run.last_call_placed_at));
    if (run.finished_at) parts.push("finished " + DP.fmtTime(run.finished_at));
    if (run.failure) parts.push("failed: " + run.failure);
    $("detail-summary").textContent = parts.join(" · ");
    $("detail").dataset.status = run.status;
    DP.runs.renderProgress($("detail-progress"), run);
    $("detail").dataset.percent = $("detail-progress").dataset.percent;
    // Rebuilt only when they change: a button must not vanish under a click.
    const actionsKey = JSON.stringify([run.id, run.status, run.cancel_requested, run.pause_requested]);
    if ($("detail-actions").dataset.key !== actionsKey) {
      $("detail-actions").dataset.key = actionsKey;
      $("detail-actions").replaceChildren(...DP.runs.actionButtons(run, $("detail-error")));
    }
    renderCounts($("detail-outcomes"), run.counts);
    // The run's counts do not split `dialing`; the jobs filter does.
    renderCounts($("detail-jobs"), run.jobs, { dialing: "dialing (reserved or placed)" });
  }

  async function loadJobs() {
    const id = view.id;
    const q = new URLSearchParams();
    q.set("limit", String(JOBS_PAGE));
    for (const f of FILTERS.concat(["cursor"])) {
      const v = view.params.get(f);
      if (v) q.set(f, v);
    }
    const url = "/api/outbound/runs/" + id + "/jobs?" + q.toString();
    view.lastFetch = Date.now();
    try {
      const page = await DP.api(url);
      if (view.id !== id || DP.state.route.view !== "run") return;
      DP.setError(DP.$("jobs-error"), "");
      renderJobs(id, page);
    } catch (e) {
      if (DP.handleAuthError(e)) return;
      DP.setError(DP.$("jobs-error"), "Cannot list jobs: " + e.message);
      DP.$("detail-attempts").tBodies[0].replaceChildren();
    }
  }

  /** What the platform's rules said about the last attempt. */
  function verdict(a) {
    if (!a) return "—";
    if (a.decision === "allowed") return "allowed";
    const rule = a.compliance && a.compliance.rule;
    return a.decision + (rule ? " (" + rule + ")" : "");
  }

  function renderJobs(runId, page) {
    const $ = DP.$;
    const tbody = $("detail-attempts").tBodies[0];
    tbody.replaceChildren();
    for (const job of page.items) {
      const tr = document.createElement("tr");
      tr.dataset.jobId = String(job.id);
      tr.dataset.state = job.phase;
      tr.dataset.outcome = job.outcome || "";
      const last = (job.attempts || [])[job.attempts.length - 1];
      const c = (last && last.compliance) || {};
      DP.cell(tr, "", "job-id", "Job").appendChild(DP.link("#/runs/" + runId + "/jobs/" + job.id, "#" + job.id));
      DP.cell(tr, job.lead_external_id || String(job.lead_id), "", "Lead");
      const st = DP.cell(tr, job.phase, "status", "State");
      st.dataset.status = job.phase;
      DP.cell(tr, String(job.attempt), "num", "Attempt");
      DP.cell(tr, job.outcome || "—", "", "Outcome");
      DP.cell(tr, verdict(last), "verdict", "Verdict");
      DP.cell(tr, c.timezone || "—", "", "Time zone");
      DP.cell(tr, c.local_time || "—", "", "Local time");
      // The flow's note (and what of its follow-up the store refused).
      DP.cell(tr, job.note || "—", "note", "Note");
      DP.cell(tr, DP.fmtTime(job.updated_at), "", "Updated");
      tbody.appendChild(tr);
    }
    if (page.items.length === 0) {
      const tr = document.createElement("tr");
      DP.cell(tr, "no jobs match").colSpan = 10;
      tbody.appendChild(tr);
    }
    view.next = page.next_cursor;
    $("page-next").disabled = !page.next_cursor;
    $("page-prev").disabled = !view.params.get("cursor");
    $("page-first").disabled = !view.params.get("cursor");
    // A page opened by its URL does not know how many came before it.
    const where = !view.params.get("cursor")
      ? "page 1"
      : view.prev.length
        ? "page " + (view.prev.length + 1)
        : "a later page";
    $("page-info").textContent = where + " · " + page.items.length + " jobs";
    $("detail").dataset.jobsLoaded = String(Date.now());
  }

  return { init, stop, onRoute, onRunUpdate };
})();
