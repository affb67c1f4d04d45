package event

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"brun/base/testkit"
)

func TestEncodeIsValidJSONWithECSFields(t *testing.T) {
	enc := NewEncoder(Source{Host: "web-1", AgentID: "10.0.0.7", Path: "/var/log/app.log", FileID: "2049:1234"})
	read := time.Date(2026, 11, 25, 4, 5, 6, 789000000, time.FixedZone("CST", 8*3600))
	v := enc.Encode([]byte("GET / \"ok\"\t\\ done"), 4096, read, 0)
	var doc struct {
		Timestamp string `json:"@timestamp"`
		Message   string `json:"message"`
		Host      struct{ Name string }
		Agent     struct{ ID string }
		Log       struct {
			File   struct{ Path string }
			Offset int64
		}
		Event struct{ ID string }
	}
	if err := json.Unmarshal(v, &doc); err != nil {
		t.Fatalf("record is not JSON: %v\n%s", err, v)
	}
	if doc.Timestamp != "2026-11-24T20:05:06.789Z" {
		t.Errorf("@timestamp %q", doc.Timestamp)
	}
	if doc.Message != "GET / \"ok\"\t\\ done" || doc.Host.Name != "web-1" || doc.Agent.ID != "10.0.0.7" ||
		doc.Log.File.Path != "/var/log/app.log" || doc.Log.Offset != 4096 {
		t.Errorf("fields: %+v", doc)
	}
	if doc.Event.ID != enc.ID(4096) {
		t.Errorf("event.id %q, ID() %q", doc.Event.ID, enc.ID(4096))
	}
	if ts, err := time.Parse(time.RFC3339Nano, doc.Timestamp); err != nil || !ts.Equal(read.Truncate(time.Millisecond)) {
		t.Errorf("@timestamp %q is not the read time %v to the millisecond", doc.Timestamp, read)
	}
}

// The event carries what only the agent knows of the ECS fields, and
// agent.type "brun", by which the transfer adds the rest; empty optional
// ones are left out, and the event stays JSON with no member twice.
func TestEncodeCarriesTheAgentsECSFields(t *testing.T) {
	full := Source{
		Host: "web-1", IPs: []string{"10.0.0.7", "fd00::7"}, AgentID: "10.0.0.7",
		AgentVersion: "v1.2.3", Timezone: "Asia/Shanghai", Path: "/var/log/app.log", FileID: "1:2",
	}
	v := NewEncoder(full).Encode([]byte("hello"), 7, time.Unix(0, 0), Truncated)
	var doc map[string]any
	if err := json.Unmarshal(v, &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, v)
	}
	get := func(path string) any {
		var cur any = doc
		for _, k := range strings.Split(path, ".") {
			m, ok := cur.(map[string]any)
			if !ok {
				return nil
			}
			cur = m[k]
		}
		return cur
	}
	want := map[string]any{
		"agent.type": "brun", "agent.version": "v1.2.3", "agent.id": "10.0.0.7", "host.name": "web-1",
		"event.timezone": "Asia/Shanghai", "log.file.path": "/var/log/app.log", "log.offset": 7.0,
	}
	for path, w := range want {
		if got := get(path); got != w {
			t.Errorf("%s = %#v, want %#v", path, got, w)
		}
	}
	if ips, _ := get("host.ip").([]any); len(ips) != 2 || ips[0] != "10.0.0.7" || ips[1] != "fd00::7" {
		t.Errorf("host.ip = %#v", get("host.ip"))
	}
	if get("event.id") == nil || get("log.flags") == nil {
		t.Errorf("event.id or log.flags missing: %s", v)
	}
	// Left to the transfer: the same for every event, or host.name again.
	for _, path := range []string{"ecs.version", "input.type", "host.hostname", "agent.name", "event.dataset"} {
		if got := get(path); got != nil {
			t.Errorf("%s = %v in Kafka's record; the transfer adds it", path, got)
		}
	}
	for _, member := range []string{`"host":`, `"agent":`, `"event":`, `"log":`} {
		if n := strings.Count(string(v), member); n != 1 {
			t.Errorf("%s appears %d times: %s", member, n, v)
		}
	}

	bare := NewEncoder(Source{AgentID: "a", FileID: "1:2"}).Encode([]byte("x"), 0, time.Unix(0, 0), 0)
	for _, absent := range []string{`"ip"`, `"timezone"`} {
		if strings.Contains(string(bare), absent) {
			t.Errorf("empty optional field %s written: %s", absent, bare)
		}
	}
	if !strings.Contains(string(bare), `"agent":{"id":"a","type":"brun"}`) {
		t.Errorf("agent without its optional version: %s", bare)
	}
	if !json.Valid(bare) {
		t.Fatalf("not JSON: %s", bare)
	}
}

func TestEventIDs(t *testing.T) {
	a := NewEncoder(Source{AgentID: "a", FileID: "1:2"})
	a2 := NewEncoder(Source{AgentID: "a", FileID: "1:2", Path: "/renamed"})
	b := NewEncoder(Source{AgentID: "b", FileID: "1:2"})
	c := NewEncoder(Source{AgentID: "a", FileID: "1:3"})
	if a.ID(10) != a2.ID(10) {
		t.Error("same file and offset gave different ids after a rename")
	}
	if a.ID(10) == a.ID(11) || a.ID(10) == b.ID(10) || a.ID(10) == c.ID(10) {
		t.Error("distinct lines share an id")
	}
}

func TestInvalidUTF8IsReplaced(t *testing.T) {
	raw := testkit.RealLog(t, "logfile_invalid_utf8.0")
	enc := NewEncoder(Source{})
	for i, line := range strings.Split(string(raw), "\n") {
		v := enc.Encode([]byte(line), 0, time.Now(), 0)
		var doc struct{ Message string }
		if err := json.Unmarshal(v, &doc); err != nil {
			t.Fatalf("line %d: not JSON: %v", i, err)
		}
		if !utf8.ValidString(doc.Message) {
			t.Fatalf("line %d: message is not UTF-8", i)
		}
		if utf8.ValidString(line) && doc.Message != line {
			t.Fatalf("line %d: valid text changed: %q -> %q", i, line, doc.Message)
		}
		if want := viaEncodingJSON(t, line); doc.Message != want {
			t.Fatalf("line %d: got %q, want %q (each invalid byte replaced, as encoding/json does)", i, doc.Message, want)
		}
	}
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "\x00\x01\x1f", "tab\tcr\rnl\n", `q"b\`, "ünïcödé 日本", "\xed\xb9\xa4", "a\xffb", "<&>", "\u2028"} {
		got := AppendString(nil, []byte(s))
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%q: %s is not JSON: %v", s, got, err)
		}
		if want := viaEncodingJSON(t, s); back != want {
			t.Fatalf("%q round-tripped to %q, want %q", s, back, want)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	enc := NewEncoder(Source{Host: "web-1", AgentID: "10.0.0.7", Path: "/var/log/app.log", FileID: "2049:1234"})
	line := []byte(strings.Repeat("2026-11-25 04:05:06,789 INFO [main] request handled ", 3)[:130])
	now := time.Now()
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		enc.Encode(line, int64(i)*131, now, 0)
	}
}

// viaEncodingJSON is what Go's encoding/json makes of s: the reference for
// how invalid UTF-8 is replaced.
func viaEncodingJSON(t *testing.T, s string) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back string
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	return back
}

func TestFieldsJSONAndFlags(t *testing.T) {
	enc := NewEncoder(Source{AgentID: "a", FileID: "1", Fields: map[string]any{"env": "prod", "n": float64(3)}, JSON: true})
	var doc map[string]any
	v := enc.Encode([]byte(`{"level":"warn","took":12}`), 0, time.Now(), Multiline|Truncated)
	if err := json.Unmarshal(v, &doc); err != nil {
		t.Fatalf("%v\n%s", err, v)
	}
	if doc["fields"].(map[string]any)["env"] != "prod" || doc["json"].(map[string]any)["level"] != "warn" {
		t.Fatalf("fields/json missing: %s", v)
	}
	if flags := doc["log"].(map[string]any)["flags"].([]any); len(flags) != 2 {
		t.Fatalf("flags %v", flags)
	}
	v = enc.Encode([]byte(`plain text`), 0, time.Now(), 0)
	doc = nil
	if err := json.Unmarshal(v, &doc); err != nil {
		t.Fatalf("%v\n%s", err, v)
	}
	if doc["json"] != nil || doc["error"] == nil || doc["message"] != "plain text" {
		t.Fatalf("non-JSON line: %s", v)
	}
}
