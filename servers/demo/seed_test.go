package demo

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"

	"brun/base/config"
	"brun/base/etcdx"
)

// Against the embedded etcd, which lets in only its root user, the demo,
// given a client with the credentials brun hands every role, puts its job.
func TestRunSeedsTheJobInTheEmbeddedEtcd(t *testing.T) {
	dir := t.TempDir()
	m, err := etcdx.StartEmbedded(filepath.Join(dir, "etcd"), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	cfg := config.Default()
	cfg.Agent.ID = "laptop"
	cfg.Demo.Path = filepath.Join(dir, "demo", "app.log")
	cfg.Etcd.Endpoints = []string{m.Endpoint}
	cfg.Etcd.Username, cfg.Etcd.Password = m.Username, m.Password
	cli, err := etcdx.New(cfg.Etcd)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	key := etcdx.Keys{Prefix: cfg.Etcd.Prefix}.Job(cfg.Agent.ID, JobName)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); Run(ctx, &cfg, cli) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := cli.Get(context.Background(), key)
		if err == nil && len(res.Kvs) == 1 {
			if got := string(res.Kvs[0].Value); got != string(Spec(&cfg)) {
				t.Fatalf("demo job %s = %s, want %s", key, got, Spec(&cfg))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no demo job at %s after 30s: %v", key, err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The same request without the credentials is refused: the job above
	// was not written through an open door.
	anon, err := etcdx.New(config.Etcd{Endpoints: []string{m.Endpoint}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer anon.Close()
	actx, acancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer acancel()
	if _, err := anon.Get(actx, key); !errors.Is(err, rpctypes.ErrUserEmpty) {
		t.Fatalf("Get without credentials: %v, want %v", err, rpctypes.ErrUserEmpty)
	}
}
