// dialplane dashboard: one page, no build step, no third-party code.
// This file is the core the other scripts (events.js, runs.js, run.js,
// job.js; loaded after it, in that order) build on, through `window.DP`.
//
// - The API key lives in sessionStorage (this tab only) and travels in the
//   Authorization header, never in a URL.
// - Routes are hash routes: `#/` (runs), `#/runs/N` (a run and a page of its
//   jobs; filters in the hash's query, `#/runs/N?status=completed`) and
//   `#/runs/N/jobs/M` (one job). Back/forward and reload restore the view.
// - Times are shown in one convention: UTC, ISO-like, with `Z`.
// - Everything from the server is written with textContent, never innerHTML.
"use strict";

window.DP = (() => {
  const KEY_STORAGE = "dialplane.apiKey";
  const THEME_STORAGE = "dialplane.theme";
  const TERMINAL = new Set(["completed", "cancelled", "failed"]);

  const state = {
    key: null,
    runs: new Map(), // id -> Run JSON
    route: { view: "login" },
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
    const res = await fetch(path, Object.assign({ cache: "no-store" }, options, { headers }));
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

  /** RFC 3339 → `2026-12-01 06:02:03Z` (UTC: the page's one convention). */
  function fmtTime(rfc3339) {
    if (!rfc3339) return "—";
    const d = new Date(rfc3339);
    if (isNaN(d.getTime())) return rfc3339;
    return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
  }

  function cell(tr, text, cls, label) {
    const td = document.createElement("td");
    if (cls) td.className = cls;
    if (label) td.dataset.label = label;
    td.textContent = text;
    tr.appendChild(td);
    return td;
  }

  function link(href, text) {
    const a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    return a;
  }

  // ---------------------------------------------------------------- confirm

  /** An in-page confirmation (a <dialog>, not window.confirm). */
  function confirmAction(message, okLabel) {
    const dialog = $("confirm");
    $("confirm-text").textContent = message;
    $("confirm-ok").textContent = okLabel;
    return new Promise((resolve) => {
      const done = (ok) => {
        $("confirm-ok").onclick = null;
        $("confirm-no").onclick = null;
        dialog.oncancel = null;
        if (dialog.open) dialog.close();
        resolve(ok);
      };
      $("confirm-ok").onclick = () => done(true);
      $("confirm-no").onclick = () => done(false);
      dialog.oncancel = () => done(false);
      dialog.showModal();
    });
  }

  // ---------------------------------------------------------------- theme

  const THEMES = ["auto", "light", "dark"];

  /** `?theme=dark|light` in the page URL wins; then the stored choice. */
  function applyTheme(theme) {
    const t = THEMES.includes(theme) ? theme : "auto";
    if (t === "auto") delete document.documentElement.dataset.theme;
    else document.documentElement.dataset.theme = t;
    $("theme").textContent = "Theme: " + t;
    return t;
  }

  function initTheme() {
    const fromUrl = new URLSearchParams(location.search).get("theme");
    let current = applyTheme(fromUrl || localStorage.getItem(THEME_STORAGE) || "auto");
    $("theme").addEventListener("click", () => {
      current = applyTheme(THEMES[(THEMES.indexOf(current) + 1) % THEMES.length]);
      localStorage.setItem(THEME_STORAGE, current);
    });
  }

  // ---------------------------------------------------------------- routing

  /** The current hash as a route. */
  function parseRoute() {
    const hash = location.hash.replace(/^#/, "") || "/";
    const [path, query] = hash.split("?", 2);
    const params = new URLSearchParams(query || "");
    let m = path.match(/^\/runs\/(\d+)\/jobs\/(\d+)$/);
    if (m) return { view: "job", run: Number(m[1]), job: Number(m[2]) };
    m = path.match(/^\/runs\/(\d+)$/);
    if (m) return { view: "run", run: Number(m[1]), params };
    return { view: "runs" };
  }

  function go(hash) {
    if (location.hash === hash) route();
    else location.hash = hash;
  }

  /** Shows the view the hash names (only once logged in). */
  function route() {
    if (!state.key) return;
    const r = parseRoute();
    state.route = r;
    show($("runs-panel"), r.view === "runs");
    show($("detail"), r.view === "run");
    show($("job"), r.view === "job");
    document.body.dataset.view = r.view;
    DP.runs.onRoute(r);
    DP.run.onRoute(r);
    DP.job.onRoute(r);
    DP.events.manage();
  }

  // ---------------------------------------------------------------- login

  async function login(key, quiet) {
    state.key = key;
    const gen = ++state.generation;
    try {
      await DP.runs.load(gen);
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
    show($("logout"), true);
    const who = $("whoami");
    who.textContent = "key " + key.slice(0, 8) + "…";
    show(who, true);
    document.body.dataset.loggedIn = "true";
    route();
  }

  function logout(message) {
    state.generation++;
    DP.events.stopAll();
    DP.runs.stop();
    DP.run.stop();
    state.key = null;
    state.runs.clear();
    sessionStorage.removeItem(KEY_STORAGE);
    $("runs").tBodies[0].replaceChildren();
    for (const id of ["runs-panel", "detail", "job", "logout", "whoami"]) show($(id), false);
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

  /** Merges a Run JSON (from the list, an action or an event) everywhere. */
  function updateRun(run) {
    const old = state.runs.get(run.id);
    // A late response must not roll back a newer streamed state.
    if (old && isTerminal(old) && !isTerminal(run)) return;
    if (old && !isTerminal(run) && old.cursor_position > run.cursor_position) return;
    state.runs.set(run.id, run);
    DP.runs.renderRow(run);
    DP.run.onRunUpdate(run);
    DP.job.onRunUpdate(run);
  }

  document.addEventListener("DOMContentLoaded", () => {
    initTheme();
    $("login-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const key = $("api-key").value.trim();
      if (key) {
        $("api-key").value = "";
        login(key, false);
      }
    });
    $("logout").addEventListener("click", () => logout(""));
    window.addEventListener("hashchange", route);
    DP.run.init();
    const saved = sessionStorage.getItem(KEY_STORAGE);
    if (saved) login(saved, true);
  });

  return {
    state,
    $,
    api,
    HttpError,
    show,
    setError,
    isTerminal,
    fmtTime,
    cell,
    link,
    confirmAction,
    go,
    route,
    updateRun,
    handleAuthError,
  };
})();
