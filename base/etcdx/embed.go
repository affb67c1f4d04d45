package etcdx

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"brun/base/logging"
)

// embedStartTimeout bounds how long an embedded etcd may take to elect
// itself leader (it replays its write-ahead log first), and then to check
// or set up its authentication.
const embedStartTimeout = time.Minute

// httpSocket is the unix socket, in a private directory, on which the
// embedded etcd serves its HTTP endpoints (/health, /metrics, /version,
// /debug): reachable by brun's user only.
const httpSocket = "http.sock"

// maxSocketPath is the longest unix socket path every platform takes
// (sun_path is 108 bytes on Linux, 104 on macOS, with the final NUL).
const maxSocketPath = 103

// Embedded is a single-member etcd running inside brun, used when
// etcd.endpoints is empty. Its keys, watches and leases are those of any
// etcd: the same code runs against it.
//
// brun runs as root and does what the jobs in etcd say, so the member
// trusts no one it can't authenticate: on its client address it speaks
// gRPC only (no HTTP gateway, no CORS: a web page can't reach it), with
// etcd authentication on (user root, a generated password in
// Dir/root.password, mode 0600), and it has no peer listener at all.
type Embedded struct {
	// Endpoint is the client address ("127.0.0.1:2379"), with the real
	// port when the configured one was 0.
	Endpoint string
	// Dir holds its data, its log (etcd.log) and PasswordFile.
	Dir string
	// Username and Password authenticate a client as the member's root
	// user, as every role's client must (config's etcd.username and
	// etcd.password).
	Username, Password string
	// PasswordFile is the absolute path of the file holding Password, for
	// an operator's etcdctl (ETCDCTL_USER=root:$(cat PasswordFile)).
	PasswordFile string

	e         *embed.Etcd
	private   string // holds httpSocket; removed at Close
	log       *etcdLogger
	closeOnce sync.Once
}

// StartEmbedded starts an etcd member with its data in dir, serving
// clients on listen (host:port; port 0 picks a free one), and waits until
// it serves with authentication on. Old revisions are compacted hourly,
// so the agents' status updates do not grow it without bound. etcd's own
// log goes to dir/etcd.log, its warnings also to brun's log.
//
// Errors name data.dir/etcd or etcd.embed.listen: a directory that is not
// writable or has too little room (see minFree), a busy port, a member
// whose password file is missing. Once it runs, a failure etcd can't go on
// from (a full disk) ends the process with exit status 1, after one line
// on brun's log saying why (see newEtcdLogger).
func StartEmbedded(dir, listen string) (*Embedded, error) {
	return startEmbedded(dir, listen, nil)
}

// startEmbedded is StartEmbedded; whileClosed, when not nil, is called
// with the client address once the member is ready but before its
// authentication is checked and clients are let in (tests).
func startEmbedded(dir, listen string, whileClosed func(endpoint string)) (_ *Embedded, err error) {
	// etcd wants its own directory private; data.dir above it stays as is.
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, fmt.Errorf("etcd.embed: data dir: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("etcd.embed: data dir: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("etcd.embed: data dir: %w", err)
	}
	if err := checkRoom(dir); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("etcd.embed: data dir: %w", err)
	}
	m := &Embedded{Dir: dir, Username: rootUser, PasswordFile: filepath.Join(abs, PasswordFile)}
	defer func() {
		if err != nil {
			m.Close()
		}
	}()
	if m.private, err = privateDir(); err != nil {
		return nil, fmt.Errorf("etcd.embed: %w", err)
	}
	private := m.private
	exit := func(code int) {
		os.RemoveAll(private) // Close won't run
		os.Exit(code)
	}
	if m.log, err = newEtcdLogger(dir, logging.For("etcd"), os.Stderr, exit); err != nil {
		return nil, err
	}

	var g gate
	cfg := embed.NewConfig()
	cfg.Name = "brun"
	cfg.Dir = filepath.Join(dir, "member-data")
	client := url.URL{Scheme: "http", Host: listen}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	// With an HTTP listener of its own, etcd serves gRPC alone on the
	// client address; the HTTP one is a socket only brun's user reaches.
	cfg.ListenClientHttpUrls = []url.URL{{Scheme: "unix", Path: filepath.Join(m.private, httpSocket)}}
	cfg.EnableGRPCGateway = false
	// Should HTTP ever be served where a browser can send to it: no origin
	// is allowed (.invalid is no one's), no Host but localhost.
	cfg.CORS = map[string]struct{}{"https://none.invalid": {}}
	cfg.HostWhitelist = map[string]struct{}{"localhost": {}}
	// A peer listener would take raft messages from any local user, and a
	// forged leader's entries are applied without authentication. With one
	// member nothing dials it: there is none. The advertised peer URL is
	// only the member's name in the cluster, as earlier versions stored it.
	cfg.ListenPeerUrls = nil
	cfg.AdvertisePeerUrls = []url.URL{{Scheme: "http", Host: "127.0.0.1:0"}}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.AutoCompactionMode = embed.CompactorModePeriodic
	cfg.AutoCompactionRetention = "1h"
	cfg.LogLevel = "warn"
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(m.log.zap)
	// The password is 192 random bits: bcrypt's key stretching adds
	// nothing to that, and at its default cost each client's
	// authentication takes a CPU-bound 50-100 ms.
	cfg.BcryptCost = uint(bcrypt.MinCost)
	cfg.GRPCAdditionalServerOptions = g.serverOptions()
	etcdLogPath := filepath.Join(dir, etcdLog)

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("etcd.embed.listen %s: starting the embedded etcd (its log: %s): %w", listen, etcdLogPath, err)
	}
	m.e = e
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		return nil, fmt.Errorf("embedded etcd (its log: %s): %w", etcdLogPath, err)
	case <-time.After(embedStartTimeout):
		return nil, fmt.Errorf("embedded etcd did not become ready in %v (its log: %s)", embedStartTimeout, etcdLogPath)
	}
	for _, l := range e.Clients {
		if l.Addr().Network() == "tcp" {
			m.Endpoint = l.Addr().String()
		}
	}
	if whileClosed != nil {
		whileClosed(m.Endpoint)
	}
	ctx, cancel := context.WithTimeout(context.Background(), embedStartTimeout)
	defer cancel()
	if m.Password, err = ensureAuth(ctx, e.Server, dir); err != nil {
		return nil, err
	}
	g.open.Store(true)
	return m, nil
}

// Close stops the member gracefully: clients are cut, the data is synced.
// It also removes the HTTP socket's directory. Calls after the first do
// nothing.
func (m *Embedded) Close() {
	m.closeOnce.Do(func() {
		if m.log != nil {
			m.log.stopping()
		}
		if m.e != nil {
			m.e.Close()
		}
		if m.private != "" {
			os.RemoveAll(m.private)
		}
		if m.log != nil {
			m.log.close()
		}
	})
}

// privateDir makes a new directory only brun's user can enter (0700), for
// the HTTP socket. It is under the temporary directory, where the socket
// path fits the platform's limit even when data.dir is long; under /tmp
// when $TMPDIR is too long itself.
func privateDir() (string, error) {
	for _, base := range []string{os.TempDir(), "/tmp"} {
		d, err := os.MkdirTemp(base, "brun-etcd-")
		if err != nil {
			continue
		}
		if len(filepath.Join(d, httpSocket)) <= maxSocketPath {
			return d, nil
		}
		os.Remove(d)
	}
	return "", errors.New("no temporary directory for the embedded etcd's HTTP socket: make $TMPDIR a short path")
}

// errNotOpen is what a client of the embedded etcd gets while brun checks
// or sets up the member's authentication.
var errNotOpen = status.Error(codes.Unavailable, "the embedded etcd is starting (brun is checking its authentication); try again")

// gate keeps the member's gRPC services shut until open: the client
// address listens from the start, but until authentication is known to be
// on, every call, of every service, gets errNotOpen. So a data dir of a
// member without authentication (a first start, an older brun's) is
// upgraded without a moment in which the address serves it to anyone.
type gate struct{ open atomic.Bool }

func (g *gate) serverOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			if !g.open.Load() {
				return nil, errNotOpen
			}
			return handler(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
			if !g.open.Load() {
				return errNotOpen
			}
			return handler(srv, ss)
		}),
	}
}
