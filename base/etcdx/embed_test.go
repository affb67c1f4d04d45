package etcdx

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"brun/base/config"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func startTest(t *testing.T, dir string) *Embedded {
	t.Helper()
	m, err := StartEmbedded(dir, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

// client returns a client of endpoint; with user "", one without
// credentials.
func client(t *testing.T, endpoint, user, password string) *clientv3.Client {
	t.Helper()
	cli, err := New(config.Etcd{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second, Username: user, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// A client without credentials can neither write nor read; with the
// member's root credentials it can; a wrong password is refused when the
// client is made.
func TestEmbeddedRequiresAuthentication(t *testing.T) {
	m := startTest(t, t.TempDir())
	ctx := testCtx(t)
	if m.Username != "root" || m.Password == "" {
		t.Fatalf("credentials %q/%q", m.Username, m.Password)
	}

	anon := client(t, m.Endpoint, "", "")
	if _, err := anon.Put(ctx, "/logagent/job/a/shadow", `{"path":"/etc/shadow","topic":"x"}`); !errors.Is(err, rpctypes.ErrUserEmpty) {
		t.Errorf("Put without credentials: %v, want %v", err, rpctypes.ErrUserEmpty)
	}
	if _, err := anon.Get(ctx, "/", clientv3.WithPrefix()); !errors.Is(err, rpctypes.ErrUserEmpty) {
		t.Errorf("Get without credentials: %v, want %v", err, rpctypes.ErrUserEmpty)
	}

	root := client(t, m.Endpoint, m.Username, m.Password)
	if _, err := root.Put(ctx, "/logagent/job/a/app", "v"); err != nil {
		t.Fatalf("Put as root: %v", err)
	}
	res, err := root.Get(ctx, "/logagent/job/", clientv3.WithPrefix())
	if err != nil || len(res.Kvs) != 1 || string(res.Kvs[0].Key) != "/logagent/job/a/app" {
		t.Fatalf("Get as root: %v %v (only the root's key must be there)", err, res)
	}

	_, err = New(config.Etcd{Endpoints: []string{m.Endpoint}, DialTimeout: 5 * time.Second, Username: "root", Password: m.Password + "x"})
	if !errors.Is(err, rpctypes.ErrAuthFailed) {
		t.Errorf("a wrong password: %v, want %v", err, rpctypes.ErrAuthFailed)
	}
}

// The password is generated once, kept private in dir/root.password, and
// the same across restarts, as is the data.
func TestEmbeddedKeepsItsDataAndPassword(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "etcd")
	m, err := StartEmbedded(dir, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client(t, m.Endpoint, m.Username, m.Password).Put(testCtx(t), "/logagent/job/a/app", `{"path":"/var/log/app.log","topic":"app"}`); err != nil {
		t.Fatal(err)
	}
	first := m.Password
	m.Close()

	path := filepath.Join(dir, "root.password")
	if abs, _ := filepath.Abs(path); m.PasswordFile != abs {
		t.Errorf("PasswordFile %q, want %q", m.PasswordFile, abs)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", path, info.Mode().Perm())
	}
	if d, _ := os.Stat(dir); d.Mode().Perm() != 0o700 {
		t.Errorf("%s has mode %v, want 0700", dir, d.Mode().Perm())
	}
	data, _ := os.ReadFile(path)
	if string(data) != first || !regexp.MustCompile(`^[A-Za-z0-9_-]{32}$`).Match(data) {
		t.Errorf("%s holds %q; the password is %q (want 32 URL-safe characters: 192 bits)", path, data, first)
	}
	if tmps, _ := filepath.Glob(path + ".tmp-*"); len(tmps) > 0 {
		t.Errorf("temporary files left: %v", tmps)
	}

	m = startTest(t, dir)
	if m.Password != first {
		t.Fatalf("after a restart the password is %q, was %q", m.Password, first)
	}
	res, err := client(t, m.Endpoint, m.Username, m.Password).Get(testCtx(t), "/logagent/job/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Kvs) != 1 || !strings.Contains(string(res.Kvs[0].Value), "app.log") {
		t.Fatalf("after a restart: %v", res.Kvs)
	}
}

// startLegacy runs an etcd in dir as brun did before it turned on
// authentication, and puts key.
func startLegacy(t *testing.T, dir, key string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := embed.NewConfig()
	cfg.Name = "brun"
	cfg.Dir = filepath.Join(dir, "member-data")
	client := url.URL{Scheme: "http", Host: "127.0.0.1:0"}
	peer := url.URL{Scheme: "http", Host: "127.0.0.1:0"}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.LogLevel = "error"
	cfg.LogOutputs = []string{filepath.Join(dir, "etcd.log")}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	<-e.Server.ReadyNotify()
	cli, err := New(config.Etcd{Endpoints: []string{e.Clients[0].Addr().String()}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if _, err := cli.Put(testCtx(t), key, "kept"); err != nil {
		t.Fatal(err)
	}
}

// A data dir of an earlier brun (no authentication) is upgraded with its
// keys kept, and while that is done the client address serves no one.
func TestEmbeddedUpgradesAnUnauthenticatedDataDir(t *testing.T) {
	dir := t.TempDir()
	startLegacy(t, dir, "/logagent/job/a/old")

	var closedPut, closedGet error
	m, err := startEmbedded(dir, "127.0.0.1:0", func(endpoint string) {
		anon := client(t, endpoint, "", "")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, closedPut = anon.Put(ctx, "/logagent/job/a/shadow", `{"path":"/etc/shadow","topic":"x"}`)
		_, closedGet = anon.Get(ctx, "/logagent/job/a/old")
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	for what, err := range map[string]error{"Put": closedPut, "Get": closedGet} {
		if status.Code(err) != codes.Unavailable {
			t.Errorf("%s while the member was being upgraded: %v, want code Unavailable", what, err)
		}
	}

	ctx := testCtx(t)
	if _, err := client(t, m.Endpoint, "", "").Get(ctx, "/logagent/job/a/old"); !errors.Is(err, rpctypes.ErrUserEmpty) {
		t.Errorf("Get without credentials after the upgrade: %v, want %v", err, rpctypes.ErrUserEmpty)
	}
	res, err := client(t, m.Endpoint, m.Username, m.Password).Get(ctx, "/logagent/job/a/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Kvs) != 1 || string(res.Kvs[0].Key) != "/logagent/job/a/old" || string(res.Kvs[0].Value) != "kept" {
		t.Fatalf("after the upgrade: %v, want only the old key", res.Kvs)
	}
}

// A member with authentication on but without its password file, or with
// a wrong one, does not start, and the error says which file and what to do.
func TestEmbeddedPasswordFileMissingOrWrong(t *testing.T) {
	dir := t.TempDir()
	m, err := StartEmbedded(dir, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	path := filepath.Join(dir, "root.password")

	if err := os.WriteFile(path, []byte("not-the-password"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = StartEmbedded(dir, "127.0.0.1:0")
	if err == nil || !strings.Contains(err.Error(), path+" does not hold the password") || !strings.Contains(err.Error(), "move "+dir+" away") {
		t.Errorf("with a wrong password file: %v", err)
	}

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	_, err = StartEmbedded(dir, "127.0.0.1:0")
	if err == nil || !strings.Contains(err.Error(), path+", which holds the password") || !strings.Contains(err.Error(), "put the file back") {
		t.Errorf("without the password file: %v", err)
	}
	if _, statErr := os.Stat(path); statErr == nil {
		t.Errorf("a new %s was written for a member that has its password already", path)
	}

	if err := os.WriteFile(path, []byte(m.Password+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m = startTest(t, dir)
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o600 {
		t.Errorf("a file others may read is left with mode %v", info.Mode().Perm())
	}
}

// The client address speaks gRPC only: a browser's cross-origin POST to
// etcd's JSON gateway writes nothing and is allowed no origin, and no
// other HTTP endpoint answers there. They are on a unix socket in a
// private directory, removed at Close. There is no peer listener.
func TestEmbeddedServesNoHTTPOnItsAddress(t *testing.T) {
	m := startTest(t, t.TempDir())
	if len(m.e.Peers) != 0 {
		t.Errorf("%d peer listeners, want none", len(m.e.Peers))
	}
	hc := &http.Client{Timeout: 5 * time.Second}

	// What a page on any site can send without a preflight: text/plain.
	body := `{"key": "L2xvZ2FnZW50L2pvYi9hL3NoYWRvdw==", "value": "eyJwYXRoIjoiL2V0Yy9zaGFkb3cifQ=="}`
	req, _ := http.NewRequest("POST", "http://"+m.Endpoint+"/v3/kv/put", strings.NewReader(body))
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("Origin", "http://evil.example")
	if res, err := hc.Do(req); err == nil {
		res.Body.Close()
		if res.StatusCode/100 == 2 || res.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("cross-origin POST /v3/kv/put: %s, Access-Control-Allow-Origin %q", res.Status, res.Header.Get("Access-Control-Allow-Origin"))
		}
	}
	for _, path := range []string{"/v3/kv/range", "/version", "/metrics", "/health", "/debug/vars"} {
		if res, err := hc.Get("http://" + m.Endpoint + path); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				t.Errorf("GET %s on the client address: %s", path, res.Status)
			}
		}
	}
	res, err := client(t, m.Endpoint, m.Username, m.Password).Get(testCtx(t), "/logagent/job/a/shadow")
	if err != nil || len(res.Kvs) != 0 {
		t.Fatalf("after the cross-origin POST: %v %v, want no key", err, res)
	}

	// The HTTP endpoints are on the socket, in a directory of mode 0700.
	if info, err := os.Stat(m.private); err != nil || info.Mode().Perm() != 0o700 {
		t.Fatalf("private directory %s: %v %v", m.private, info, err)
	}
	sock := filepath.Join(m.private, httpSocket)
	unix := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}
	hres, err := unix.Get("http://localhost/health")
	if err != nil {
		t.Fatalf("GET /health on %s: %v", sock, err)
	}
	hres.Body.Close()
	if hres.StatusCode != http.StatusOK {
		t.Errorf("GET /health on %s: %s", sock, hres.Status)
	}
	m.Close()
	if _, err := os.Stat(m.private); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after Close, %s: %v (want it removed)", m.private, err)
	}
}

// A port in use is an error naming etcd.embed.listen.
func TestEmbeddedPortInUse(t *testing.T) {
	m := startTest(t, t.TempDir())
	_, err := StartEmbedded(t.TempDir(), m.Endpoint)
	if err == nil || !strings.Contains(err.Error(), "etcd.embed.listen "+m.Endpoint) {
		t.Fatalf("error %v does not name etcd.embed.listen", err)
	}
}

// A directory with too little room is one error naming it, what is free
// and what is needed, before etcd is started (which would panic).
func TestEmbeddedRefusesATooSmallDisk(t *testing.T) {
	defer func(f func(string) (uint64, error)) { freeSpace = f }(freeSpace)
	freeSpace = func(string) (uint64, error) { return 50 << 20, nil }
	dir := filepath.Join(t.TempDir(), "etcd")
	_, err := StartEmbedded(dir, "127.0.0.1:0")
	want := "data.dir/etcd " + dir + ": 50.0 MiB free, the embedded etcd needs at least 128.0 MiB there"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want %q", err, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "member-data")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("etcd was started: %v", err)
	}
}

// A directory brun can't write is one error naming it.
func TestEmbeddedRefusesAReadOnlyDir(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes to any directory")
	}
	dir := filepath.Join(t.TempDir(), "etcd")
	if err := os.MkdirAll(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o700)
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	// StartEmbedded would make it 0700 again first: check it alone.
	err := checkRoom(dir)
	if err == nil || !strings.Contains(err.Error(), "data.dir/etcd "+dir+" is not writable") {
		t.Fatalf("error %v", err)
	}
}

// errDiskFull is what etcd passes with its fatal WAL errors.
var errDiskFull = errors.New("write data/etcd/member-data/member/wal/0.tmp: no space left on device")

// testLogger is a logrus logger writing lines without time to w, with the
// component field logging.For adds.
func testLogger(w io.Writer) *logrus.Entry {
	l := logrus.New()
	l.SetOutput(w)
	l.SetFormatter(&logrus.TextFormatter{DisableTimestamp: true})
	return l.WithField("component", "etcd")
}

// etcd's Fatal and Panic become one line on brun's log and stderr naming
// data.dir/etcd and the reason, then exit(1): no panic. Warnings and errors
// reach brun's log too, info does not; etcd.log has them all.
func TestEtcdFatalIsOneClearLineAndExit1(t *testing.T) {
	for _, level := range []string{"fatal", "panic"} {
		t.Run(level, func(t *testing.T) {
			dir := t.TempDir()
			var brunLog, stderr strings.Builder
			log := testLogger(&brunLog)
			exits := []int{}
			l, err := newEtcdLogger(dir, log, &stderr, func(code int) { exits = append(exits, code) })
			if err != nil {
				t.Fatal(err)
			}
			defer l.close()
			lg := l.zap

			lg.Info("not for brun's log")
			lg.Warn("apply request took too long", zap.Duration("took", time.Second))
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Errorf("etcd's %s panicked: %v", level, r)
					}
				}()
				if level == "fatal" {
					lg.Fatal("failed to save Raft hard state and entries", zap.Error(errDiskFull))
				} else {
					lg.Panic("failed to create WAL", zap.Error(errDiskFull))
				}
			}()

			if len(exits) != 1 || exits[0] != 1 {
				t.Errorf("exit calls %v, want [1]", exits)
			}
			out := brunLog.String()
			if strings.Contains(out, "not for brun's log") || !strings.Contains(out, `level=warning msg="apply request took too long" component=etcd took=1s`) {
				t.Errorf("brun's log does not have etcd's warning alone:\n%s", out)
			}
			lines := regexp.MustCompile(`(?m)^.*level=error.*$`).FindAllString(out, -1)
			if len(lines) != 1 || !strings.Contains(lines[0], "data.dir/etcd "+dir) || !strings.Contains(lines[0], "no space left on device") || !strings.Contains(lines[0], "brun exits") {
				t.Errorf("brun's log has %d error lines, want one naming data.dir/etcd and the reason:\n%s", len(lines), out)
			}
			if !strings.HasPrefix(stderr.String(), "brun: embedded etcd in data.dir/etcd "+dir) || strings.Count(stderr.String(), "\n") != 1 {
				t.Errorf("stderr: %q", stderr.String())
			}
			etcdLog, _ := os.ReadFile(filepath.Join(dir, "etcd.log"))
			if !strings.Contains(string(etcdLog), `"level":"`+level+`"`) || !strings.Contains(string(etcdLog), "apply request took too long") {
				t.Errorf("etcd.log:\n%s", etcdLog)
			}
		})
	}
}
