package testkit

import (
	"bytes"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Cluster is the cluster of .ci/cluster.sh (`make cluster-up`): three etcd
// members, three Kafka nodes and one Elasticsearch on 127.0.0.1. The fields
// are comma lists as brun's ini takes them.
type Cluster struct {
	Etcd  string // etcd client endpoints, host:port
	Kafka string // Kafka brokers, host:port
	ES    string // Elasticsearch, http://host:port
}

// ClusterIntegration skips t unless BRUN_CLUSTER=1 (`make test-cluster`
// sets it); then it asks .ci/cluster.sh for the cluster's addresses and
// fails t if any member does not answer.
func ClusterIntegration(t testing.TB) Cluster {
	t.Helper()
	if os.Getenv("BRUN_CLUSTER") != "1" {
		t.Skip("cluster test: run `make test-cluster` (or set BRUN_CLUSTER=1 with `make cluster-up` running)")
	}
	var c Cluster
	for _, line := range strings.Split(ClusterSh(t, "endpoints"), "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), "=")
		switch k {
		case "CLUSTER_ETCD_ENDPOINTS":
			c.Etcd = v
		case "CLUSTER_KAFKA_ENDPOINTS":
			c.Kafka = v
		case "CLUSTER_ES_ENDPOINTS":
			c.ES = v
		}
	}
	addrs := strings.Split(c.Etcd+","+c.Kafka, ",")
	if u, err := url.Parse(c.ES); err == nil {
		addrs = append(addrs, u.Host)
	}
	for _, addr := range addrs {
		conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			t.Fatalf("cluster member %s is not answering (is `make cluster-up` running?): %v", addr, err)
		}
		conn.Close()
	}
	return c
}

// ClusterSh runs .ci/cluster.sh with args (kill, start, etcd-leader,
// kafka-leader, ...) and returns its standard output, trimmed; a failure
// fails t.
func ClusterSh(t testing.TB, args ...string) string {
	t.Helper()
	out, err := ClusterShErr(args...)
	if err != nil {
		t.Fatalf(".ci/cluster.sh %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// ClusterShErr is ClusterSh returning its error (with the script's
// output) instead of failing the test: for questions whose answer may be
// "not yet", such as a partition's leader during an election.
func ClusterShErr(args ...string) (string, error) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	cmd := exec.Command("bash", append([]string{filepath.Join(root, ".ci", "cluster.sh")}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", &clusterShError{err: err, out: string(out) + stderr.String()}
	}
	return strings.TrimSpace(string(out)), nil
}

type clusterShError struct {
	err error
	out string
}

func (e *clusterShError) Error() string { return e.err.Error() + "\n" + e.out }

// Ports returns the ports of the cluster's etcd members and Kafka nodes,
// for NetHost.Forward.
func (c Cluster) Ports() []int {
	var ports []int
	for _, addr := range strings.Split(c.Etcd+","+c.Kafka, ",") {
		if _, port, err := net.SplitHostPort(strings.TrimSpace(addr)); err == nil {
			if n, err := strconv.Atoi(port); err == nil {
				ports = append(ports, n)
			}
		}
	}
	return ports
}
