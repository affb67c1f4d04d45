package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"brun/base/config"
	"brun/base/etcdx"
	"brun/base/testkit"
)

// runCheck runs `brun check` in process on an ini holding body, and
// returns its exit status and everything it printed.
func runCheck(t *testing.T, body string, args ...string) (int, string) {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "brun.ini")
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	code := check(append([]string{"-c", conf}, args...), "", &out, &out)
	return code, out.String()
}

// Three different mistakes in one file: all three are named, with their
// keys, and the misspelt key gets the key it most likely meant.
func TestCheckNamesEveryMistake(t *testing.T) {
	code, out := runCheck(t, `
[brun]
roles = agent,transfer
[etcd]
dialtimeout = 5000
[es]
nums = many
[elastic]
endpoints = http://127.0.0.1:9200
`)
	if code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	for _, want := range []string{
		`unknown key etcd.dialtimeout; did you mean "dialTimeout"?`,
		`es.nums: "many" is not a positive integer`,
		`unknown section [elastic]`,
		"jobs: not checked (the configuration file has problems)",
		"3 problem(s)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\nok:") {
		t.Errorf("says ok:\n%s", out)
	}
}

// A good file: "ok", a summary, exit 0; with etcd.endpoints empty the jobs
// are not checked, and check says so.
func TestCheckOKWithEmbeddedEtcd(t *testing.T) {
	code, out := runCheck(t, "[brun]\nroles = agent,transfer\n[agent]\nid = a1\n")
	if code != 0 {
		t.Errorf("exit status %d, want 0:\n%s", code, out)
	}
	for _, want := range []string{
		": ok\n",
		"warning: jobs: not checked: etcd.endpoints is empty",
		"ok: roles agent,transfer; embedded etcd (jobs not checked); kafka in process; es local files in",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// An etcd that does not answer: a warning naming etcd.endpoints, the jobs
// unchecked, and exit status 0, for the file itself is fine.
func TestCheckEtcdUnreachable(t *testing.T) {
	addr := testkit.FreeAddr(t) // nothing listens there
	start := time.Now()
	code, out := runCheck(t, "[agent]\nid = a1\n[etcd]\nendpoints = "+addr+"\n[kafka]\nendpoints = 127.0.0.1:9092\n", "-timeout", "300ms")
	if code != 0 {
		t.Errorf("exit status %d, want 0:\n%s", code, out)
	}
	if want := "warning: jobs: not checked: etcd.endpoints " + addr; !strings.Contains(out, want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v with -timeout 300ms", d)
	}
}

// No secret value is printed: not in the summary of a good file, not in
// the problems of a bad one, whether the secret is written in the file,
// comes from the environment, from a *_file twin or sits in a URL.
func TestCheckNeverPrintsSecrets(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "kafka.password")
	if err := os.WriteFile(secretFile, []byte("file-secret-2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BRUN_TEST_TOKEN", "env-secret-3")
	good := `
[brun]
roles = agent,transfer,console
[kafka]
endpoints = 127.0.0.1:9092
sasl.mechanism = PLAIN
sasl.username = brun
sasl.password_file = ` + secretFile + `
[es]
endpoints = https://elastic:url-secret-4@es.example.com:9200
password = inline-secret-1
apikey = inline-secret-5
[console]
token = ${BRUN_TEST_TOKEN}
`
	secrets := []string{"inline-secret-1", "file-secret-2", "env-secret-3", "url-secret-4", "inline-secret-5"}
	bad := strings.Replace(good, "[console]", "[es]\nnums = many\nendpoints = htps://elastic:url-secret-4@es\n[consol]\nx = 1\n[console]", 1)
	for name, body := range map[string]string{"good": good, "bad": bad} {
		code, out := runCheck(t, body)
		if (name == "good") != (code == 0) {
			t.Errorf("%s file: exit status %d:\n%s", name, code, out)
		}
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("%s file: output shows the secret %q:\n%s", name, s, out)
			}
		}
		if name == "good" && !strings.Contains(out, "es https://***@es.example.com:9200") {
			t.Errorf("good file: summary does not show the redacted es endpoint:\n%s", out)
		}
	}
}

// With a reachable etcd, every job the agent would refuse is named by its
// etcd key, with what is wrong; a misspelt field gets a suggestion. The
// etcd is brun's embedded one, in process, reached with its root password
// through etcd.password_file.
func TestCheckNamesBadJobsByKey(t *testing.T) {
	m, err := etcdx.StartEmbedded(t.TempDir(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	cli, err := etcdx.New(config.Etcd{Endpoints: []string{m.Endpoint}, DialTimeout: 5 * time.Second, Username: m.Username, Password: m.Password})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for key, value := range map[string]string{
		"/logagent/job/a1/good":      `{"path": "/var/log/syslog", "topic": "syslog"}`,
		"/logagent/job/a1/misspelt":  `{"pth": "/var/log/app.log", "topic": "app"}`,
		"/logagent/job/a2/bad topic": `{"path": "/var/log/x.log", "topic": "x"}`,
		"/logagent/job/a2/relative":  `{"path": "app.log", "topic": "app"}`,
		"/logagent/job/orphan":       `{"path": "/var/log/y.log", "topic": "y"}`,
		"/logagent/agent/a1":         `not a job, not checked`,
		"/other/job/a1/elsewhere":    `{"pth": 1}`,
	} {
		if _, err := cli.Put(ctx, key, value); err != nil {
			t.Fatal(err)
		}
	}
	code, out := runCheck(t, "[agent]\nid = a1\n[etcd]\nendpoints = "+m.Endpoint+"\nusername = "+m.Username+"\npassword_file = "+m.PasswordFile+"\n[kafka]\nendpoints = 127.0.0.1:9092\n")
	if code != 1 {
		t.Errorf("exit status %d, want 1:\n%s", code, out)
	}
	for _, want := range []string{
		"job /logagent/job/a1/misspelt:\n  pth: is not a job field",
		`did you mean "path"?`,
		`job /logagent/job/a2/bad topic:` + "\n" + `  job name "bad topic" is not`,
		"job /logagent/job/a2/relative:\n  path:",
		"job /logagent/job/orphan:\n  is not a job key",
		"jobs: 5 under /logagent/job/, 4 with problems",
		"4 problem(s)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, not := range []string{"job /logagent/job/a1/good", "elsewhere", "/logagent/agent/", m.Password} {
		if strings.Contains(out, not) {
			t.Errorf("output shows %q:\n%s", not, out)
		}
	}
}

// Help asked for is not a mistake: the commands and flags on standard
// output, exit status 0.
func TestHelpExitsZero(t *testing.T) {
	bin := testkit.Binary(t)
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}, {"check", "-h"}} {
		cmd := exec.Command(bin, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Errorf("brun %v: %v\n%s", args, err, stderr.String())
		}
		if !strings.Contains(string(out), "usage: brun") || !strings.Contains(string(out), "check") {
			t.Errorf("brun %v printed no usage on standard output:\n%s", args, out)
		}
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil || !strings.Contains(string(out), "\ngo:     go1.") {
		t.Errorf("brun version: %v\n%s", err, out)
	}
}

// -connect reaches each server: a Kafka broker (kfake here) and an
// Elasticsearch (a stand-in answering /_cluster/health) that answer are
// said to; a stopped Kafka and an Elasticsearch that is not there are
// problems naming their keys and addresses.
func TestCheckConnect(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	es := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/_cluster/health" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("X-Elastic-Product", "Elasticsearch") // as Elasticsearch 8 answers
		w.Write([]byte(`{"status":"green"}`))
	}))
	defer es.Close()
	up := fmt.Sprintf("[brun]\nroles = agent,transfer\n[agent]\nid = a1\n[kafka]\nendpoints = %s\n[es]\nendpoints = %s\n", cluster.ListenAddrs()[0], es.URL)
	code, out := runCheck(t, up, "-connect", "-timeout", "5s")
	if code != 0 {
		t.Errorf("exit status %d, want 0:\n%s", code, out)
	}
	for _, want := range []string{
		"connect: kafka.endpoints " + cluster.ListenAddrs()[0] + ": answered",
		"connect: es.endpoints " + es.URL + ": answered",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	kafkaDown, esDown := testkit.FreeAddr(t), testkit.FreeAddr(t) // nothing listens there
	down := fmt.Sprintf("[brun]\nroles = agent,transfer\n[agent]\nid = a1\n[kafka]\nendpoints = %s\n[es]\nendpoints = http://%s\n", kafkaDown, esDown)
	code, out = runCheck(t, down, "-connect", "-timeout", "1s")
	if code != 1 {
		t.Errorf("exit status %d, want 1:\n%s", code, out)
	}
	for _, want := range []string{
		"connect: kafka.endpoints " + kafkaDown + ": ",
		"connect: es.endpoints http://" + esDown + ": ",
		"2 problem(s)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "answered") {
		t.Errorf("a server that is not there answered:\n%s", out)
	}
	t.Logf("brun check -connect, servers down:\n%s", out)
}
