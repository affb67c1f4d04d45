package testkit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Addresses of the servers .ci/stack.sh runs.
const (
	EtcdAddr  = "127.0.0.1:2379"
	KafkaAddr = "127.0.0.1:9092"
	ESURL     = "http://127.0.0.1:9200"
)

// Integration skips t unless BRUN_INTEGRATION=1, and then fails it if any
// server does not answer.
func Integration(t testing.TB) {
	t.Helper()
	if os.Getenv("BRUN_INTEGRATION") != "1" {
		t.Skip("integration test: run `make test` (or set BRUN_INTEGRATION=1 with `make stack-up` running)")
	}
	for _, addr := range []string{EtcdAddr, KafkaAddr, strings.TrimPrefix(ESURL, "http://")} {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			t.Fatalf("server %s is not answering (is `make stack-up` running?): %v", addr, err)
		}
		c.Close()
	}
}

// Unique returns a name unique to this test run, for topics, prefixes and
// groups, so tests never see each other's data.
func Unique(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), time.Now().UnixNano()%1e9)
}

// Etcdctl runs etcdctl (v3 API) against the test etcd and returns its
// output; a failure fails t.
func Etcdctl(t testing.TB, args ...string) string {
	t.Helper()
	return EtcdctlAt(t, EtcdAddr, args...)
}

// EtcdctlAt runs etcdctl (v3 API) against the etcd at endpoint.
func EtcdctlAt(t testing.TB, endpoint string, args ...string) string {
	t.Helper()
	cmd := exec.Command("etcdctl", append([]string{"--endpoints=" + endpoint}, args...)...)
	cmd.Env = append(os.Environ(), "ETCDCTL_API=3")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("etcdctl %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// EtcdctlAs runs etcdctl (v3 API) against the etcd at endpoint as user
// ("name:password", as etcdctl's --user takes it; see EmbeddedEtcdUser).
// The user goes in ETCDCTL_USER, not on the command line, where other
// processes could read the password.
func EtcdctlAs(t testing.TB, endpoint, user string, args ...string) string {
	t.Helper()
	cmd := exec.Command("etcdctl", append([]string{"--endpoints=" + endpoint}, args...)...)
	cmd.Env = append(os.Environ(), "ETCDCTL_API=3", "ETCDCTL_USER="+user)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("etcdctl as %s %v: %v\n%s", strings.SplitN(user, ":", 2)[0], args, err, out)
	}
	return string(out)
}

// EmbeddedEtcdUser returns the user of the embedded etcd whose data is in
// etcdDir (data.dir/etcd), as EtcdctlAs takes it: "root:" and the password
// brun keeps in etcdDir/root.password. A missing file fails t.
func EmbeddedEtcdUser(t testing.TB, etcdDir string) string {
	t.Helper()
	pw, err := os.ReadFile(filepath.Join(etcdDir, "root.password"))
	if err != nil {
		t.Fatalf("the embedded etcd's password: %v", err)
	}
	return "root:" + strings.TrimSpace(string(pw))
}

// esUnavailableFor is how long ES retries a 503 answer. Elasticsearch
// answers 503 (no_shard_available_action_exception) to a search or count
// on an index whose primary shard is still starting: the index the
// transfer has just created by its first bulk request, on a busy machine,
// for a moment. 503 means "not now", never "no".
const esUnavailableFor = time.Minute

// ES sends a request to the test Elasticsearch and decodes the JSON answer
// into out (when not nil). A 503 answer is asked again every 250 ms for up
// to esUnavailableFor; any other non-2xx answer fails t.
func ES(t testing.TB, method, path string, body string, out any) {
	t.Helper()
	ESAt(t, ESURL, method, path, body, out)
}

// ESAt is ES against the Elasticsearch at base (http://host:port).
func ESAt(t testing.TB, base, method, path string, body string, out any) {
	t.Helper()
	var data []byte
	deadline := time.Now().Add(esUnavailableFor)
	for {
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		data, _ = io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode == http.StatusServiceUnavailable && time.Now().Before(deadline) {
			time.Sleep(250 * time.Millisecond)
			continue
		}
		if res.StatusCode/100 != 2 {
			t.Fatalf("%s %s: %s\n%s", method, path, res.Status, data)
		}
		break
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v\n%s", method, path, err, data)
		}
	}
}

// ESCount refreshes the indices matching pattern and returns how many
// documents they hold (0 when none exists yet).
func ESCount(t testing.TB, pattern string) int {
	t.Helper()
	return ESCountAt(t, ESURL, pattern)
}

// ESCountAt is ESCount against the Elasticsearch at base.
func ESCountAt(t testing.TB, base, pattern string) int {
	t.Helper()
	ESAt(t, base, "POST", "/"+pattern+"/_refresh?allow_no_indices=true&ignore_unavailable=true", "", nil)
	var r struct {
		Count int `json:"count"`
	}
	ESAt(t, base, "GET", "/"+pattern+"/_count?allow_no_indices=true&ignore_unavailable=true", "", &r)
	return r.Count
}

// FreeAddr returns a 127.0.0.1:port address nothing listens on now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// WaitFor polls cond every 250 ms until it returns true or timeout passes,
// then fails t with what.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// SyncBuffer is a bytes.Buffer safe for a process's output and a test
// reading it at the same time.
type SyncBuffer struct {
	mu  chan struct{}
	buf bytes.Buffer
}

// NewSyncBuffer returns an empty SyncBuffer.
func NewSyncBuffer() *SyncBuffer { return &SyncBuffer{mu: make(chan struct{}, 1)} }

// Write appends p.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *SyncBuffer) String() string {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.String()
}

// WriteBenchLines writes the benchmarks' file: n lines of 130 bytes (with
// the newline), each with its sequence number.
func WriteBenchLines(t testing.TB, path string, n int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for i := 0; i < n; i++ {
		fmt.Fprintf(w, "2026-11-25T04:05:06.789Z INFO [http-nio-8080-exec-7] c.e.api.ItemController - GET /api/v1/items/%010d 200 5120B\n", i)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// RealLog returns one of the real log samples in testdata/reallogs (byte
// exact: CRLF endings, invalid UTF-8; see its README). A missing sample
// fails t.
func RealLog(t testing.TB, name string) []byte {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	data, err := os.ReadFile(filepath.Join(filepath.Dir(file), "testdata", "reallogs", name))
	if err != nil {
		t.Fatalf("real log sample: %v", err)
	}
	return data
}
