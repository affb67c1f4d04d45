// Package console is the console role: an HTTP server on [console] listen
// with
//
//   - a JSON API over etcd (api.go, view.go): agents with their
//     registration, liveness and last status; jobs with their value, etcd
//     revision and state (and every key under job/ that is no job, with
//     the reason); PUT and DELETE of a job, validated by servers/job (the
//     agent's own validator) and guarded by If-Match revisions;
//   - a job's latest events (events.go), read from where the transfer
//     stores them: Elasticsearch's _search, or the local files when
//     es.endpoints is empty;
//   - the search over every topic (search.go; search_local.go and
//     search_local_blocks.go over the local files' indexes): a query,
//     a time range and filters, with a histogram by level and facets; the
//     lines around an event in its file (surrounding.go); links to Kibana
//     Discover when [console] kibana.url is set (kibana.go);
//   - the live tail (tail.go): the events of a search read since the
//     page's last poll (event.created, else @timestamp: events arrive
//     late and out of @timestamp order), each window overlapping the last
//     by a minute, at most maxTails requests at once;
//   - the fleet overview (history.go, overview.go): a background watch of
//     the <prefix>status/ keys (etcdx.Mirror: list, then watch; list again
//     when compacted) feeds a History that keeps, per agent and job, a
//     sample at least 10 s apart (one report in two or three) for the
//     last hour (lines, acked, lag), its latest state and error, and the
//     times the job started failing; GET /api/overview
//     answers lines/s over the hour (counter resets taken as restarts from
//     zero, as Prometheus's rate() does), the current rate, lag and the
//     errors of the hour. It is bounded: 1,000 agents and 2,000 jobs at
//     most (the others are counted, not tracked), an agent forgotten an
//     hour after its status key went, a job an hour after its last report;
//   - the web page at / (ui.go, web/), embedded in the binary: agents and
//     jobs (app.js), the Overview (overview.js), the Search view
//     (search.js) and its Live toggle (tail.js: polls, drops what it
//     shows by event.id, pauses when scrolled away, keeps 1,000 events,
//     stops with the tab);
//   - /metrics, /healthz and /readyz (health.go), which an agent-only or
//     transfer-only process serves on [brun] metrics.listen (ServeOps);
//   - the login (session.go, token.go): every /api call needs the token
//     ([console] token, or the one brun generates into
//     data.dir/console.token), as "Authorization: Bearer <token>" or as
//     the session cookie that /login?token= and POST /api/login set;
//   - the guards every answer passes (guard.go): a Host the console knows
//     (else 421: DNS rebinding), changes only from its own origin and as
//     JSON (else 403, 415: cross-site requests), and the browser's security
//     headers.
//
// Whoever writes jobs makes brun read files as root, so the console must
// never answer a page of another site, a Host it does not know, or a
// request without the token; and no stored value may make its answers
// grow beyond the value itself.
//
// The console reads and writes etcd, and reads stored events; it must
// never reach into a running pipeline. Desired state lives in etcd and
// each agent reconciles to it.
package console
