// The runs list (`#/`), the progress bar and the run actions (pause,
// resume, cancel — cancel and pause ask first, in an in-page dialog).
// The list is polled only while it is on screen, every LIST_REFRESH_MS;
// live runs on it also stream their events (events.js).
"use strict";

DP.runs = (() => {
  const LIST_REFRESH_MS = 4000;
  const PAGE_LIMIT = 500;
  const MAX_PAGES = 20;
  let timer = null;

  async function fetchAllRuns() {
    const items = [];
    let cursor = null;
    for (let page = 0; page < MAX_PAGES; page++) {
      const q = "?limit=" + PAGE_LIMIT + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "");
      const body = await DP.api("/api/outbound/runs" + q);
      items.push(...body.items);
      cursor = body.next_cursor;
      if (!cursor) break;
    }
    return items;
  }

  async function load(gen) {
    const runs = await fetchAllRuns();
    if (gen !== DP.state.generation) return;
    for (const run of runs) DP.updateRun(run);
    DP.show(DP.$("runs-empty"), DP.state.runs.size === 0);
    DP.events.manage();
  }

  async function refresh(gen) {
    try {
      await load(gen);
      DP.setError(DP.$("runs-error"), "");
    } catch (e) {
      if (!DP.handleAuthError(e)) DP.setError(DP.$("runs-error"), "Cannot refresh runs: " + e.message);
    }
  }

  function stop() {
    clearInterval(timer);
    timer = null;
  }

  function onRoute(r) {
    stop();
    if (r.view !== "runs") return;
    const gen = DP.state.generation;
    refresh(gen);
    timer = setInterval(() => refresh(gen), LIST_REFRESH_MS);
  }

  /**
   * How far a run got: `done` jobs finished (or the cursor, while it
   * runs), `cancelled` jobs that will never be called (a cancelled or
   * failed run's rest), as percentages of its leads.
   */
  function progress(run) {
    const total = run.total_leads || 0;
    if (total === 0) return { done: DP.isTerminal(run) ? 100 : 0, cancelled: 0, finished: 0 };
    const jobs = run.jobs || {};
    let finished = Math.min(run.cursor_position, total);
    let cancelled = 0;
    if (run.status === "cancelled" || run.status === "failed") {
      const notCalled = (jobs.cancelled || 0) + (jobs.queued || 0);
      finished = Math.max(0, total - notCalled - (jobs.dialing || 0));
      cancelled = total - finished;
    }
    const pct = (n) => Math.min(100, Math.floor((n * 100) / total));
    return { done: pct(finished), cancelled: pct(cancelled), finished, cancelledJobs: cancelled };
  }

  /** The bar and its label; `data-percent` on `into` is the done part. */
  function renderProgress(into, run) {
    const p = progress(run);
    into.dataset.percent = String(p.done);
    into.dataset.cancelled = String(p.cancelled);
    const bar = document.createElement("div");
    bar.className = "bar";
    bar.setAttribute("role", "progressbar");
    bar.setAttribute("aria-valuemin", "0");
    bar.setAttribute("aria-valuemax", "100");
    bar.setAttribute("aria-valuenow", String(p.done));
    const fill = document.createElement("div");
    fill.className = "fill " + run.status;
    fill.style.width = p.done + "%";
    bar.appendChild(fill);
    if (p.cancelled > 0) {
      const rest = document.createElement("div");
      rest.className = "fill rest";
      rest.style.width = p.cancelled + "%";
      bar.appendChild(rest);
    }
    const label = document.createElement("span");
    label.className = "pct";
    let text = run.cursor_position + " / " + run.total_leads + " (" + p.done + "%)";
    if (run.status === "cancelled" || run.status === "failed") {
      text = p.finished + " / " + run.total_leads + " called (" + p.done + "%), " + p.cancelledJobs + " not called";
    }
    if (run.status === "paused") text += " · paused";
    label.textContent = text;
    into.replaceChildren(bar, label);
  }

  function statusText(run) {
    if (run.cancel_requested && !DP.isTerminal(run)) return run.status + " (cancelling)";
    if (run.pause_requested && run.status === "running") return run.status + " (pausing)";
    return run.status;
  }

  /** Cancel, and Pause or Resume, for a run that may still dial. */
  function actionButtons(run, errorEl) {
    const out = [];
    if (DP.isTerminal(run)) return out;
    const cancel = button("cancel", run.cancel_requested ? "Cancelling…" : "Cancel", run.id);
    cancel.disabled = !!run.cancel_requested;
    cancel.addEventListener("click", () => cancelRun(run, cancel, errorEl));
    out.push(cancel);
    if (!run.cancel_requested) {
      const resume = !!run.pause_requested;
      const b = button(resume ? "resume" : "pause", resume ? "Resume" : "Pause", run.id);
      b.addEventListener("click", () => pauseOrResume(run.id, b, resume ? "resume" : "pause", errorEl));
      out.push(b);
    }
    return out;
  }

  function button(cls, text, id) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = cls;
    b.dataset.runId = String(id);
    b.textContent = text;
    return b;
  }

  async function pauseOrResume(id, btn, action, errorEl) {
    if (action === "pause") {
      const ok = await DP.confirmAction(
        "Pause run #" + id + "? No new call starts; calls in flight end. Resume carries on where it stopped.",
        "Pause run",
      );
      if (!ok) return;
    }
    const gen = DP.state.generation;
    const idle = btn.textContent;
    btn.disabled = true;
    btn.textContent = action === "pause" ? "Pausing…" : "Resuming…";
    try {
      const run = await DP.api("/api/outbound/runs/" + id + "/" + action, { method: "POST" });
      if (gen === DP.state.generation) DP.updateRun(run);
      DP.setError(errorEl, "");
      DP.events.manage();
    } catch (e) {
      if (DP.handleAuthError(e)) return;
      DP.setError(errorEl, "Cannot " + action + " run #" + id + ": " + e.message);
      btn.disabled = false;
      btn.textContent = idle;
    }
  }

  async function cancelRun(run, btn, errorEl) {
    const mode = run.cancel_mode || "hangup";
    const ok = await DP.confirmAction(
      "Cancel run #" + run.id + "? Its remaining leads will not be called" +
        (mode === "hangup" ? " and calls in flight are hung up." : "; calls in flight finish (drain).") +
        " This cannot be undone.",
      "Cancel run",
    );
    if (!ok) return;
    const gen = DP.state.generation;
    btn.disabled = true;
    btn.textContent = "Cancelling…";
    try {
      const after = await DP.api("/api/outbound/runs/" + run.id + "/cancel", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: "{}",
      });
      if (gen === DP.state.generation) DP.updateRun(after);
      DP.setError(errorEl, "");
    } catch (e) {
      if (DP.handleAuthError(e)) return;
      DP.setError(errorEl, "Cannot cancel run #" + run.id + ": " + e.message);
      btn.disabled = false;
      btn.textContent = "Cancel";
    }
  }

  function renderRow(run) {
    const tbody = DP.$("runs").tBodies[0];
    let tr = tbody.querySelector('tr[data-run-id="' + run.id + '"]');
    if (!tr) {
      tr = document.createElement("tr");
      tr.dataset.runId = String(run.id);
      tr.addEventListener("click", (ev) => {
        if (ev.target.closest("button, a")) return;
        DP.go("#/runs/" + run.id);
      });
      // newest first
      const after = [...tbody.rows].find((r) => Number(r.dataset.runId) < run.id);
      tbody.insertBefore(tr, after || null);
    }
    tr.dataset.status = run.status;
    // The actions cell is kept while the run's state is the same: a button
    // must not vanish under a click.
    const actionsKey = JSON.stringify([run.status, run.cancel_requested, run.pause_requested]);
    let actions = tr.querySelector("td.actions");
    if (!actions || actions.dataset.key !== actionsKey) {
      actions = document.createElement("td");
      actions.className = "actions";
      actions.dataset.key = actionsKey;
      actions.append(...actionButtons(run, DP.$("runs-error")));
    }
    tr.replaceChildren();

    const idCell = DP.cell(tr, "", "run-id", "Run");
    idCell.appendChild(DP.link("#/runs/" + run.id, "#" + run.id));
    const st = DP.cell(tr, statusText(run), "status", "Status");
    st.dataset.status = run.status;
    if (run.failure) st.title = run.failure;
    const td = DP.cell(tr, "", "progress", "Progress");
    renderProgress(td, run);
    tr.dataset.percent = td.dataset.percent;
    DP.cell(tr, run.flow ? run.flow.name + " v" + run.flow.version : "—", "flow", "Flow");
    DP.cell(tr, run.dialer || "—", "dialer", "Dialer");
    DP.cell(tr, DP.fmtTime(run.created_at), "created", "Created");
    tr.appendChild(actions);
  }

  return { load, stop, onRoute, renderRow, renderProgress, statusText, actionButtons };
})();
