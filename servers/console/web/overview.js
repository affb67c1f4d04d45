// brun console, the Overview view (#overview): per agent and job, lines/s
// over the last hour as a small chart, the current rate, the lag and the
// errors of the hour, from GET /api/overview (the status history the
// console keeps from the moment it starts). A job's row opens the Search
// view filtered on its agent and topic over the last hour. It uses
// app.js's helpers ($, el, api, bytes) and search.js's (svg, searchHash),
// sets text with textContent only, and colours through classes: the
// page's CSP forbids inline styles.
"use strict";

const OVERVIEW_POLL_MS = 10000; // the history keeps a sample per 10 s
const SPARK_W = 180, SPARK_H = 34; // the sparkline's viewBox

let overviewTimer = null;
let overviewSeq = 0; // drops answers a newer request replaced

// showOverview shows or hides the view (search.js's route calls it on
// every change of the address) and polls the API while it is shown.
function showOverview(on) {
  clearTimeout(overviewTimer);
  overviewSeq++;
  $("tab-overview").classList.toggle("on", on);
  $("overview-view").hidden = !on || !$("login-box").hidden;
  if (on) loadOverview();
}

async function loadOverview() {
  clearTimeout(overviewTimer);
  const seq = ++overviewSeq;
  const view = $("overview-view");
  view.dataset.state = "loading";
  let res;
  try {
    res = await api("GET", "/api/overview");
  } catch (e) {
    res = { status: 0, data: { error: "can't reach brun: " + e.message } };
  }
  if (seq !== overviewSeq) return;
  if (res.status === 401) return; // api showed the login form
  if (res.status !== 200) {
    $("overview-error").textContent = "Error " + res.status + ": " + ((res.data && res.data.error) || "");
    view.dataset.state = "error";
  } else {
    $("overview-error").textContent = "";
    renderOverview(res.data);
    view.dataset.state = "done";
  }
  overviewTimer = setTimeout(loadOverview, OVERVIEW_POLL_MS);
}

// ------------------------------------------------------------ render ---

function renderOverview(d) {
  const jobs = d.agents.reduce((n, a) => n + a.jobs.length, 0);
  const untracked = d.untracked.agents + d.untracked.jobs;
  $("overview-summary").textContent = d.agents.length + " agent(s), " + jobs + " job(s) · lines/s over the last " +
    Math.round(d.window_seconds / 60) + " min, a sample per " + d.step_seconds + " s" +
    (untracked ? " · not tracked (the history is full): " + d.untracked.agents + " agent(s), " + d.untracked.jobs + " job(s)" : "");
  const main = $("overview-agents");
  if (d.agents.length === 0) {
    main.replaceChildren(el("p", { class: "muted" }, "No agent has reported its status since the console started."));
    return;
  }
  main.replaceChildren(...d.agents.map((a) => renderOverviewAgent(a, d)));
}

function renderOverviewAgent(a, d) {
  const rates = a.jobs.map((j) => j.rate).filter((r) => r !== null);
  const head = el("div", { class: "head" },
    el("span", { class: "badge " + (a.alive ? "alive" : "dead") }, a.alive ? "alive" : "down"),
    el("h2", {}, a.id),
    el("span", { class: "muted" }, [a.jobs.length + " job(s)",
      rates.length ? rates.reduce((x, y) => x + y, 0).toFixed(1) + " lines/s now" : "",
      a.updated ? "status " + ago(a.updated) : ""].filter(Boolean).join(" · ")));
  const card = el("article", { class: "agent" + (a.alive ? "" : " dead"), "data-agent": a.id }, head);
  if (a.jobs.length === 0) {
    card.append(el("p", { class: "none muted" }, "No job reported in the last hour."));
    return card;
  }
  const cols = [["Job"], ["Topic"], ["State"], ["Lines/s, last hour"], ["Now", "num"], ["Lag", "num"], ["Errors (1 h)", "num"], ["Last error"]];
  const thead = el("thead", {}, el("tr", {}, ...cols.map(([h, c]) => el("th", { class: c || "" }, h))));
  card.append(el("table", { class: "jobs overview" }, thead, el("tbody", {}, ...a.jobs.map((j) => renderOverviewJob(a, j, d)))));
  return card;
}

// jobSearchHash is the Search view of a job's lines over the last hour:
// its agent and topic as filters.
function jobSearchHash(agent, topic) {
  return searchHash({ q: "", range: "1h", from: "", to: "", agent: [agent], topic: topic ? [topic] : [], level: [], size: "", utc: false });
}

function renderOverviewJob(a, j, d) {
  const link = jobSearchHash(a.id, j.topic);
  const lag = j.lag_bytes || j.lag_seconds ? bytes(j.lag_bytes) + (j.lag_seconds ? " · " + seconds(j.lag_seconds) : "") : "0";
  const name = el("a", { class: "search-link", href: link, title: "search the lines of " + a.id + " in topic " + j.topic + ", last hour" }, j.name);
  const row = el("tr", { "data-job": j.name, class: "link-row", "data-rate": j.rate === null ? "" : String(j.rate) },
    el("td", { class: "name" }, name),
    el("td", { class: "topic" }, j.topic),
    el("td", {}, el("span", { class: "state " + j.state }, j.state)),
    el("td", { class: "spark-cell" }, sparkline(j, d)),
    el("td", { class: "num rate" }, j.rate === null ? "–" : j.rate.toFixed(1)),
    el("td", { class: "num lag" }, lag),
    el("td", { class: "num errors" + (j.errors ? " bad" : "") }, String(j.errors)),
    el("td", { class: "error", title: j.last_error_at ? "last seen " + ago(j.last_error_at) : "" }, j.last_error || ""));
  row.onclick = (ev) => { if (!ev.target.closest("a")) location.hash = link; };
  return row;
}

// sparkline draws a job's points over the window ending at d.now: a line
// over a shaded area, broken where the agent did not report (points over
// three steps apart), scaled to the highest rate.
function sparkline(j, d) {
  const end = Date.parse(d.now) / 1000, start = end - d.window_seconds;
  const max = Math.max(1, ...j.points.map((p) => p.rate));
  const x = (t) => ((t - start) / d.window_seconds * SPARK_W).toFixed(1);
  const y = (r) => (SPARK_H - 1 - r / max * (SPARK_H - 3)).toFixed(1);
  const chart = svg("svg", { viewBox: "0 0 " + SPARK_W + " " + SPARK_H, preserveAspectRatio: "none", class: "spark",
    role: "img", "data-points": String(j.points.length), "data-max": String(max),
    "aria-label": "lines/s of " + j.name + " over the last hour" });
  chart.append(svg("line", { x1: "0", x2: String(SPARK_W), y1: String(SPARK_H - 1), y2: String(SPARK_H - 1), class: "base" }));
  const segments = [];
  let seg = [];
  for (const p of j.points) {
    if (seg.length && p.t - seg[seg.length - 1].t > 3 * d.step_seconds) { segments.push(seg); seg = []; }
    seg.push(p);
  }
  if (seg.length) segments.push(seg);
  for (const s of segments) {
    // A point is the rate over the step that ends at its time: each
    // segment starts one step before its first point.
    const pts = [[s[0].t - d.step_seconds, s[0].rate]].concat(s.map((p) => [p.t, p.rate]));
    const line = pts.map(([t, r]) => x(t) + "," + y(r)).join(" ");
    chart.append(svg("polygon", { class: "area", points: x(pts[0][0]) + "," + (SPARK_H - 1) + " " + line + " " + x(pts[pts.length - 1][0]) + "," + (SPARK_H - 1) }));
    chart.append(svg("polyline", { class: "line", points: line }));
  }
  const now = j.rate === null ? "no recent report" : j.rate.toFixed(1) + " now";
  chart.append(svg("title", {}, document.createTextNode(j.points.length ? "lines/s over the last hour: up to " +
    max.toFixed(1) + ", " + now + (j.acked_rate !== null ? ", " + j.acked_rate.toFixed(1) + " acknowledged/s" : "") : "no rate yet: it takes two reports")));
  return chart;
}

// seconds writes a wait: "0.4 s", "12 s", "3 min", "2 h".
function seconds(s) {
  if (s < 10) return s.toFixed(1) + " s";
  if (s < 90) return Math.round(s) + " s";
  if (s < 5400) return Math.round(s / 60) + " min";
  return Math.round(s / 3600) + " h";
}
