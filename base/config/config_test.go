package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeConf(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "brun.ini")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// The seed's own sample loads with its meaning kept.
func TestSeedSampleLoads(t *testing.T) {
	p := writeConf(t, `
[etcd]
; etcd 集群地址
endpoints = 192.168.1.5:12381,192.168.1.5:12382,192.168.1.5:12381
dialTimeout = 5000

[es]
endpoints = http://192.168.1.102:9200
dialTimeout = 5000
chanSize=100000
nums=16

[kafka]
endpoints = 192.168.1.5:9092
; chan 大小
chanMsgSize = 100000

[log]
dir = ./logs
file.name = ${app.name}
;文件最大保存时间
max.age = 7d
;日志切割时间间隔
rotation.time = 24h
level = debug
enableLineLog = true
`)
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Etcd.Endpoints) != 3 || c.Etcd.DialTimeout != 5*time.Second {
		t.Errorf("etcd: %+v", c.Etcd)
	}
	if c.ES.Nums != 16 || c.ES.ChanSize != 100000 || c.ES.Endpoints[0] != "http://192.168.1.102:9200" {
		t.Errorf("es: %+v", c.ES)
	}
	if c.Kafka.ChanMsgSize != 100000 || c.Kafka.Endpoints[0] != "192.168.1.5:9092" {
		t.Errorf("kafka: %+v", c.Kafka)
	}
	if c.Log.MaxAge != 7*24*time.Hour || c.Log.RotationTime != 24*time.Hour || c.Log.Level != "debug" ||
		!c.Log.EnableLineLog || c.LogFileName() != "brun" {
		t.Errorf("log: %+v", c.Log)
	}
	if len(c.Brun.Roles) != 3 || c.Brun.DataDir != filepath.Join(filepath.Dir(c.Path), "data") || c.Etcd.Prefix != "/logagent/" ||
		c.Transfer.Group != "brun-transfer" || c.Console.Listen != "127.0.0.1:8080" {
		t.Errorf("defaults: %+v", c)
	}
	if c.Agent.ID == "" {
		t.Error("agent.id was not defaulted to the local IP")
	}
}

// As shipped, brun needs no server; conf/stack.ini names the servers of
// make stack-up, conf/cluster.ini those of make cluster-up.
func TestShippedSamplesLoad(t *testing.T) {
	c, err := Load("../../conf/brun.ini")
	if err != nil {
		t.Fatal(err)
	}
	if !c.EmbeddedEtcd() || !c.InProcessKafka() || !c.LocalES() {
		t.Errorf("conf/brun.ini: embedded etcd %v, in-process kafka %v, local files %v; want all three",
			c.EmbeddedEtcd(), c.InProcessKafka(), c.LocalES())
	}
	if !filepath.IsAbs(c.Demo.Path) || !strings.HasSuffix(c.Demo.Path, "/data/demo/app.log") {
		t.Errorf("demo.path %q is not made absolute", c.Demo.Path)
	}
	if c.Etcd.EmbedListen != "127.0.0.1:2379" || c.ES.LocalKeep != 7*24*time.Hour {
		t.Errorf("embed.listen %q, local.keep %v", c.Etcd.EmbedListen, c.ES.LocalKeep)
	}

	for _, name := range []string{"stack.ini", "cluster.ini"} {
		c, err = Load("../../conf/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if c.EmbeddedEtcd() || c.InProcessKafka() || c.LocalES() {
			t.Errorf("conf/%s does not name every server: %+v %+v %+v", name, c.Etcd.Endpoints, c.Kafka.Endpoints, c.ES.Endpoints)
		}
	}
	// conf/cluster.ini names every member of make cluster-up.
	if len(c.Etcd.Endpoints) != 3 || len(c.Kafka.Endpoints) != 3 {
		t.Errorf("conf/cluster.ini: etcd %v, kafka %v; want 3 of each", c.Etcd.Endpoints, c.Kafka.Endpoints)
	}
}

const minimal = `
[etcd]
endpoints = 127.0.0.1:2379
[kafka]
endpoints = 127.0.0.1:9092
[es]
endpoints = http://127.0.0.1:9200
`

func TestBadValuesNameTheKey(t *testing.T) {
	cases := []struct {
		extra string
		want  string
	}{
		{"[es]\nnums = many", `es.nums: "many" is not a positive integer`},
		{"[es]\nchanSize = 0", `es.chanSize: "0" is not a positive integer`},
		{"[kafka]\nchanMsgSize = -5", `kafka.chanMsgSize: "-5" is not a positive integer`},
		{"[etcd]\ndialTimeout = soon", `etcd.dialTimeout: "soon" is not a positive duration`},
		{"[etcd]\ndialTimeout = 9223372036854775807", `etcd.dialTimeout: "9223372036854775807" is more milliseconds than a duration holds`},
		{"[log]\nmax.age = forever", `log.max.age: "forever" is not a positive duration`},
		{"[log]\nlevel = loud", `log.level: "loud" is not one of`},
		{"[log]\nformat = xml", `log.format: "xml" is not text or json`},
		{"[log]\nenableLineLog = yes please", `log.enableLineLog: "yes please" is not true or false`},
		{"[brun]\nroles = agent,shipper", `brun.roles: "shipper" is not a role`},
		{"[etcd]\nprefix = logagent", `etcd.prefix: "logagent" must start and end with '/'`},
		{"[transfer]\ntopics = ok,bad topic", `transfer.topics: "bad topic" is not a valid Kafka topic name`},
		{"[console]\nlisten = 8080", `console.listen: "8080" is not host:port`},
		{"[console]\nhosts = logs.example.com,http://evil/", `console.hosts: "http://evil/" is not a host name`},
		{"[console]\nhosts = logs.example.com:8080", `console.hosts: "logs.example.com:8080" is not a host name`},
		{"[console]\nkibana.url = kibana.example.com:5601", `console.kibana.url: "kibana.example.com:5601" is not Kibana's address`},
		{"[console]\nkibana.url = javascript:alert(1)", `console.kibana.url: "javascript:alert(1)" is not Kibana's address`},
		{"[console]\nkibana.url = https://k.example.com/?x=1", `console.kibana.url: "https://k.example.com/?x=1" is not Kibana's address`},
		{"[console]\nkibana.url = https://user:pw@k.example.com", `console.kibana.url: "https://user:pw@k.example.com" is not Kibana's address`},
		{"[kafka]\nbatch.bytes = 1000", `kafka.batch.bytes: "1000" is less than 131072`},
		{"[kafka]\nreplication = 40000", `kafka.replication: "40000" is more than 32767`},
		{"[kafka]\npartitions = -1", `kafka.partitions: "-1"`},
		{"[kafka]\nendpoints = broker-without-port", `kafka.endpoints: "broker-without-port" is not host:port`},
		{"[es]\nendpoints = 127.0.0.1:9200", `es.endpoints: "127.0.0.1:9200" is not an http:// or https:// URL`},
		{"[agent]\nid = a/b", `agent.id: "a/b" must not contain '/'`},
		{"[elastic]\nx = 1", `unknown section [elastic]`},
		{"[es]\nnum = 4", `unknown key es.num`},
		{"[brun]\nroles = agent,console\n[kafka]\nendpoints =", `kafka.endpoints: "" is empty, so the agent hands its events to the transfer in this process: brun.roles must hold both`},
		{"[brun]\nroles = transfer\n[kafka]\nendpoints =", `kafka.endpoints: "" is empty`},
		{"[etcd]\nendpoints =\nembed.listen = 0.0.0.0:2379", `etcd.embed.listen: "0.0.0.0:2379" must be a loopback address`},
		{"[etcd]\nendpoints =\nembed.listen = 2379", `etcd.embed.listen: "2379" is not host:port`},
		{"[es]\nlocal.keep = never", `es.local.keep: "never" is not a positive duration`},
		{"[demo]\nrate = 0", `demo.rate: "0" is not a positive integer`},
		{"[demo]\ntopic = a b", `demo.topic: "a b" is not a valid Kafka topic name`},
	}
	for _, c := range cases {
		_, err := Load(writeConf(t, minimal+c.extra))
		if err == nil {
			t.Errorf("%q: loaded without error", c.extra)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %q does not contain %q", c.extra, err, c.want)
		}
	}
}

func TestMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.ini"))
	if err == nil || !strings.Contains(err.Error(), "nope.ini") {
		t.Fatalf("error %v does not name the file", err)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"7d": 7 * 24 * time.Hour, "24h": 24 * time.Hour, "1d12h": 36 * time.Hour, "90m": 90 * time.Minute, "5s": 5 * time.Second,
	} {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "d", "7x", "1.5d", "-1d", "-5m",
		// Beyond what a time.Duration holds: an error, never a small
		// wrapped-around value (213504d once became 25m26s).
		"213504d", "106752d", "106751d24h", "9223372036854775807d", "1d2562047h"} {
		if got, err := ParseDuration(bad); err == nil && bad != "" {
			t.Errorf("ParseDuration(%q) accepted as %v", bad, got)
		}
	}
	if got, err := ParseDuration("106751d"); err != nil || got != 106751*24*time.Hour {
		t.Errorf("ParseDuration(106751d) = %v, %v: the largest whole number of days fits", got, err)
	}
	p := writeConf(t, "[log]\nmax.age = 213504d\n")
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), `log.max.age: "213504d"`) {
		t.Errorf("max.age = 213504d: %v", err)
	}
}

// One Load reports every problem of the file: unknown sections and keys,
// bad values, and what Validate finds, each naming its key.
func TestLoadReportsEveryProblem(t *testing.T) {
	_, err := Load(writeConf(t, minimal+`
[es]
nums = many
dialtimeout = 5000
[elastc]
x = 1
[log]
level = loud
`))
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("error %v is not a *LoadError", err)
	}
	want := []string{
		`es.nums: "many" is not a positive integer`,
		`unknown key es.dialtimeout; did you mean "dialTimeout"?`,
		`unknown section [elastc]`,
		`log.level: "loud" is not one of`,
	}
	if len(le.Problems) != len(want) {
		t.Errorf("%d problems, want %d:\n%v", len(le.Problems), len(want), err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not contain %q:\n%v", w, err)
		}
	}
}

func TestUnknownNamesGetASuggestion(t *testing.T) {
	cases := []struct {
		body string
		want string
	}{
		{"[es]\nnum = 4", `unknown key es.num; did you mean "nums"?`},
		{"[kafka]\nsasl.pasword = x", `unknown key kafka.sasl.pasword; did you mean "sasl.password"?`},
		{"[elastic]\nx = 1", `unknown section [elastic]`},
		{"[consol]\nlisten = 127.0.0.1:8080", `unknown section [consol] (known: agent, brun, console, demo, es, etcd, kafka, log, transfer); did you mean "console"?`},
	}
	for _, c := range cases {
		_, err := Load(writeConf(t, minimal+c.body))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want it to contain %q", c.body, err, c.want)
		}
	}
	_, err := Load(writeConf(t, "roles = agent\n"+minimal))
	if want := "unknown key roles (outside any section); it belongs under [brun]"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("roles outside a section: %v, want %q", err, want)
	}
	// Far from every known key: no guess.
	_, err = Load(writeConf(t, minimal+"[es]\ncolour = blue"))
	if err == nil || strings.Contains(err.Error(), "did you mean") {
		t.Errorf("colour: %v, want no suggestion", err)
	}
}

// Relative paths, written or default, are relative to the ini file's
// directory, not to where brun was started; a secret file too.
func TestRelativePathsFollowTheIniFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "secrets"), 0o700); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"es": "s3cret\n", "ca.pem": "a CA\n"} {
		if err := os.WriteFile(filepath.Join(dir, "secrets", name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, "brun.ini")
	ini := "[brun]\ndata.dir = state\n[log]\ndir = ../logs\n[es]\nendpoints = https://127.0.0.1:9200\nusername = brun\npassword_file = secrets/es\ntls.ca = secrets/ca.pem\n[etcd]\nendpoints = 127.0.0.1:2379\n[kafka]\nendpoints = 127.0.0.1:9092\n"
	if err := os.WriteFile(p, []byte(ini), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir()) // started elsewhere
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "state"); c.Brun.DataDir != want {
		t.Errorf("data.dir %q, want %q", c.Brun.DataDir, want)
	}
	if want := filepath.Join(filepath.Dir(dir), "logs"); c.Log.Dir != want {
		t.Errorf("log.dir %q, want %q", c.Log.Dir, want)
	}
	if want := filepath.Join(dir, "secrets", "ca.pem"); c.ES.TLS.CA != want {
		t.Errorf("es.tls.ca %q, want %q", c.ES.TLS.CA, want)
	}
	if c.ES.Password != "s3cret" {
		t.Errorf("es.password_file relative to the ini was not read: %q", c.ES.Password)
	}
}

// durationCase is an ini, and the duration it gives or the error it
// gets.
type durationCase struct {
	ini  string
	want time.Duration
	err  string
}

// checkDurations loads each case's ini and checks what get reads of it,
// or the error.
func checkDurations(t *testing.T, key string, cases []durationCase, get func(*Config) time.Duration) {
	t.Helper()
	for _, c := range cases {
		path := filepath.Join(t.TempDir(), "brun.ini")
		if err := os.WriteFile(path, []byte(c.ini+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(path)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: error %v, want one containing %q", c.ini, err, c.err)
			}
			continue
		}
		if err != nil || get(cfg) != c.want {
			var got time.Duration
			if cfg != nil {
				got = get(cfg)
			}
			t.Errorf("%q: %s %v (err %v), want %v", c.ini, key, got, err, c.want)
		}
	}
}

func TestRetention(t *testing.T) {
	checkDurations(t, "es.retention", []durationCase{
		{"", 30 * 24 * time.Hour, ""},
		{"[es]\nretention = 90d", 90 * 24 * time.Hour, ""},
		{"[es]\nretention =", 0, ""},
		{"[es]\nretention = 12h", 0, `es.retention: "12h" is not a duration of at least a day`},
		{"[es]\nretention = forever", 0, `es.retention: "forever"`},
	}, func(c *Config) time.Duration { return c.ES.Retention })
}

func TestSessionTimeout(t *testing.T) {
	checkDurations(t, "transfer.session.timeout", []durationCase{
		{"", 45 * time.Second, ""},
		{"[transfer]\nsession.timeout = 10s", 10 * time.Second, ""},
		{"[transfer]\nsession.timeout = 30m", 30 * time.Minute, ""},
		{"[transfer]\nsession.timeout = 5s", 0, `transfer.session.timeout: "5s" must be 6s to 30m`},
		{"[transfer]\nsession.timeout = 1h", 0, `transfer.session.timeout: "1h0m0s" must be 6s to 30m`},
		{"[transfer]\nsession.timeout = soon", 0, `transfer.session.timeout`},
	}, func(c *Config) time.Duration { return c.Transfer.SessionTimeout })
}
