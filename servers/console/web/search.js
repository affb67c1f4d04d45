// brun console, the Search view: GET /api/search over every topic, with a
// time range, facets that filter, a histogram stacked by level (drag on it
// to zoom) and pages of results newest first. The whole view lives in
// location.hash (#search?q=&range=1h or from=&to=, level=, agent=, topic=,
// size=, live=1, utc=1), so a link or a reload shows it again. Live tail
// (live=1, on a quick range only) is tail.js's. It uses app.js's
// helpers ($, el, api, loggedOut) and, like it, sets text with textContent
// only. The page's CSP forbids inline styles: colours come from classes.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
const RANGES = { "15m": 15 * 60e3, "1h": 3600e3, "24h": 86400e3, "7d": 7 * 86400e3 };
const FACETS = [["level", "Level"], ["agent", "Agent"], ["topic", "Topic"]];
const INTERVALS = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 };
const HIST_W = 1000, HIST_H = 120; // the histogram's viewBox

let searchState = null; // the view the hash describes (parseSearchHash)
let searchAnswer = null; // the first page's answer: histogram, from, to
let searchSeq = 0; // drops answers of searches a newer one replaced
let searchAfter = ""; // the cursor of the next older page

// ------------------------------------------------------------- state ---

// parseSearchHash reads the view from "#search?..."; a hash that names no
// range means the last 15 minutes.
function parseSearchHash(hash) {
  const i = hash.indexOf("?");
  const p = new URLSearchParams(i < 0 ? "" : hash.slice(i + 1));
  const s = { q: p.get("q") || "", range: null, from: "", to: "", agent: p.getAll("agent"), topic: p.getAll("topic"),
    level: p.getAll("level"), size: p.get("size") || "", utc: p.get("utc") === "1", live: false };
  if (p.get("from") && p.get("to")) { s.from = p.get("from"); s.to = p.get("to"); } else s.range = RANGES[p.get("range")] ? p.get("range") : "15m";
  s.live = p.get("live") === "1" && !!s.range; // a custom range ends in the past: nothing to follow
  return s;
}

// searchHash writes s back as the hash; parameters in a fixed order, so the
// same view always has the same link.
function searchHash(s) {
  const p = new URLSearchParams();
  if (s.q) p.set("q", s.q);
  if (s.range) p.set("range", s.range); else { p.set("from", s.from); p.set("to", s.to); }
  for (const [f] of FACETS) for (const v of s[f]) p.append(f, v);
  if (s.size) p.set("size", s.size);
  if (s.live && s.range) p.set("live", "1");
  if (s.utc) p.set("utc", "1");
  return "#search?" + p.toString();
}

// go shows the view s: through the hash, so that Back returns to the last
// one; the hashchange runs the search (or this does, when the hash is the
// same, as in "Search" pressed again on a relative range).
function go(s) {
  const h = searchHash(s);
  if (location.hash === h) route(); else location.hash = h;
}

// apiParams are the API's parameters for s; a relative range ends now.
function apiParams(s) {
  const p = new URLSearchParams();
  if (s.q) p.set("q", s.q);
  if (s.range) {
    const now = Date.now();
    p.set("from", new Date(now - RANGES[s.range]).toISOString());
    p.set("to", new Date(now).toISOString());
  } else { p.set("from", s.from); p.set("to", s.to); }
  for (const [f] of FACETS) for (const v of s[f]) p.append(f, v);
  if (s.size) p.set("size", s.size);
  return p;
}

// ------------------------------------------------------------- views ---

// route shows the view the hash names: the Search view for #search...,
// the Overview for #overview, else agents and jobs.
function route() {
  const search = location.hash.startsWith("#search");
  if (!search) tailStop();
  const overview = location.hash.startsWith("#overview");
  $("agents-view").hidden = search || overview;
  $("search-view").hidden = !search || !$("login-box").hidden;
  $("tab-agents").classList.toggle("on", !search && !overview);
  $("tab-search").classList.toggle("on", search);
  showOverview(overview); // overview.js
  if (!search) return;
  $("tab-search").href = location.hash; // the tab comes back to this search
  searchState = parseSearchHash(location.hash);
  fillSearchForm(searchState);
  runSearch();
}

function fillSearchForm(s) {
  $("search-q").value = s.q;
  $("search-range").value = s.range || "custom";
  $("search-utc").checked = s.utc;
  $("search-live").checked = s.live;
  $("search-custom").hidden = !!s.range;
  $("search-zone").textContent = "times in " + zoneName();
  if (!s.range) { $("search-from").value = inputTime(s.from, s.utc); $("search-to").value = inputTime(s.to, s.utc); }
}

// formState is the view the form asks for, with the current filters.
function formState() {
  const s = Object.assign({}, searchState, { q: $("search-q").value.trim(), utc: $("search-utc").checked, live: $("search-live").checked });
  const r = $("search-range").value;
  if (r !== "custom") return Object.assign(s, { range: r, from: "", to: "" });
  const from = fromInputTime($("search-from").value, s.utc), to = fromInputTime($("search-to").value, s.utc);
  if (!from || !to) return null;
  return Object.assign(s, { range: null, from, to, live: false });
}

// ------------------------------------------------------------ search ---

async function runSearch() {
  const seq = ++searchSeq, s = searchState;
  tailStop(); // tail.js: a new search, a new tail
  const view = $("search-view");
  view.dataset.state = "loading";
  $("search-error").textContent = "";
  const res = await api("GET", "/api/search?" + apiParams(s).toString());
  if (seq !== searchSeq) return;
  if (res.status === 401) return; // api showed the login form
  const d = res.data || {};
  if (res.status !== 200) {
    showSearchError(res.status, d);
    searchAnswer = null;
    $("search-total").textContent = "";
    $("search-total").dataset.count = "";
    $("search-histogram").replaceChildren();
    $("search-facets").replaceChildren();
    $("search-warnings").replaceChildren();
    $("search-results").replaceChildren();
    $("search-older").hidden = true;
    kibanaLink($("search-kibana"), "");
    view.dataset.state = "error";
    view.dataset.shown = searchHash(s);
    return;
  }
  searchAnswer = d;
  searchAfter = d.after;
  $("search-total").textContent = (d.total_exact ? "" : "at least ") + d.total.toLocaleString("en") + " event" + (d.total === 1 ? "" : "s");
  $("search-total").dataset.count = String(d.total);
  $("search-source").textContent = "from " + (d.source === "files" ? "the local files" : "Elasticsearch");
  kibanaLink($("search-kibana"), d.kibana);
  renderHistogram(d);
  renderFacets(d.facets || {}, s);
  $("search-warnings").replaceChildren(...(d.warnings || []).map((w) => el("li", {}, w)));
  $("search-results").replaceChildren(...d.hits.map(renderHit));
  if (d.hits.length === 0) $("search-results").append(el("li", { class: "none muted" }, "No event matches in this time range."));
  $("search-older").hidden = !d.after;
  view.dataset.state = "done";
  view.dataset.shown = searchHash(s);
  if (s.live) tailStart(s, d);
}

// loadOlder appends the next older page (the same search, after the last
// event shown).
async function loadOlder() {
  const seq = searchSeq, s = searchState;
  const p = apiParams(s);
  if (searchAnswer) { p.set("from", searchAnswer.from); p.set("to", searchAnswer.to); } // the same range as page one
  p.set("after", searchAfter);
  $("search-older").disabled = true;
  $("search-view").dataset.state = "loading";
  const res = await api("GET", "/api/search?" + p.toString());
  $("search-older").disabled = false;
  if (seq !== searchSeq || res.status === 401) return;
  const d = res.data || {};
  if (res.status !== 200) {
    showSearchError(res.status, d);
    $("search-view").dataset.state = "error";
    return;
  }
  searchAfter = d.after;
  $("search-results").append(...d.hits.map(renderHit));
  for (const w of d.warnings || []) $("search-warnings").append(el("li", {}, w));
  $("search-older").hidden = !d.after;
  $("search-view").dataset.state = "done";
}

// showSearchError puts a 400's reasons ("q: ...") beside the query box.
function showSearchError(status, d) {
  const fields = (d.fields || []).map((f) => f.field + ": " + f.reason);
  $("search-error").textContent = fields.length ? fields.join("; ") : "Error " + status + ": " + (d.error || "");
}

// ------------------------------------------------------------ render ---

// levelClass is the colour class of a level: the common spellings of
// error, warning, info and debug, and one for the rest and "(none)".
function levelClass(level) {
  const l = String(level).toLowerCase();
  if (["error", "err", "fatal", "crit", "critical", "alert", "emerg", "emergency", "panic", "severe"].includes(l)) return "lv-error";
  if (l === "warn" || l === "warning") return "lv-warn";
  if (l === "info" || l === "notice" || l === "information") return "lv-info";
  if (l === "debug" || l === "trace" || l === "fine" || l === "finest") return "lv-debug";
  return "lv-other";
}
const LEVEL_ORDER = ["lv-error", "lv-warn", "lv-info", "lv-debug", "lv-other"]; // bottom to top

function svg(tag, attrs, ...children) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}

function intervalMs(s) {
  const m = /^(\d+)([smhd])$/.exec(s || "");
  return m ? Number(m[1]) * INTERVALS[m[2]] : 60e3;
}

// renderHistogram draws the first page's histogram: one bar per bucket,
// its levels stacked (errors at the bottom), each bar and part carrying its
// count (data-count). Dragging across it zooms to the span dragged; a
// click zooms to one bar.
function renderHistogram(d) {
  const box = $("search-histogram");
  const buckets = d.histogram || [];
  if (!buckets.length) { box.replaceChildren(); return; }
  const step = intervalMs(d.interval);
  const t0 = Date.parse(buckets[0].start), t1 = Date.parse(buckets[buckets.length - 1].start) + step;
  const max = Math.max(1, ...buckets.map((b) => b.count));
  const w = HIST_W / buckets.length;
  const chart = svg("svg", { viewBox: "0 0 " + HIST_W + " " + HIST_H, preserveAspectRatio: "none", class: "histogram",
    role: "img", "aria-label": "events over time by level" });
  const levels = new Map(); // class -> the levels drawn in it, for the legend
  buckets.forEach((b, i) => {
    const bar = svg("g", { class: "bar", "data-count": String(b.count), "data-start": b.start });
    const parts = Object.entries(b.levels || {}).sort((x, y) =>
      LEVEL_ORDER.indexOf(levelClass(x[0])) - LEVEL_ORDER.indexOf(levelClass(y[0])) || x[0].localeCompare(y[0]));
    let y = HIST_H;
    for (const [level, n] of parts) {
      if (!n) continue;
      const h = n / max * (HIST_H - 4);
      y -= h;
      const cls = levelClass(level);
      if (!levels.has(cls)) levels.set(cls, new Set());
      levels.get(cls).add(level);
      bar.append(svg("rect", { x: String(i * w + w * 0.08), y: String(y), width: String(w * 0.84), height: String(h),
        class: "part " + cls, "data-level": level, "data-count": String(n) }));
    }
    // A full-height transparent rect: the tooltip answers over the whole column.
    const tip = svg("rect", { x: String(i * w), y: "0", width: String(w), height: String(HIST_H), class: "hit-area" });
    tip.append(svg("title", {}, document.createTextNode(showTime(b.start) + ": " + b.count + " event(s)" +
      (parts.length ? " (" + parts.map(([l, n]) => l + " " + n).join(", ") + ")" : ""))));
    bar.append(tip);
    chart.append(bar);
  });
  const sel = svg("rect", { x: "0", y: "0", width: "0", height: String(HIST_H), class: "selection" });
  chart.append(sel);
  dragToZoom(chart, sel, t0, t1, Date.parse(d.from), Date.parse(d.to), step);
  const legend = el("span", { class: "legend" }, ...LEVEL_ORDER.filter((c) => levels.has(c)).map((c) =>
    el("span", {}, el("span", { class: "swatch " + c }), [...levels.get(c)].join(", "))));
  box.replaceChildren(chart, el("div", { class: "axis muted" },
    el("span", { class: "t-start", "data-ts": d.from }, showTime(d.from)),
    el("span", {}, d.interval + " per bar · drag to zoom"), legend,
    el("span", { class: "t-end", "data-ts": d.to }, showTime(d.to))));
}

// dragToZoom makes a mousedown..mouseup across chart (whose x axis runs
// from t0 to t1) search that span, within [from, to].
function dragToZoom(chart, sel, t0, t1, from, to, step) {
  let start = null;
  const frac = (ev) => {
    const r = chart.getBoundingClientRect();
    return Math.min(1, Math.max(0, (ev.clientX - r.left) / r.width));
  };
  const move = (ev) => {
    const x = frac(ev);
    sel.setAttribute("x", String(Math.min(start, x) * HIST_W));
    sel.setAttribute("width", String(Math.abs(x - start) * HIST_W));
  };
  const up = (ev) => {
    window.removeEventListener("mousemove", move);
    window.removeEventListener("mouseup", up);
    const x = frac(ev);
    let a = t0 + Math.min(start, x) * (t1 - t0), b = t0 + Math.max(start, x) * (t1 - t0);
    if (Math.abs(x - start) * chart.getBoundingClientRect().width < 3) { // a click: that one bar
      a = t0 + Math.floor((a - t0) / step) * step;
      b = a + step;
    }
    a = Math.max(from, Math.floor(a / 1000) * 1000);
    b = Math.min(to, Math.ceil(b / 1000) * 1000);
    start = null;
    sel.setAttribute("width", "0");
    if (b > a) go(Object.assign({}, searchState, { range: null, from: isoTime(a), to: isoTime(b) }));
  };
  chart.addEventListener("mousedown", (ev) => {
    if (ev.button !== 0) return;
    ev.preventDefault();
    start = frac(ev);
    window.addEventListener("mousemove", move);
    window.addEventListener("mouseup", up);
  });
}

// renderFacets lists each facet's values with counts; a value that filters
// is marked (and listed, with its count or 0, even when the answer does
// not name it, so it can be turned off).
function renderFacets(facets, s) {
  const box = $("search-facets");
  box.replaceChildren(...FACETS.map(([f, title]) => {
    const values = (facets[f] || []).slice();
    for (const v of s[f]) if (!values.some((x) => x.value === v)) values.push({ value: v, count: 0 });
    const items = values.map((x) => {
      const on = s[f].includes(x.value);
      const b = el("button", { type: "button", class: "facet-value" + (on ? " on" : ""), "data-value": x.value,
        "data-count": String(x.count), title: (on ? "stop filtering on " : "show only ") + f + " " + x.value },
      f === "level" ? el("span", { class: "swatch " + levelClass(x.value) }) : null,
      el("span", { class: "value" }, x.value), el("span", { class: "count" }, x.count.toLocaleString("en")));
      b.onclick = () => toggleFilter(f, x.value);
      return el("li", {}, b);
    });
    return el("div", { class: "facet", "data-facet": f }, el("h3", {}, title),
      items.length ? el("ul", {}, ...items) : el("p", { class: "muted" }, "none"));
  }));
}

function toggleFilter(f, value) {
  const s = Object.assign({}, searchState);
  s[f] = s[f].includes(value) ? s[f].filter((v) => v !== value) : s[f].concat([value]);
  go(s);
}

// field reads a dotted path ("log.level") from a document, nested or
// written with its dots, as the API does.
function field(doc, path) {
  if (doc === null || typeof doc !== "object") return undefined;
  if (path in doc) return doc[path];
  const i = path.indexOf(".");
  return i < 0 ? undefined : field(doc[path.slice(0, i)], path.slice(i + 1));
}

// renderHit is one result: a one-line summary that expands to the whole
// document.
function renderHit(h) {
  const doc = h.source || {};
  const ts = String(field(doc, "@timestamp") || ""), level = String(field(doc, "log.level") || "");
  const msg = field(doc, "message") === undefined ? "" : String(field(doc, "message"));
  const lines = msg.split("\n");
  const json = el("pre", { class: "json", hidden: true }, JSON.stringify(doc, null, 2));
  const head = el("button", { type: "button", class: "hit-head", title: "show every field" },
    el("span", { class: "time", "data-ts": ts }, showTime(ts)),
    el("span", { class: "level " + levelClass(level) }, level),
    el("span", { class: "agent-id" }, String(field(doc, "agent.id") || field(doc, "host.name") || "")),
    el("span", { class: "msg" }, lines[0], lines.length > 1 ? el("span", { class: "more muted" }, " (+" + (lines.length - 1) + " lines)") : null));
  const around = surroundingButton(doc);
  const kibana = h.kibana ? kibanaLink(el("a", { class: "hit-kibana", target: "_blank", rel: "noopener noreferrer" }, "Open in Kibana Discover"), h.kibana) : null;
  if (kibana) kibana.hidden = true; // shown with the expanded event
  const li = el("li", { class: "hit", "data-id": h.id, "data-level": level }, head, json, kibana, around);
  head.onclick = () => {
    json.hidden = !json.hidden;
    li.classList.toggle("open", !json.hidden);
    if (around) around.hidden = json.hidden;
    if (kibana) kibana.hidden = json.hidden;
  };
  return li;
}

// kibanaLink points a at a Kibana Discover address the API made from
// console.kibana.url (http or https only), or hides it.
function kibanaLink(a, href) {
  const ok = typeof href === "string" && /^https?:\/\//.test(href);
  if (ok) a.href = href; else a.removeAttribute("href");
  a.hidden = !ok;
  return a;
}

// surroundingButton offers the lines before and after an event in its
// file (GET /api/surrounding), for an event that names its agent, file,
// offset and topic; null for others.
function surroundingButton(doc) {
  const agent = field(doc, "agent.id"), path = field(doc, "log.file.path");
  const offset = field(doc, "log.offset"), topic = field(doc, "event.dataset");
  if (agent === undefined || path === undefined || offset === undefined || topic === undefined) return null;
  const list = el("ol", { class: "surrounding", hidden: true });
  const btn = el("button", { type: "button", class: "surrounding-button" }, "Show surrounding lines");
  const box = el("div", { class: "surrounding-box", hidden: true }, btn, list);
  btn.onclick = async () => {
    const q = new URLSearchParams({ agent: String(agent), path: String(path), topic: String(topic),
      offset: String(offset), n: "10", time: String(field(doc, "@timestamp") || "") });
    if (!q.get("time")) q.delete("time");
    btn.disabled = true;
    const r = await api("GET", "/api/surrounding?" + q.toString());
    btn.disabled = false;
    list.replaceChildren();
    if (r.status !== 200) {
      list.append(el("li", { class: "err" }, "Error " + r.status + ": " + ((r.data && r.data.error) || "")));
    } else {
      const line = (d, cls) => el("li", { class: cls, "data-offset": String(field(d, "log.offset")) },
        el("span", { class: "time", "data-ts": String(field(d, "@timestamp") || "") }, showTime(String(field(d, "@timestamp") || ""))),
        el("span", { class: "msg" }, String(field(d, "message") || "")));
      for (const d of r.data.before) list.append(line(d, "before"));
      r.data.after.forEach((d, i) => list.append(line(d, i === 0 && String(field(d, "log.offset")) === String(offset) ? "this" : "after")));
    }
    list.hidden = false;
    list.dataset.state = "done";
  };
  return box;
}

// ------------------------------------------------------------- times ---

const pad = (n, w) => String(n).padStart(w || 2, "0");

// showTime writes an RFC 3339 time in the browser's zone, or in UTC with a
// "Z" when the UTC box is ticked.
function showTime(iso) {
  const t = new Date(iso);
  if (!iso || isNaN(t)) return iso || "";
  if ($("search-utc").checked) return t.toISOString().replace("T", " ");
  return t.getFullYear() + "-" + pad(t.getMonth() + 1) + "-" + pad(t.getDate()) + " " + pad(t.getHours()) + ":" +
    pad(t.getMinutes()) + ":" + pad(t.getSeconds()) + "." + pad(t.getMilliseconds(), 3);
}

// zoneName names the zone times are shown in.
function zoneName() {
  if ($("search-utc").checked) return "UTC";
  const off = -new Date().getTimezoneOffset();
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";
  return zone + " (UTC" + (off < 0 ? "-" : "+") + pad(Math.floor(Math.abs(off) / 60)) + ":" + pad(Math.abs(off) % 60) + ")";
}

// isoTime is an RFC 3339 UTC time without a zero fraction.
const isoTime = (ms) => new Date(ms).toISOString().replace(".000Z", "Z");

// inputTime and fromInputTime convert between RFC 3339 and the custom
// range's datetime-local inputs, which hold the zone the times are shown in.
function inputTime(iso, utc) {
  const t = new Date(iso);
  if (isNaN(t)) return "";
  if (utc) return t.toISOString().slice(0, 19);
  return t.getFullYear() + "-" + pad(t.getMonth() + 1) + "-" + pad(t.getDate()) + "T" + pad(t.getHours()) + ":" +
    pad(t.getMinutes()) + ":" + pad(t.getSeconds());
}

function fromInputTime(v, utc) {
  if (!v) return "";
  const t = new Date(utc ? v + "Z" : v);
  return isNaN(t) ? "" : isoTime(t.getTime());
}

// switchZone shows every time again in the zone the UTC box says, and
// keeps the box in the link without searching again.
function switchZone() {
  const custom = !searchState.range && $("search-from").value && $("search-to").value;
  const from = custom && fromInputTime($("search-from").value, !$("search-utc").checked);
  const to = custom && fromInputTime($("search-to").value, !$("search-utc").checked);
  searchState = Object.assign({}, searchState, { utc: $("search-utc").checked });
  history.replaceState(null, "", searchHash(searchState));
  $("tab-search").href = location.hash;
  $("search-view").dataset.shown = searchHash(searchState);
  for (const e of document.querySelectorAll("#search-view [data-ts]")) e.textContent = showTime(e.dataset.ts);
  for (const t of document.querySelectorAll("#search-histogram title")) {
    const start = t.parentNode.parentNode.dataset.start;
    t.textContent = showTime(start) + t.textContent.slice(t.textContent.indexOf(": "));
  }
  if (from && to) { $("search-from").value = inputTime(from, searchState.utc); $("search-to").value = inputTime(to, searchState.utc); }
  $("search-zone").textContent = "times in " + zoneName();
}

// --------------------------------------------------------------- init ---

function initSearch() {
  $("search-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const s = formState();
    if (!s) { $("search-error").textContent = "from and to: pick both ends of the custom range"; return; }
    go(s);
  });
  $("search-range").addEventListener("change", () => {
    const custom = $("search-range").value === "custom";
    $("search-custom").hidden = !custom;
    if (custom && searchAnswer && !$("search-from").value) {
      $("search-from").value = inputTime(searchAnswer.from, $("search-utc").checked);
      $("search-to").value = inputTime(searchAnswer.to, $("search-utc").checked);
    }
    if (!custom) $("search-form").requestSubmit();
  });
  $("search-utc").addEventListener("change", switchZone);
  $("search-older").onclick = loadOlder;
  $("search-zone").textContent = "times in " + zoneName();
  window.addEventListener("hashchange", route);
  route();
}
