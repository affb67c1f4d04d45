// Package testkit holds helpers for brun's integration tests: gating on the
// real servers that `make test` starts (etcd, Kafka, Elasticsearch on
// 127.0.0.1), etcdctl, and Elasticsearch queries.
//
// Integration tests call Integration(t) first. Without BRUN_INTEGRATION=1
// they are skipped (plain `go test ./...` needs no servers); with it, a
// server that does not answer fails the test instead of skipping it.
//
// Tests against the cluster of `make cluster-up` (three etcd members, three
// Kafka nodes) call ClusterIntegration(t) instead: skipped without
// BRUN_CLUSTER=1, it returns the cluster's addresses, and ClusterSh kills,
// starts and finds the leaders of its members.
package testkit
