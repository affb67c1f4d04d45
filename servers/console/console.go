package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
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
// page at /, the login at /login, and /metrics, /healthz, /readyz.
type Server struct {
	cfg    *config.Config
	cli    *clientv3.Client
	keys   etcdx.Keys
	log    *logrus.Entry
	checks []check
	token  string           // the credential /api needs; "" lets no one in
	tails  chan struct{}    // a slot per live tail being answered (maxTails)
	now    func() time.Time // session expiry, the history's samples
	// history holds the agents' statuses of the last hour, for
	// /api/overview; watchStatus feeds it.
	history *History
}

// New returns a console for cfg that reads and writes etcd through cli and
// lets in the holders of token (see Token). It does no I/O.
func New(cfg *config.Config, cli *clientv3.Client, token string) *Server {
	return &Server{
		cfg:     cfg,
		cli:     cli,
		keys:    etcdx.Keys{Prefix: cfg.Etcd.Prefix},
		log:     logging.For("console"),
		checks:  checksFor(cfg, cli),
		token:   token,
		now:     time.Now,
		tails:   make(chan struct{}, maxTails),
		history: NewHistory(historyWindow, historyStep, historyMaxAgents, historyMaxJobs),
	}
}

// Run serves the console on console.listen until ctx ends, with the
// credential Token returns (the one brun printed the login URL for). With
// no console.token it refuses a non-loopback address: a generated token is
// for the host's own operator, and the API is the door to every host's
// files. It returns an error when the token file can't be used or the
// address can't be listened on; a clean shutdown returns nil.
func Run(ctx context.Context, cfg *config.Config, cli *clientv3.Client) error {
	if cfg.Console.Token == "" && !config.IsLoopback(cfg.Console.Listen) {
		return fmt.Errorf("console.listen: %q is not a loopback address and console.token is empty; set a token or listen on 127.0.0.1", cfg.Console.Listen)
	}
	token, _, err := Token(cfg)
	if err != nil {
		return err
	}
	s := New(cfg, cli, token)
	go s.countLoop(ctx)
	go s.watchStatus(ctx)
	return serve(ctx, "console.listen", cfg.Console.Listen, s.Handler(), s.log)
}

// Handler returns every console route behind the console's guards, in
// this order: the security headers (on every answer), the Host check
// (421), the same-origin check of requests that change something (403,
// 415), then the route. /api routes need a credential (401), except
// /api/login and /api/logout; the page, /login, /metrics, /healthz and
// /readyz do not (the page holds no data: it calls the API with the
// session cookie).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	s.opsRoutes(mux)
	api := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, s.auth(h)) }
	api("GET /api/agents", s.listAgents)
	api("GET /api/jobs", s.listJobs)
	api("DELETE /api/jobs", s.deleteKey)
	api("GET /api/agents/{agent}/jobs", s.listJobs)
	api("GET /api/agents/{agent}/jobs/{name}", s.getJob)
	api("PUT /api/agents/{agent}/jobs/{name}", s.putJob)
	api("DELETE /api/agents/{agent}/jobs/{name}", s.deleteJob)
	api("GET /api/agents/{agent}/jobs/{name}/events", s.jobEvents)
	api("GET /api/search", s.search)
	api("GET /api/surrounding", s.surrounding)
	api("GET /api/tail", s.tail)
	api("GET /api/overview", s.overview)
	api("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no API route %s %s", r.Method, r.URL.Path)
	})
	mux.HandleFunc("POST /api/login", s.login)
	mux.HandleFunc("POST /api/logout", s.logout)
	mux.HandleFunc("GET /login", s.loginPage)
	mux.Handle("/", uiHandler())
	hosts := newHostGuard(s.cfg.Console.Listen, s.cfg.Console.Hosts)
	return secureHeaders(hosts.wrap(sameOrigin(mux)))
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

// writeJSON writes v as compact JSON. Not indented: indenting re-indents
// every stored value inside v, and a value nesting thousands deep then
// grows quadratically (a 9,000-deep job made a 162 MB listing). No HTML
// escaping either: it grows '<' sixfold, and the page never parses an
// answer as HTML.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}
