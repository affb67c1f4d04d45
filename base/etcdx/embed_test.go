package etcdx

import (
	"context"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"brun/base/config"
)

// The embedded etcd serves clients like any etcd, and keeps its data
// across a restart.
func TestEmbeddedKeepsItsData(t *testing.T) {
	dir := t.TempDir()
	start := func() (*Embedded, *clientv3.Client) {
		t.Helper()
		m, err := StartEmbedded(dir, "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		cli, err := New(config.Etcd{Endpoints: []string{m.Endpoint}, DialTimeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return m, cli
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	m, cli := start()
	if _, err := cli.Put(ctx, "/logagent/job/a/app", `{"path":"/var/log/app.log","topic":"app"}`); err != nil {
		t.Fatal(err)
	}
	cli.Close()
	m.Close()

	m, cli = start()
	defer m.Close()
	defer cli.Close()
	res, err := cli.Get(ctx, "/logagent/job/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Kvs) != 1 || !strings.Contains(string(res.Kvs[0].Value), "app.log") {
		t.Fatalf("after a restart: %v", res.Kvs)
	}
}

// A port in use is an error naming etcd.embed.listen.
func TestEmbeddedPortInUse(t *testing.T) {
	m, err := StartEmbedded(t.TempDir(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	_, err = StartEmbedded(t.TempDir(), m.Endpoint)
	if err == nil || !strings.Contains(err.Error(), "etcd.embed.listen "+m.Endpoint) {
		t.Fatalf("error %v does not name etcd.embed.listen", err)
	}
}
