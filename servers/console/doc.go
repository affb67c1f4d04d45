// Package console is the console role: an HTTP server on [console] listen
// with
//
//   - a JSON API over etcd (api.go, view.go): agents with their
//     registration, liveness and last status; jobs with their value, etcd
//     revision and state; PUT and DELETE of a job, validated by servers/job
//     (the agent's own validator) and guarded by If-Match revisions;
//   - a job's latest events (events.go), read from where the transfer
//     stores them: Elasticsearch's _search, or the local files when
//     es.endpoints is empty;
//   - the web page at / (ui.go, web/), embedded in the binary;
//   - /metrics, /healthz and /readyz (health.go), which an agent-only or
//     transfer-only process serves on [brun] metrics.listen (ServeOps).
//
// With [console] token set every /api call needs "Authorization: Bearer
// <token>"; without one the console listens on loopback only.
//
// The console reads and writes etcd, and reads stored events; it must
// never reach into a running pipeline. Desired state lives in etcd and each agent reconciles
// to it.
package console
