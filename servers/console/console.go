package console

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"brun/base/config"
	"brun/base/etcdx"
	"brun/base/logging"
)

// Server serves the console's HTTP endpoints.
type Server struct {
	cfg  *config.Config
	cli  *clientv3.Client
	keys etcdx.Keys
}

// Run listens on console.listen until ctx ends. With no console.token it
// refuses a non-loopback address: the API is the door to every host's jobs.
func Run(ctx context.Context, cfg *config.Config, cli *clientv3.Client) error {
	log := logging.For("console")
	if cfg.Console.Token == "" && !loopback(cfg.Console.Listen) {
		return fmt.Errorf("console.listen: %q is not a loopback address and console.token is empty; set a token or listen on 127.0.0.1", cfg.Console.Listen)
	}
	s := &Server{cfg: cfg, cli: cli, keys: etcdx.Keys{Prefix: cfg.Etcd.Prefix}}
	ln, err := net.Listen("tcp", cfg.Console.Listen)
	if err != nil {
		return fmt.Errorf("console.listen %s: %w", cfg.Console.Listen, err)
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	log.Infof("console on http://%s", ln.Addr())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("console: %w", err)
	}
	return nil
}

// Handler returns the console's routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /api/agents", s.auth(http.HandlerFunc(s.agents)))
	mux.Handle("GET /api/jobs", s.auth(http.HandlerFunc(s.jobs)))
	return mux
}

func (s *Server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tok := s.cfg.Console.Token; tok != "" {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(tok)) != 1 {
				w.Header().Set("WWW-Authenticate", "Bearer")
				writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "a bearer token is required"})
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// agents lists every registered agent (only live ones have a key: it is
// bound to the agent's lease).
func (s *Server) agents(w http.ResponseWriter, r *http.Request) {
	resp, err := s.cli.Get(r.Context(), s.cfg.Etcd.Prefix+"agent/", clientv3.WithPrefix())
	if err != nil {
		writeJSON(w, http.StatusBadGateway, map[string]string{"error": "etcd: " + err.Error()})
		return
	}
	out := []json.RawMessage{}
	for _, kv := range resp.Kvs {
		if json.Valid(kv.Value) {
			out = append(out, kv.Value)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// jobs lists every job of every agent, as stored.
func (s *Server) jobs(w http.ResponseWriter, r *http.Request) {
	resp, err := s.cli.Get(r.Context(), s.keys.AllJobs(), clientv3.WithPrefix())
	if err != nil {
		writeJSON(w, http.StatusBadGateway, map[string]string{"error": "etcd: " + err.Error()})
		return
	}
	type jobOut struct {
		Agent    string          `json:"agent"`
		Name     string          `json:"name"`
		Key      string          `json:"key"`
		Value    json.RawMessage `json:"value,omitempty"`
		Raw      string          `json:"raw,omitempty"`
		Revision int64           `json:"revision"`
	}
	out := []jobOut{}
	for _, kv := range resp.Kvs {
		agent, name, ok := s.keys.ParseJob(string(kv.Key))
		if !ok {
			continue
		}
		j := jobOut{Agent: agent, Name: name, Key: string(kv.Key), Revision: kv.ModRevision}
		if json.Valid(kv.Value) {
			j.Value = kv.Value
		} else {
			j.Raw = string(kv.Value)
		}
		out = append(out, j)
	}
	writeJSON(w, http.StatusOK, out)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func loopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
