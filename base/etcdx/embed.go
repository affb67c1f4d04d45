package etcdx

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// embedStartTimeout bounds how long an embedded etcd may take to elect
// itself leader (it replays its write-ahead log first).
const embedStartTimeout = time.Minute

// Embedded is a single-member etcd running inside brun, used when
// etcd.endpoints is empty. Its keys, watches and leases are those of any
// etcd: the same code runs against it.
type Embedded struct {
	// Endpoint is the client address ("127.0.0.1:2379"), with the real
	// port when the configured one was 0.
	Endpoint string
	// Dir holds its data and its log (etcd.log).
	Dir string
	e   *embed.Etcd
}

// StartEmbedded starts an etcd member with its data in dir, serving
// clients on listen (host:port; port 0 picks a free one), and waits until
// it serves. Its peer port is a free loopback port that nothing dials:
// the cluster has one member. Old revisions are compacted hourly, so the
// agents' status updates do not grow it without bound. etcd's own log
// goes to dir/etcd.log.
func StartEmbedded(dir, listen string) (*Embedded, error) {
	// etcd wants its own directory private; data.dir above it stays as is.
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, fmt.Errorf("etcd.embed: data dir: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("etcd.embed: data dir: %w", err)
	}
	cfg := embed.NewConfig()
	cfg.Name = "brun"
	cfg.Dir = filepath.Join(dir, "member-data")
	client := url.URL{Scheme: "http", Host: listen}
	peer := url.URL{Scheme: "http", Host: "127.0.0.1:0"}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.AutoCompactionMode = embed.CompactorModePeriodic
	cfg.AutoCompactionRetention = "1h"
	cfg.LogLevel = "warn"
	cfg.LogOutputs = []string{filepath.Join(dir, "etcd.log")}

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("etcd.embed.listen %s: starting the embedded etcd (its log: %s): %w", listen, cfg.LogOutputs[0], err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("embedded etcd (its log: %s): %w", cfg.LogOutputs[0], err)
	case <-time.After(embedStartTimeout):
		e.Close()
		return nil, fmt.Errorf("embedded etcd did not become ready in %v (its log: %s)", embedStartTimeout, cfg.LogOutputs[0])
	}
	return &Embedded{Endpoint: e.Clients[0].Addr().String(), Dir: dir, e: e}, nil
}

// Close stops the member gracefully: clients are cut, the data is synced.
func (m *Embedded) Close() { m.e.Close() }
