package console

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	clientv3 "go.etcd.io/etcd/client/v3"

	"brun/base/config"
	"brun/base/esx"
	"brun/base/logging"
	"brun/base/metrics"
)

// probeTimeout bounds each /readyz check: a probe that waits longer than a
// scraper or load balancer does is no use.
const probeTimeout = 2 * time.Second

// check is one dependency /readyz probes.
type check struct {
	name   string // "etcd", "kafka", "elasticsearch"
	target string // what was probed, for the answer
	probe  func(ctx context.Context) error
}

// checkResult is one line of the /readyz answer.
type checkResult struct {
	Name   string `json:"name"`
	Target string `json:"target"`
	OK     bool   `json:"ok"`
	Error  string `json:"error,omitempty"`
}

// ServeOps serves /metrics, /healthz and /readyz on brun.metrics.listen
// until ctx ends; brun runs it when the console role is off (with the
// console role they are on console.listen). It returns an error when the
// address can't be listened on.
//
// Its answers carry the console's security headers but it checks no Host:
// it serves no page and no credential, only what a scraper may read, and
// scrapers reach agents by names console.hosts does not list.
func ServeOps(ctx context.Context, cfg *config.Config, cli *clientv3.Client) error {
	mux := http.NewServeMux()
	s := &Server{cfg: cfg, cli: cli, log: logging.For("metrics"), checks: checksFor(cfg, cli)}
	s.opsRoutes(mux)
	return serve(ctx, "brun.metrics.listen", cfg.Brun.MetricsListen, secureHeaders(mux), s.log)
}

// opsRoutes adds /metrics (every series of metrics.Registry), /healthz
// (200 while the process serves HTTP) and /readyz (200 when every
// dependency of the configured roles answers, else 503 naming those that
// do not).
func (s *Server) opsRoutes(mux *http.ServeMux) {
	mux.Handle("GET /metrics", promhttp.HandlerFor(metrics.Registry, promhttp.HandlerOpts{Registry: metrics.Registry}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", s.readyz)
}

// readyz runs every check at once, each bounded by probeTimeout, and
// answers 200 when all pass, else 503; the JSON body lists each check.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	results := make([]checkResult, len(s.checks))
	var wg sync.WaitGroup
	for i, c := range s.checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(r.Context(), probeTimeout)
			defer cancel()
			results[i] = checkResult{Name: c.name, Target: c.target, OK: true}
			if err := c.probe(ctx); err != nil {
				results[i].OK, results[i].Error = false, err.Error()
			}
		}()
	}
	wg.Wait()
	code, failing := http.StatusOK, []string{}
	for _, res := range results {
		if !res.OK {
			code = http.StatusServiceUnavailable
			failing = append(failing, res.Name)
		}
	}
	writeJSON(w, code, map[string]any{"ready": code == http.StatusOK, "failing": failing, "checks": results})
}

// checksFor lists the dependencies of the roles cfg runs: etcd always
// (every role reads it; embedded or not), Kafka for the agent and
// transfer roles, Elasticsearch for the transfer role, unless brun stands
// in for them (empty endpoints).
func checksFor(cfg *config.Config, cli *clientv3.Client) []check {
	cs := []check{{
		name:   "etcd",
		target: strings.Join(cfg.Etcd.Endpoints, ","),
		probe: func(ctx context.Context) error {
			// A linearizable read: it succeeds only when the cluster has a leader.
			_, err := cli.Get(ctx, cfg.Etcd.Prefix+"agent/", clientv3.WithPrefix(), clientv3.WithCountOnly())
			return err
		},
	}}
	if (cfg.HasRole(config.RoleAgent) || cfg.HasRole(config.RoleTransfer)) && !cfg.InProcessKafka() {
		k := cfg.Kafka
		cs = append(cs, check{name: "kafka", target: strings.Join(k.Endpoints, ","), probe: func(ctx context.Context) error {
			return anyOf(ctx, k.Endpoints, func(ctx context.Context, addr string) error { return probeKafka(ctx, addr, k.TLS) })
		}})
	}
	if cfg.HasRole(config.RoleTransfer) && !cfg.LocalES() {
		e := cfg.ES
		cs = append(cs, check{name: "elasticsearch", target: strings.Join(e.Endpoints, ","), probe: func(ctx context.Context) error {
			return anyOf(ctx, e.Endpoints, func(ctx context.Context, url string) error { return probeES(ctx, url, e) })
		}})
	}
	return cs
}

// anyOf succeeds when probe succeeds for one of targets; else it returns
// every target's error.
func anyOf(ctx context.Context, targets []string, probe func(context.Context, string) error) error {
	if len(targets) == 0 {
		return fmt.Errorf("no endpoints configured")
	}
	var errs []string
	for _, t := range targets {
		err := probe(ctx, t)
		if err == nil {
			return nil
		}
		errs = append(errs, err.Error())
	}
	return fmt.Errorf("%s", strings.Join(errs, "; "))
}

// probeKafka succeeds when addr accepts a TCP connection (and completes a
// TLS handshake when kafka.tls is on). It does not authenticate: SASL
// failures show up in the agent's and transfer's logs.
func probeKafka(ctx context.Context, addr string, t config.TLS) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("kafka %s: %w", addr, err)
	}
	defer conn.Close()
	tc, err := t.ClientConfig()
	if err != nil {
		return fmt.Errorf("kafka.%w", err)
	}
	if tc == nil {
		return nil
	}
	if tc.ServerName == "" {
		tc.ServerName, _, _ = net.SplitHostPort(addr)
	}
	if err := tls.Client(conn, tc).HandshakeContext(ctx); err != nil {
		return fmt.Errorf("kafka %s: tls: %w", addr, err)
	}
	return nil
}

// probeES succeeds when base answers GET /_cluster/health with a 2xx. It
// asks _cluster/health rather than / because some distributions answer /
// with 405; it does not wait for any cluster status (a red cluster is
// reachable: the bulk writer reports per-document failures itself).
func probeES(ctx context.Context, base string, e config.ES) error {
	res, err := esDo(ctx, e, base, http.MethodGet, "/_cluster/health", nil)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	io.Copy(io.Discard, io.LimitReader(res.Body, 1<<16))
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("elasticsearch %s: GET /_cluster/health: %s", base, res.Status)
	}
	return nil
}

// esDo sends one request to the Elasticsearch at base with es.apikey or
// es.username/password and es.tls.*, through the client the transfer
// uses too (package esx); body, when not nil, is JSON.
func esDo(ctx context.Context, e config.ES, base, method, path string, body []byte) (*http.Response, error) {
	es, err := esClient(e, base)
	if err != nil {
		return nil, err
	}
	res, err := esx.Do(ctx, es, method, path, body)
	if err != nil {
		return nil, fmt.Errorf("elasticsearch %s: %w", base, err)
	}
	return res, nil
}

// esClients holds one client per endpoint and [es] settings, made on
// first use, so probes and searches reuse their connections.
var esClients struct {
	sync.Mutex
	m map[string]*elasticsearch.Client
}

func esClient(e config.ES, base string) (*elasticsearch.Client, error) {
	key := base + "\x00" + fmt.Sprintf("%#v", e)
	esClients.Lock()
	defer esClients.Unlock()
	if es := esClients.m[key]; es != nil {
		return es, nil
	}
	es, err := esx.New(e, base)
	if err != nil {
		return nil, err
	}
	if esClients.m == nil {
		esClients.m = map[string]*elasticsearch.Client{}
	}
	esClients.m[key] = es
	return es, nil
}

// ProbeES asks the Elasticsearch at base for GET /_cluster/health with
// es.apikey or es.username/password and es.tls.*, as /readyz does; for
// `brun check -connect`.
func ProbeES(ctx context.Context, base string, e config.ES) error { return probeES(ctx, base, e) }
