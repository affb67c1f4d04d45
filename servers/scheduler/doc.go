// Package scheduler turns the desired job set (the agent's job keys in
// etcd) into running tail jobs: it starts new jobs, restarts changed ones
// and stops deleted ones, comparing jobs by content so an unchanged job is
// never touched.
//
// It knows neither etcd nor files: it gets whole snapshots of key → value
// and a function that starts a job. A malformed job is logged with its key
// and skipped; the other jobs keep running.
package scheduler
