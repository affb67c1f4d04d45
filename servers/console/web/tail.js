// brun console, live tail of the Search view: with Live ticked (live=1 in
// the hash, on a quick range only) the page polls GET /api/tail every
// TAIL_EVERY ms for the events read since its last answer that match the
// search, and puts the new ones (by id: each window overlaps the last)
// at the top of the results. Scrolled away from the newest events, it
// pauses: new events wait, at most TAIL_KEEP of them, behind a "paused,
// N new" button that resumes. The results keep at most TAIL_KEEP events;
// the oldest go (Load older brings them back). Polling stops while the
// tab is hidden and when it closes; errors back off up to TAIL_BACKOFF.
// It uses app.js's $, el and loggedOut and search.js's renderHit, field,
// apiParams and searchState.
"use strict";

const TAIL_EVERY = 2000, TAIL_BACKOFF = 30000, TAIL_KEEP = 1000, TAIL_IDS = 5000;

let tail = null; // the tail running: see tailStart

// hitKey is what tells two copies of an event apart from two events.
function hitKey(h) {
  const id = field(h.source || {}, "event.id");
  return String(id === undefined ? h.index + "/" + h.id : id);
}

// tailStart follows the search s, whose first page answer is on the page.
function tailStart(s, answer) {
  tailStop();
  const newest = answer.hits.length ? Date.parse(field(answer.hits[0].source || {}, "@timestamp")) : 0;
  tail = { s, since: "", ids: new Set(answer.hits.map(hitKey)), pending: [], waiting: 0, received: 0,
    paused: false, polls: 0, delay: TAIL_EVERY, timer: 0, ctrl: null, hidden: false, newest: newest || 0 };
  tailShow("following", "");
  tailPoll(tail);
}

// tailStop ends the tail: no timer, no request in flight.
function tailStop() {
  if (!tail) return;
  clearTimeout(tail.timer);
  if (tail.ctrl) tail.ctrl.abort();
  tail = null;
  $("search-live-state").hidden = true;
  $("search-live-paused").hidden = true;
}

function tailSchedule(t, ms) {
  clearTimeout(t.timer);
  t.timer = setTimeout(() => tailPoll(t), ms);
}

async function tailPoll(t) {
  if (tail !== t) return;
  if (document.hidden) { t.hidden = true; return; } // visibilitychange polls again
  const p = apiParams(t.s);
  for (const k of ["from", "to"]) p.delete(k);
  if (t.since) p.set("since", t.since);
  t.ctrl = new AbortController();
  let res, d = null;
  try {
    res = await fetch("/api/tail?" + p.toString(), { cache: "no-store", credentials: "same-origin", signal: t.ctrl.signal });
    d = await res.json().catch(() => null);
  } catch (e) {
    if (tail !== t) return; // stopped: the abort
    return tailRetry(t, "the console does not answer");
  }
  t.ctrl = null;
  if (tail !== t) return;
  if (res.status === 401) { tailStop(); loggedOut("Log in to use the console."); return; }
  if (res.status === 400) { // the search changed under it, or a bad query: nothing to follow
    tailShow("stopped", "live stopped: " + ((d && d.fields || []).map((f) => f.field + ": " + f.reason).join("; ") || (d && d.error) || ""));
    return;
  }
  if (res.status !== 200 || !d) return tailRetry(t, "error " + res.status + ((d && d.error) ? ": " + d.error : ""));
  t.delay = TAIL_EVERY;
  t.polls++;
  t.since = d.next;
  const fresh = d.hits.filter((h) => !t.ids.has(hitKey(h)));
  for (const h of fresh) t.ids.add(hitKey(h));
  if (t.ids.size > TAIL_IDS) t.ids = new Set([...t.ids].slice(-TAIL_KEEP * 2)); // the newest added last
  t.received += fresh.length;
  if (t.paused) {
    t.pending = fresh.concat(t.pending).slice(0, TAIL_KEEP);
    t.waiting += fresh.length;
  } else {
    tailPrepend(t, fresh);
  }
  tailShow(t.paused ? "paused" : "following", d.total > d.hits.length ? d.total + " in the last window, the newest " + d.hits.length + " shown" : "");
  tailSchedule(t, TAIL_EVERY);
}

function tailRetry(t, why) {
  t.ctrl = null;
  t.delay = Math.min(TAIL_BACKOFF, t.delay * 2);
  tailShow("retrying", why + "; again in " + Math.round(t.delay / 1000) + " s");
  tailSchedule(t, t.delay);
}

// tailPrepend puts hits (newest first) at the top of the results, marks
// those whose time is before an event shown already (late: an agent
// catching up, a transfer replaying), and keeps at most TAIL_KEEP.
function tailPrepend(t, hits) {
  if (!hits.length) return;
  const list = $("search-results");
  for (const none of list.querySelectorAll("li.none")) none.remove();
  const items = hits.map((h) => {
    const li = renderHit(h);
    li.classList.add("live");
    const at = Date.parse(field(h.source || {}, "@timestamp"));
    if (at < t.newest) {
      li.classList.add("late");
      li.querySelector(".hit-head .msg").prepend(el("span", { class: "late-tag", title: "read after events with later times" }, "late"));
    }
    return li;
  });
  for (const h of hits) t.newest = Math.max(t.newest, Date.parse(field(h.source || {}, "@timestamp")) || 0);
  list.prepend(...items);
  const all = list.querySelectorAll("li.hit");
  if (all.length > TAIL_KEEP) {
    for (let i = TAIL_KEEP; i < all.length; i++) all[i].remove();
    // Load older goes on after the last event kept.
    const last = all[TAIL_KEEP - 1], doc = JSON.parse(last.querySelector("pre.json").textContent);
    const id = field(doc, "event.id");
    searchAfter = JSON.stringify([Date.parse(field(doc, "@timestamp")), id === undefined ? null : id]);
    $("search-older").hidden = false;
  }
  list.dataset.live = String(t.received);
}

// tailShow says what the tail does: following (with how many events it
// brought), paused with N new (a button that resumes), retrying or
// stopped. data-state, data-received, data-polls and data-new are for
// tests.
function tailShow(state, note) {
  const t = tail, badge = $("search-live-state"), paused = $("search-live-paused");
  badge.hidden = false;
  badge.dataset.state = state;
  badge.dataset.received = String(t ? t.received : 0);
  badge.dataset.polls = String(t ? t.polls : 0);
  badge.textContent = state === "following" ? "Live" + (t && t.received ? ": " + t.received + " new" : "") :
    state === "paused" ? "Live, paused" : state === "retrying" ? "Live, retrying" : "Live stopped";
  badge.title = note || "";
  paused.hidden = state !== "paused";
  paused.dataset.new = String(t ? t.waiting : 0);
  paused.textContent = "Paused, " + (t ? t.waiting : 0) + " new · Resume";
}

// tailScrolled pauses when the newest events are scrolled out of view,
// and resumes when they come back.
function tailScrolled() {
  const t = tail;
  if (!t) return;
  const away = $("search-results").getBoundingClientRect().top < -8;
  if (away && !t.paused) { t.paused = true; tailShow("paused", ""); }
  if (!away && t.paused) tailResume();
}

// tailResume shows what waited and follows again, at the top.
function tailResume() {
  const t = tail;
  if (!t) return;
  t.paused = false;
  const pending = t.pending;
  t.pending = [];
  t.waiting = 0;
  tailPrepend(t, pending);
  tailShow("following", "");
  if ($("search-results").getBoundingClientRect().top < 0) $("search-view").scrollIntoView();
}

function initTail() {
  $("search-live").addEventListener("change", () => {
    // Live follows a quick range: a custom one becomes the last 15 minutes.
    const s = Object.assign({}, searchState, { live: $("search-live").checked });
    if (s.live && !s.range) Object.assign(s, { range: "15m", from: "", to: "" });
    go(s);
  });
  $("search-live-paused").onclick = tailResume;
  window.addEventListener("scroll", tailScrolled, { passive: true });
  document.addEventListener("visibilitychange", () => {
    if (tail && !document.hidden && tail.hidden) { tail.hidden = false; tailPoll(tail); }
  });
  window.addEventListener("pagehide", tailStop);
  // Back to a page the browser kept (back-forward cache): follow again.
  window.addEventListener("pageshow", (ev) => { if (ev.persisted && location.hash.startsWith("#search")) route(); });
}

initTail();
