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

	"github.com/sirupsen/logrus"
	clientv3 "go.etcd.io/etcd/client/v3"

	"brun/base/config"
	"brun/base/etcdx"
	"brun/base/logging"
)

// etcdTimeout bounds each etcd call an API request makes, so a down etcd
// answers 502 instead of hanging the page.
const etcdTimeout = 5 * time.Second

// Server serves the console's HTTP endpoints: the API under /api, the web
// page at /, and /metrics, /healthz, /readyz.
type Server struct {
	cfg    *config.Config
	cli    *clientv3.Client
	keys   etcdx.Keys
	log    *logrus.Entry
	checks []check
}

// New returns a console for cfg that reads and writes etcd through cli.
// It does no I/O.
func New(cfg *config.Config, cli *clientv3.Client) *Server {
	return &Server{
		cfg:    cfg,
		cli:    cli,
		keys:   etcdx.Keys{Prefix: cfg.Etcd.Prefix},
		log:    logging.For("console"),
		checks: checksFor(cfg, cli),
	}
}

// Run serves the console on console.listen until ctx ends. With no
// console.token it refuses a non-loopback address: the API is the door to
// every host's files. It returns an error when the address can't be
// listened on; a clean shutdown returns nil.
func Run(ctx context.Context, cfg *config.Config, cli *clientv3.Client) error {
	if cfg.Console.Token == "" && !config.IsLoopback(cfg.Console.Listen) {
		return fmt.Errorf("console.listen: %q is not a loopback address and console.token is empty; set a token or listen on 127.0.0.1", cfg.Console.Listen)
	}
	s := New(cfg, cli)
	go s.countLoop(ctx)
	return serve(ctx, "console.listen", cfg.Console.Listen, s.Handler(), s.log)
}

// Handler returns every console route. /api routes need the bearer token
// when console.token is set; the page, /metrics, /healthz and /readyz do
// not (the page holds no data: it calls the API with the token the user
// gives it).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	s.opsRoutes(mux)
	api := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, s.auth(h)) }
	api("GET /api/agents", s.listAgents)
	api("GET /api/jobs", s.listJobs)
	api("GET /api/agents/{agent}/jobs", s.listJobs)
	api("GET /api/agents/{agent}/jobs/{name}", s.getJob)
	api("PUT /api/agents/{agent}/jobs/{name}", s.putJob)
	api("DELETE /api/agents/{agent}/jobs/{name}", s.deleteJob)
	api("GET /api/agents/{agent}/jobs/{name}/events", s.jobEvents)
	api("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no API route %s %s", r.Method, r.URL.Path)
	})
	mux.Handle("/", uiHandler())
	return mux
}

// auth lets a request through when console.token is empty or the request
// carries "Authorization: Bearer <token>"; otherwise it answers 401. The
// comparison takes the same time whatever the token's prefix.
func (s *Server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tok := s.cfg.Console.Token; tok != "" {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(tok)) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="brun console"`)
				writeError(w, http.StatusUnauthorized, "a bearer token is required (Authorization: Bearer <console.token>)")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// serve runs h on addr until ctx ends; key names the setting addr came
// from, for the error.
func serve(ctx context.Context, key, addr string, h http.Handler, log *logrus.Entry) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s %s: %w", key, addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	log.Infof("serving on http://%s (%s)", ln.Addr(), key)
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("%s %s: %w", key, addr, err)
	}
	return nil
}

// apiError is the body of every API error. Fields is set for an invalid
// job: one entry per bad field, as job.Parse names them.
type apiError struct {
	Error    string          `json:"error"`
	Fields   []fieldError    `json:"fields,omitempty"`
	Revision int64           `json:"revision,omitempty"`
	Current  json.RawMessage `json:"current,omitempty"`
}

type fieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

func writeError(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, apiError{Error: fmt.Sprintf(format, args...)})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
