// brun console page: polls the API every few seconds and renders agents
// and their jobs; the form writes a job with PUT and shows the validator's
// messages beside the fields. No framework, no build: DOM calls only, and
// text is always set with textContent (never parsed as HTML). The page
// keeps no credential: the browser holds an HttpOnly session cookie that
// the login sets, and a 401 shows the login form. The Search view is
// search.js's.
"use strict";

const POLL_MS = 3000;
const ENCODINGS = ["", "utf-8", "gbk", "gb18030", "big5", "shift_jis", "euc-jp", "euc-kr", "utf-16le",
  "utf-16be", "latin1", "iso-8859-2", "iso-8859-15", "windows-1250", "windows-1251", "windows-1252"];

const $ = (id) => document.getElementById(id);
// samples[agent \n job] = {lines, t, rate}: the last status sample, for lines/s.
const samples = new Map();
let lastJobs = [];
let pollTimer = null;

// ---------------------------------------------------------------- API ---

// api sends one request with the session cookie. Every call that changes
// something is JSON, with or without a body: brun refuses any other.
async function api(method, path, body, headers) {
  const h = Object.assign({}, headers || {});
  if (method !== "GET") h["Content-Type"] = "application/json";
  const res = await fetch(path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store", credentials: "same-origin" });
  let data = null;
  try { data = await res.json(); } catch (e) { /* empty or not JSON */ }
  if (res.status === 401 && path !== "/api/login") loggedOut("Log in to use the console.");
  return { status: res.status, data };
}

const jobURL = (agent, name) => "/api/agents/" + encodeURIComponent(agent) + "/jobs/" + encodeURIComponent(name);

// ------------------------------------------------------------ polling ---

async function refresh() {
  clearTimeout(pollTimer);
  try {
    const [agents, jobs] = await Promise.all([api("GET", "/api/agents"), api("GET", "/api/jobs")]);
    if (agents.status === 401 || jobs.status === 401) return; // no polling until a login
    if (agents.status !== 200 || jobs.status !== 200) {
      const bad = agents.status !== 200 ? agents : jobs;
      banner("API error " + bad.status + ": " + ((bad.data && bad.data.error) || ""));
    } else {
      banner("");
      loggedIn();
      lastJobs = jobs.data;
      render(agents.data, jobs.data);
      $("updated").textContent = "updated " + new Date().toLocaleTimeString();
      if (!$("events").hidden && !document.querySelector("#events-list pre.json:not([hidden])")) loadEvents();
    }
  } catch (e) {
    banner("Can't reach brun: " + e.message);
  }
  pollTimer = setTimeout(refresh, POLL_MS);
}

function banner(msg) {
  $("banner").textContent = msg;
  $("banner").hidden = !msg;
}

function flash(msg) {
  $("flash").textContent = msg;
  $("flash").hidden = !msg;
  if (msg) setTimeout(() => { if ($("flash").textContent === msg) flash(""); }, 6000);
}

// rate returns lines/s for a job from successive status samples, or null.
function rate(agent, st, updated) {
  const key = agent + "\n" + st.name;
  const t = Date.parse(updated);
  const prev = samples.get(key);
  if (!prev || st.lines < prev.lines) {
    samples.set(key, { lines: st.lines, t, rate: null });
    return null;
  }
  if (t > prev.t) samples.set(key, { lines: st.lines, t, rate: (st.lines - prev.lines) * 1000 / (t - prev.t) });
  return samples.get(key).rate;
}

// ------------------------------------------------------------ render ---

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k.startsWith("data-")) e.setAttribute(k, v); else e[k] = v;
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

function bytes(n) {
  if (n === null || n === undefined) return "";
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : String(n)) + " " + u[i];
}

function ago(iso) {
  if (!iso) return "";
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 90) return s + " s ago";
  if (s < 5400) return Math.round(s / 60) + " min ago";
  if (s < 172800) return Math.round(s / 3600) + " h ago";
  return Math.round(s / 86400) + " d ago";
}

function render(agents, jobs) {
  const alive = agents.filter((a) => a.alive).length;
  $("summary").textContent = agents.length + " agent(s), " + alive + " alive · " + jobs.length + " job(s)";
  const ids = $("agent-ids");
  ids.replaceChildren(...agents.map((a) => el("option", { value: a.id })));
  const main = $("agents");
  const stray = jobs.filter((j) => j.agent === "");
  if (agents.length === 0 && stray.length === 0) {
    main.replaceChildren(el("p", { class: "muted" }, "No agent has registered and no job is configured yet. Start brun with the agent role, or add a job."));
    return;
  }
  main.replaceChildren(...agents.map((a) => renderAgent(a, jobs.filter((j) => j.agent === a.id))));
  if (stray.length) main.append(renderStray(stray));
}

// renderStray shows the keys under job/ that belong to no agent id
// (job/<id> alone, an empty or malformed id): they never run, and can
// only be deleted.
function renderStray(keys) {
  const head = el("div", { class: "head" },
    el("span", { class: "badge dead" }, "invalid"),
    el("h2", {}, "Keys that are no job"),
    el("span", { class: "muted" }, "keys under job/ that name no agent: no agent runs them"));
  const rows = keys.map((j) => el("tr", { "data-key": j.key },
    el("td", { class: "key" }, j.key),
    el("td", { class: "error" }, j.invalid),
    el("td", { class: "buttons" }, deleteButton(j))));
  return el("article", { class: "agent stray", id: "stray-keys" }, head,
    el("table", { class: "jobs" }, el("tbody", {}, ...rows)));
}

function renderAgent(a, jobs) {
  const info = [a.hostname, a.ip, a.version && "brun " + a.version, a.roles && a.roles.join(","),
    a.started_at && "started " + ago(a.started_at), a.status && "status " + ago(a.status.updated)].filter(Boolean).join(" · ");
  const head = el("div", { class: "head" },
    el("span", { class: "badge " + (a.alive ? "alive" : "dead") }, a.alive ? "alive" : "down"),
    el("h2", {}, a.id),
    el("span", { class: "muted" }, a.alive ? info : "not registered (no live lease)" + (info ? " · " + info : "")),
    el("span", { class: "spacer" }),
    el("button", { type: "button", class: "add", onclick: () => openEditor(a.id, null) }, "Add job"));
  const card = el("article", { class: "agent" + (a.alive ? "" : " dead"), "data-agent": a.id }, head);
  if (jobs.length === 0) {
    card.append(el("p", { class: "none muted" }, "No jobs."));
    return card;
  }
  const thead = el("thead", {}, el("tr", {}, ...["Job", "Path", "Topic", "State", "Lines", "Lines/s", "Lag", "Last error", ""].map(
    (h, i) => el("th", { class: i >= 4 && i <= 6 ? "num" : "" }, h))));
  const tbody = el("tbody", {}, ...jobs.map((j) => renderJob(a, j)));
  card.append(el("table", { class: "jobs" }, thead, tbody));
  return card;
}

function renderJob(a, j) {
  const v = (j.value && typeof j.value === "object") ? j.value : {};
  const st = j.status;
  let state = j.invalid ? "invalid" : st ? st.state : (a.alive ? "pending" : "unknown");
  let r = null, lag = null;
  if (st && !j.invalid) {
    r = rate(a.id, st, a.status.updated);
    lag = (st.files || []).reduce((n, f) => n + (f.lag || 0), 0);
  }
  const path = j.too_large ? "(a value of " + bytes(j.size) + ", over 64 KiB: not shown)" : v.path || j.raw || "";
  const buttons = [deleteButton(j)];
  if (!j.invalid) {
    buttons.unshift(el("button", { type: "button", class: "events", onclick: () => openEvents(j) }, "Events"), " ",
      el("button", { type: "button", class: "edit", onclick: () => openEditor(j.agent, j) }, "Edit"), " ");
  }
  return el("tr", { "data-job": j.name, "data-key": j.key, class: j.invalid ? "invalid-key" : "" },
    el("td", { class: "name" }, j.invalid && j.name === "" ? "(no name)" : j.name),
    el("td", { class: "path" }, path),
    el("td", { class: "topic" }, v.topic || ""),
    el("td", {}, el("span", { class: "state " + state }, state)),
    el("td", { class: "num lines" }, st && !j.invalid ? String(st.lines) : ""),
    el("td", { class: "num rate" }, j.invalid ? "" : r === null ? (st ? "…" : "") : r.toFixed(1)),
    el("td", { class: "num lag" }, st && !j.invalid ? bytes(lag) : ""),
    el("td", { class: "error" }, j.invalid || (st && st.error ? st.error : "")),
    el("td", { class: "buttons" }, ...buttons));
}

function deleteButton(j) {
  const del = el("button", { type: "button", class: "delete danger" }, "Delete");
  del.onclick = () => confirmDelete(del, j);
  return del;
}

// A delete needs a second click within 4 s: no modal dialog to get stuck in.
// A key that is no job has no agent/name route: it is deleted by its key.
function confirmDelete(btn, j) {
  if (!btn.classList.contains("confirm")) {
    btn.classList.add("confirm");
    btn.textContent = "Really delete?";
    clearTimeout(pollTimer); // keep the button on screen while the user decides
    pollTimer = setTimeout(refresh, 4000);
    return;
  }
  const url = j.invalid ? "/api/jobs?key=" + encodeURIComponent(j.key) : jobURL(j.agent, j.name);
  const what = j.invalid ? j.key : j.agent + "/" + j.name;
  api("DELETE", url, undefined, { "If-Match": '"' + j.revision + '"' }).then((res) => {
    if (res.status === 200) flash("Deleted " + what + ".");
    else if (res.status !== 401) banner("Delete " + what + ": " + res.status + " " + ((res.data && res.data.error) || ""));
    refresh();
  });
}

// ------------------------------------------------------------ editor ---

const form = () => $("job-form");
let editing = null; // the job being edited (null: adding)

function openEditor(agent, j) {
  editing = j;
  clearErrors();
  $("job-reload").hidden = true;
  $("editor-title").textContent = j ? "Edit job " + j.agent + "/" + j.name : "Add job";
  $("f-agent").value = agent || "";
  $("f-agent").readOnly = !!j;
  $("f-name").value = j ? j.name : "";
  $("f-name").readOnly = !!j;
  fillForm(j && j.value ? j.value : {});
  $("editor-revision").textContent = j ? "revision " + j.revision : "";
  $("editor").hidden = false;
  (j ? $("f-path") : (agent ? $("f-name") : $("f-agent"))).focus();
}

// FORM_FIELDS are the job members the form has inputs for. The others
// (include_lines, exclude_lines, start, ignore_older, ...) are kept as
// loaded in formRest and saved back unchanged, so editing a job in the
// form never drops what the form does not show.
const FORM_FIELDS = ["path", "topic", "exclude", "encoding", "max_line_bytes", "json", "multiline", "fields"];
let formRest = {};

function fillForm(v) {
  formRest = {};
  for (const [k, x] of Object.entries(v)) if (!FORM_FIELDS.includes(k)) formRest[k] = x;
  $("f-path").value = v.path || "";
  $("f-topic").value = v.topic || "";
  $("f-exclude").value = (v.exclude || []).join(", ");
  $("f-encoding").value = v.encoding ? v.encoding.toLowerCase() : "";
  $("f-max-line-bytes").value = v.max_line_bytes || "";
  $("f-json").checked = !!v.json;
  const m = v.multiline || {};
  $("f-ml-pattern").value = m.pattern || "";
  $("f-ml-negate").checked = !!m.negate;
  $("f-ml-match").value = m.match || "after";
  $("f-ml-max-lines").value = m.max_lines || "";
  $("f-ml-timeout").value = m.timeout || "";
  $("f-fields").value = Object.entries(v.fields || {}).map(([k, x]) => k + "=" + (typeof x === "string" ? x : JSON.stringify(x))).join("\n");
}

// formValue builds the job's JSON from the form; empty inputs are left out,
// so the agent's defaults apply. The server validates it.
function formValue() {
  const v = { ...formRest, path: $("f-path").value.trim(), topic: $("f-topic").value.trim() };
  const ex = $("f-exclude").value.split(",").map((s) => s.trim()).filter(Boolean);
  if (ex.length) v.exclude = ex;
  if ($("f-encoding").value) v.encoding = $("f-encoding").value;
  if ($("f-max-line-bytes").value !== "") v.max_line_bytes = Number($("f-max-line-bytes").value);
  if ($("f-json").checked) v.json = true;
  if ($("f-ml-pattern").value !== "") {
    v.multiline = { pattern: $("f-ml-pattern").value, match: $("f-ml-match").value };
    if ($("f-ml-negate").checked) v.multiline.negate = true;
    if ($("f-ml-max-lines").value !== "") v.multiline.max_lines = Number($("f-ml-max-lines").value);
    if ($("f-ml-timeout").value.trim()) v.multiline.timeout = $("f-ml-timeout").value.trim();
  }
  const fields = {};
  for (const line of $("f-fields").value.split("\n")) {
    if (!line.trim()) continue;
    const i = line.indexOf("=");
    if (i < 0) fields[line.trim()] = ""; else fields[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  if (Object.keys(fields).length) v.fields = fields;
  return v;
}

function clearErrors() {
  for (const e of form().querySelectorAll(".err")) e.textContent = "";
  for (const e of form().querySelectorAll(".invalid")) e.classList.remove("invalid");
}

// showErrors puts each {field, reason} beside its input: "exclude[2]" goes
// to exclude, "multiline.pattern" to the multiline row, anything without a
// row (an unknown field, bad JSON) under the form.
function showErrors(fields, fallback) {
  clearErrors();
  for (const f of fields || []) {
    const base = f.field.replace(/\[\d+\]$/, "");
    let slot = form().querySelector('.err[data-field="' + CSS.escape(base) + '"]') ||
      form().querySelector('.err[data-field="' + CSS.escape(base.split(".")[0]) + '"]') || $("form-error");
    const msg = (slot === $("form-error") || base !== f.field || base.includes(".") ? f.field + " " : "") + f.reason;
    slot.textContent = slot.textContent ? slot.textContent + "; " + msg : msg;
    const input = slot.parentElement && slot.parentElement.querySelector("input, select, textarea");
    if (input && slot !== $("form-error")) input.classList.add("invalid");
  }
  if (!fields || !fields.length) $("form-error").textContent = fallback || "";
}

async function save(ev) {
  ev.preventDefault();
  const agent = $("f-agent").value.trim(), name = $("f-name").value.trim();
  const headers = editing ? { "If-Match": '"' + editing.revision + '"' } : { "If-None-Match": "*" };
  $("job-save").disabled = true;
  try {
    const res = await api("PUT", jobURL(agent || "-", name || "-"), formValue(), headers);
    const d = res.data || {};
    if (res.status === 200 || res.status === 201) {
      $("editor").hidden = true;
      flash("Saved " + agent + "/" + name + " (revision " + d.revision + "). The agent picks it up within seconds.");
      editing = null;
      refresh();
    } else if (res.status === 409) {
      showErrors([], d.error + (d.revision ? " (now revision " + d.revision + ")" : ""));
      $("job-reload").hidden = false;
    } else if (res.status === 401) {
      showErrors([], "Not logged in: log in, then save again.");
    } else {
      if (!agent) d.fields = [{ field: "agent", reason: "is required" }].concat((d.fields || []).filter((f) => f.field !== "agent"));
      if (!name) d.fields = [{ field: "name", reason: "is required" }].concat((d.fields || []).filter((f) => f.field !== "name"));
      showErrors(d.fields, "Error " + res.status + ": " + (d.error || ""));
    }
  } catch (e) {
    showErrors([], "Can't reach brun: " + e.message);
  } finally {
    $("job-save").disabled = false;
  }
}

// reloadCurrent loads the job as etcd holds it now, after a 409.
async function reloadCurrent() {
  const agent = $("f-agent").value.trim(), name = $("f-name").value.trim();
  const res = await api("GET", jobURL(agent, name));
  if (res.status === 200) openEditor(agent, res.data);
  else if (res.status === 404) { editing = null; $("job-reload").hidden = true; showErrors([], "The job was deleted; saving creates it again."); }
}

// ------------------------------------------------------------ events ---

let eventsOf = null; // {agent, name} whose events are shown

function openEvents(j) {
  eventsOf = { agent: j.agent, name: j.name };
  $("events-title").textContent = "Latest events of " + j.agent + "/" + j.name;
  $("events-q").value = "";
  $("events").hidden = false;
  loadEvents();
  $("events-q").focus();
}

// loadEvents shows the job's newest events (GET .../events?q=), from
// Elasticsearch or brun's local files, whichever the transfer writes to.
async function loadEvents() {
  if (!eventsOf) return;
  const want = eventsOf;
  const q = $("events-q").value.trim();
  const res = await api("GET", jobURL(want.agent, want.name) + "/events?size=100" + (q ? "&q=" + encodeURIComponent(q) : ""));
  if (eventsOf !== want) return; // another job was opened meanwhile
  const d = res.data || {};
  $("events-error").textContent = res.status === 200 ? "" : "Error " + res.status + ": " + (d.error || "");
  if (res.status !== 200) return;
  $("events-source").textContent = d.events.length + " event(s) from " +
    (d.source === "files" ? "local files (es.endpoints is empty)" : "Elasticsearch") + " · indices " + d.indices;
  $("events-list").replaceChildren(...d.events.map(renderEvent));
  if (d.events.length === 0) $("events-list").append(el("li", { class: "muted" }, q ? "No event matches." : "No event yet."));
}

function renderEvent(e) {
  const level = (e.log && e.log.level) || "";
  const json = el("pre", { class: "json", hidden: true }, JSON.stringify(e, null, 2));
  const toggle = el("button", { type: "button", class: "link", title: "the whole document" }, "JSON");
  toggle.onclick = () => { json.hidden = !json.hidden; };
  return el("li", {},
    el("span", { class: "time" }, (e["@timestamp"] || "").replace("T", " ").replace("Z", "")),
    el("span", { class: "level " + level }, level),
    el("span", { class: "msg" }, e.message === undefined ? "" : String(e.message)),
    toggle, json);
}

// ------------------------------------------------------------- login ---

// loggedOut shows the login form and stops polling until a login.
function loggedOut(msg) {
  clearTimeout(pollTimer);
  const first = $("login-box").hidden;
  $("login-box").hidden = false;
  $("logout-button").hidden = true;
  $("add-job").hidden = true;
  $("editor").hidden = true;
  $("events").hidden = true;
  $("search-view").hidden = true;
  $("overview-view").hidden = true;
  eventsOf = null;
  $("agents").replaceChildren();
  $("summary").textContent = "";
  $("updated").textContent = "";
  banner(msg || "");
  if (first) $("login-token").focus();
}

function loggedIn() {
  $("login-box").hidden = true;
  $("logout-button").hidden = false;
  $("add-job").hidden = false;
}

// login posts the token; the answer sets the session cookie.
async function login(ev) {
  ev.preventDefault();
  $("login-error").textContent = "";
  const res = await api("POST", "/api/login", { token: $("login-token").value.trim() });
  if (res.status === 200) {
    $("login-token").value = "";
    loggedIn();
    refresh();
    route(); // search.js: the view the address names
  } else {
    $("login-error").textContent = (res.data && res.data.error) || "Error " + res.status;
  }
}

async function logout() {
  await api("POST", "/api/logout", {});
  loggedOut("Logged out.");
}

function init() {
  $("f-encoding").replaceChildren(...ENCODINGS.map((e) => el("option", { value: e }, e || "utf-8 (default)")));
  $("job-form").addEventListener("submit", save);
  $("job-cancel").onclick = () => { $("editor").hidden = true; editing = null; };
  $("job-reload").onclick = reloadCurrent;
  $("add-job").onclick = () => openEditor("", null);
  $("events-form").addEventListener("submit", (ev) => { ev.preventDefault(); loadEvents(); });
  $("events-close").onclick = () => { $("events").hidden = true; eventsOf = null; };
  $("login-form").addEventListener("submit", login);
  $("logout-button").onclick = logout;
  refresh();
  initSearch(); // search.js
}

document.addEventListener("DOMContentLoaded", init);
