// Package etcdx owns brun's etcd key layout and client construction. Every
// role builds its keys through the functions here, so the contract users
// write with etcdctl lives in one place:
//
//	<prefix>job/<agent-id>/<job-name>   a job, JSON (see servers/job)
//	<prefix>agent/<agent-id>            an agent's registration, under its lease
//	<prefix>status/<agent-id>           an agent's job status, under its lease
//
// It must not interpret values; parsing a job belongs to servers/job.
package etcdx
