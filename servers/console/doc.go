// Package console is the console role: an HTTP server on [console] listen
// with /healthz and a read-only JSON API over etcd (agents and jobs).
//
// The console reads and writes etcd only; it never reaches into a running
// pipeline. Desired state lives in etcd and each agent reconciles to it.
package console
