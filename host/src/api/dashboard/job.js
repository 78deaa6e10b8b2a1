// One job (`#/runs/N/jobs/M`): its state (a dialing job says `reserved`
// until the provider has its call, then `placed`), its lead as it is now
// (status and tags the flow set), and its attempt timeline: decided, placed
// and ended times, the compliance verdict (a rule only when it decided
// something other than allow), outcome and the flow's note. Re-read when
// the run's events say something changed, at most every REFRESH_MS.
"use strict";

DP.job = (() => {
  const REFRESH_MS = 3000;
  let current = null; // {run, job}
  let last = 0;
  let timer = null;

  function onRoute(r) {
    clearTimeout(timer);
    timer = null;
    if (r.view !== "job") {
      current = null;
      return;
    }
    current = { run: r.run, job: r.job };
    DP.$("job-id").textContent = "#" + r.job;
    const back = DP.$("job-run-link");
    back.href = "#/runs/" + r.run;
    back.textContent = "Run #" + r.run;
    load();
  }

  /** The run changed: re-read this job (throttled). */
  function onRunUpdate(run) {
    if (!current || current.run !== run.id || timer) return;
    const wait = DP.isTerminal(run) ? 0 : Math.max(0, last + REFRESH_MS - Date.now());
    timer = setTimeout(() => {
      timer = null;
      if (current) load();
    }, wait);
  }

  async function load() {
    const { run, job } = current;
    last = Date.now();
    try {
      const j = await DP.api("/api/outbound/runs/" + run + "/jobs/" + job);
      if (!current || current.job !== job) return;
      DP.setError(DP.$("job-error"), "");
      render(j);
    } catch (e) {
      if (DP.handleAuthError(e)) return;
      DP.setError(DP.$("job-error"), "Cannot load job #" + job + ": " + e.message);
      DP.$("job-facts").replaceChildren();
      DP.$("job-lead").replaceChildren();
      DP.$("job-timeline").replaceChildren();
    }
  }

  function facts(dl, pairs) {
    dl.replaceChildren();
    for (const [name, value] of pairs) {
      const dt = document.createElement("dt");
      dt.textContent = name;
      const dd = document.createElement("dd");
      dd.textContent = value === null || value === undefined || value === "" ? "—" : String(value);
      dd.dataset.fact = name;
      dl.append(dt, dd);
    }
  }

  function render(j) {
    const $ = DP.$;
    $("job").dataset.state = j.phase;
    facts($("job-facts"), [
      ["State", j.phase === j.state ? j.state : j.phase + " (" + j.state + ")"],
      ["Attempts", j.attempt],
      ["Outcome", j.outcome],
      ["Reason", j.reason],
      ["Note", j.note],
      ["Updated", DP.fmtTime(j.updated_at)],
    ]);
    facts($("job-lead"), [
      ["Lead", "#" + j.lead.id + " · " + j.lead.external_id],
      ["Phone", j.lead.phone],
      ["Name", j.lead.name],
      ["Time zone", j.lead.timezone],
      ["Lead status", j.lead.status],
      ["Tags", (j.lead.tags || []).join(", ")],
    ]);
    const ol = $("job-timeline");
    ol.replaceChildren();
    for (const a of j.attempts) {
      const li = document.createElement("li");
      li.dataset.decision = a.decision;
      const head = document.createElement("div");
      head.className = "attempt-head";
      const verdict = a.decision === "allowed" ? "allowed" : a.decision + (a.rule ? " by " + a.rule : "");
      head.textContent = "Attempt " + a.attempt + " · " + verdict + (a.outcome ? " · " + a.outcome : "");
      const dl = document.createElement("dl");
      dl.className = "facts";
      const c = a.compliance || {};
      facts(dl, [
        ["Verdict", verdict],
        ["Why", a.reason],
        ["Decided", DP.fmtTime(a.decided_at)],
        ["Placed", a.placed_at ? DP.fmtTime(a.placed_at) : null],
        ["Ended", a.ended_at ? DP.fmtTime(a.ended_at) : null],
        ["Call", a.call_state],
        ["Provider call id", a.provider_call_id],
        ["Local time", c.timezone ? (c.local_time || "?") + " " + c.timezone : null],
        ["Note", a.note],
        ["Set lead status", a.lead_status],
        ["Added tags", (a.lead_tags || []).join(", ")],
      ]);
      li.append(head, dl);
      ol.appendChild(li);
    }
    if (j.attempts.length === 0) {
      const li = document.createElement("li");
      li.textContent = "no attempt yet";
      ol.appendChild(li);
    }
  }

  return { onRoute, onRunUpdate };
})();
