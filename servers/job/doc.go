// Package job owns the job spec: the JSON value of an etcd key
// <prefix>job/<agent-id>/<job-name>, its parsing and its validation. The
// agent and the console share this one validator, so a job the console
// accepts is a job the agent runs.
//
// It is a leaf: it imports nothing else from brun and does no I/O.
package job
