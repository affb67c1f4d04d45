package transfer

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"brun/base/config"
	"brun/servers/event"
	"brun/servers/indexname"
)

var (
	readTime  = time.Date(2026, 11, 25, 4, 5, 6, 789e6, time.UTC)
	kafkaTime = time.Date(2026, 11, 25, 4, 5, 7, 0, time.UTC)
	nowTime   = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
)

func testPartition(t *testing.T, pattern string) *partition {
	t.Helper()
	p, err := indexname.Parse(pattern)
	if err != nil {
		t.Fatal(err)
	}
	return newPartition("App", 3, p)
}

// splitEntry checks a document's two _bulk lines and decodes them.
func splitEntry(t *testing.T, entry []byte) (index, id string, src map[string]any) {
	t.Helper()
	lines := bytes.Split(bytes.TrimSuffix(entry, []byte("\n")), []byte("\n"))
	if len(lines) != 2 || entry[len(entry)-1] != '\n' {
		t.Fatalf("entry is not two lines:\n%s", entry)
	}
	var action struct {
		Index struct {
			Index string `json:"_index"`
			ID    string `json:"_id"`
		} `json:"index"`
	}
	if err := json.Unmarshal(lines[0], &action); err != nil {
		t.Fatalf("action %s: %v", lines[0], err)
	}
	dec := json.NewDecoder(bytes.NewReader(lines[1]))
	if err := dec.Decode(&src); err != nil {
		t.Fatalf("source %s: %v", lines[1], err)
	}
	return action.Index.Index, action.Index.ID, src
}

func get(src map[string]any, path string) any {
	var cur any = src
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return cur
}

func agentRecord(line string) []byte {
	enc := event.NewEncoder(event.Source{Host: "web-1", AgentID: "10.0.0.7", Path: "/var/log/app.log", FileID: "1:2"})
	return enc.Encode([]byte(line), 4096, readTime, 0)
}

func TestNewDocument(t *testing.T) {
	agentID := event.NewEncoder(event.Source{AgentID: "10.0.0.7", FileID: "1:2"}).ID(4096)
	cases := []struct {
		name   string
		value  string
		index  string
		id     string
		fields map[string]any // dotted path → value; nil value: must be absent
	}{
		{
			name: "agent line with log4j time and level", value: string(agentRecord("2026-11-24 23:59:58,123 WARN [main] disk low")),
			index: "app-2026.11.24", id: agentID,
			fields: map[string]any{
				"@timestamp": "2026-11-24T23:59:58.123Z", "event.created": "2026-11-25T04:05:06.789Z",
				"log.level": "warn", "message": "2026-11-24 23:59:58,123 WARN [main] disk low",
				"host.name": "web-1", "log.offset": 4096.0, "log.file.path": "/var/log/app.log", "event.id": agentID,
				// Added by the transfer to brun's agent's records:
				"ecs.version": event.ECSVersion, "input.type": "log", "host.hostname": "web-1", "agent.name": "web-1",
				"event.dataset": "App", "agent.type": "brun",
			},
		},
		{
			name:  "another shipper's record gets none of the ECS members brun's agent leaves out",
			value: `{"message":"x","agent":{"type":"filebeat"},"host":{"name":"h"},"event":{"id":"fb1"}}`,
			index: "app-2026.11.25", id: "fb1",
			fields: map[string]any{"ecs.version": nil, "input.type": nil, "host.hostname": nil, "agent.name": nil, "event.dataset": nil},
		},
		{
			name: "agent line without time keeps the read time", value: string(agentRecord(`GET /x "quoted" done`)),
			index: "app-2026.11.25", id: agentID,
			fields: map[string]any{"@timestamp": "2026-11-25T04:05:06.789Z", "event.created": nil, "log.level": nil, "message": `GET /x "quoted" done`},
		},
		{
			name: "level without time", value: string(agentRecord("ERROR cannot connect")),
			index: "app-2026.11.25", id: agentID,
			fields: map[string]any{"@timestamp": "2026-11-25T04:05:06.789Z", "log.level": "error", "event.created": nil},
		},
		{
			name:  "parsed json without time or message: its level, the message's time is not used",
			value: `{"@timestamp":"2026-11-25T04:05:06.789Z","message":"2020-01-01 00:00:00 INFO x","json":{"level":"info","n":1},"event":{"id":"abc"}}`,
			index: "app-2026.11.25", id: "abc",
			fields: map[string]any{"@timestamp": "2026-11-25T04:05:06.789Z", "json.n": 1.0, "log.level": "info", "event.original": nil},
		},
		{
			name:  "pino's numeric level and epoch milliseconds",
			value: `{"@timestamp":"2026-11-25T04:05:06.789Z","message":"{}","json":{"level":50,"time":1764000000500,"msg":"boom"},"event":{"id":"p1"}}`,
			index: "app-2025.11.24", id: "p1",
			fields: map[string]any{"@timestamp": "2025-11-24T16:00:00.500Z", "log.level": "error", "message": "boom"},
		},
		{
			name:  "a numeric level that names none is not taken",
			value: `{"@timestamp":"2026-11-25T04:05:06.789Z","message":"{}","json":{"level":9},"event":{"id":"p2"}}`,
			index: "app-2026.11.25", id: "p2",
			fields: map[string]any{"log.level": nil},
		},
		{
			name:  "parsed json line: its time, level and message; the line in event.original",
			value: `{"@timestamp":"2026-11-25T04:05:06.789Z","message":"{\"ts\":1764000000.5,\"level\":\"WARN\",\"msg\":\"disk low\"}","json":{"ts":1764000000.5,"level":"WARN","msg":"disk low"},"event":{"id":"j1","timezone":"Asia/Shanghai"}}`,
			index: "app-2025.11.24", id: "j1",
			fields: map[string]any{
				"@timestamp": "2025-11-24T16:00:00.500Z", "log.level": "warn", "message": "disk low",
				"event.original": `{"ts":1764000000.5,"level":"WARN","msg":"disk low"}`, "event.created": "2026-11-25T04:05:06.789Z",
			},
		},
		{
			name:  "parsed json line with a zone-less time string, in event.timezone",
			value: `{"message":"{}","json":{"time":"2026-11-24 23:59:58.250","message":"hi","severity":"error"},"event":{"id":"j2","timezone":"+08:00"}}`,
			index: "app-2026.11.24", id: "j2",
			fields: map[string]any{"@timestamp": "2026-11-24T15:59:58.250Z", "log.level": "error", "message": "hi", "event.original": "{}"},
		},
		{
			name:  "parsed json line without an event object gets one",
			value: `{"message":"{}","json":{"msg":"hi","ts":"not a time"}}`,
			index: "app-2026.11.25", id: "App-3-77",
			fields: map[string]any{"message": "hi", "event.original": "{}", "event.created": nil},
		},
		{
			// event.created says the time was chosen where the line was
			// read (a pinned timestamp): the line's own is not looked for.
			name:  "existing level, created and the time it chose are kept",
			value: `{"@timestamp":"2026-11-25T04:05:06.789Z","message":"2026-11-20T01:02:03Z ERROR x","log":{"level":"debug"},"event":{"id":"e1","created":"2026-01-01T00:00:00.000Z"}}`,
			index: "app-2026.11.25", id: "e1",
			fields: map[string]any{"@timestamp": "2026-11-25T04:05:06.789Z", "log.level": "debug", "event.created": "2026-01-01T00:00:00.000Z"},
		},
		{
			name:  "a dotted event.created keeps the time too",
			value: `{"@timestamp":"2026-11-25T04:05:06.789Z","message":"2026-11-20T01:02:03Z ERROR x","event.created":"2026-11-25T04:05:07.000Z"}`,
			index: "app-2026.11.25", id: "App-3-77",
			fields: map[string]any{"@timestamp": "2026-11-25T04:05:06.789Z", "log.level": "error"},
		},
		{
			name:  "a parsed JSON line with event.created keeps the time it chose",
			value: `{"@timestamp":"2026-11-25T04:05:06.789Z","message":"{}","event":{"created":"2026-11-25T04:05:07.000Z"},"json":{"ts":"2026-11-20T01:02:03Z","level":"warn"}}`,
			index: "app-2026.11.25", id: "App-3-77",
			fields: map[string]any{"@timestamp": "2026-11-25T04:05:06.789Z", "log.level": "warn"},
		},
		{
			name:  "foreign json without id, time or message",
			value: `{ "user" : "bob", "n": [1, {"a": "}"}] }`,
			index: "app-2026.11.25", id: "App-3-77",
			fields: map[string]any{"@timestamp": "2026-11-25T04:05:07.000Z", "user": "bob"},
		},
		{
			name: "empty object", value: `{}`, index: "app-2026.11.25", id: "App-3-77",
			fields: map[string]any{"@timestamp": "2026-11-25T04:05:07.000Z"},
		},
		{
			name: "foreign json with empty log and event objects", value: `{"message":"Jun 14 15:16:01 combo sshd: INFO ok","log":{},"event":{}}`,
			index: "app-2026.06.14", id: "App-3-77",
			fields: map[string]any{"@timestamp": "2026-06-14T15:16:01.000Z", "event.created": "2026-11-25T04:05:07.000Z", "log.level": "info"},
		},
		{
			name:  "a line without a zone is read in event.timezone",
			value: `{"message":"2026-11-24 23:59:58,123 WARN x","event":{"id":"tz1","timezone":"Asia/Shanghai"}}`,
			index: "app-2026.11.24", id: "tz1",
			fields: map[string]any{"@timestamp": "2026-11-24T15:59:58.123Z", "event.timezone": "Asia/Shanghai"},
		},
		{
			name:  "an offset as event.timezone",
			value: `{"message":"2026-11-24 23:59:58 WARN x","event":{"id":"tz2","timezone":"-03:30"}}`,
			index: "app-2026.11.25", id: "tz2",
			fields: map[string]any{"@timestamp": "2026-11-25T03:29:58.000Z"},
		},
		{
			name:  "a zone written in the line wins over event.timezone",
			value: `{"message":"2026-11-24T23:59:58Z WARN x","event":{"id":"tz3","timezone":"Asia/Shanghai"}}`,
			index: "app-2026.11.24", id: "tz3",
			fields: map[string]any{"@timestamp": "2026-11-24T23:59:58.000Z"},
		},
		{
			name:  "an unknown event.timezone is UTC",
			value: `{"message":"2026-11-24 23:59:58 WARN x","event":{"id":"tz4","timezone":"../../etc/passwd"}}`,
			index: "app-2026.11.24", id: "tz4",
			fields: map[string]any{"@timestamp": "2026-11-24T23:59:58.000Z"},
		},
		{
			name: "plain text record", value: "[Sun Dec 04 04:47:44 2005] [error] \"bad\"\tthing",
			index: "app-2005.12.04", id: "App-3-77",
			fields: map[string]any{
				"@timestamp": "2005-12-04T04:47:44.000Z", "message": "[Sun Dec 04 04:47:44 2005] [error] \"bad\"\tthing",
				"log.level": "error", "event.created": "2026-11-25T04:05:07.000Z",
			},
		},
		{
			name: "broken json is a plain line", value: `{"message": "unterminated`,
			index: "app-2025.11.25", id: "App-3-77",
			fields: map[string]any{"message": `{"message": "unterminated`},
		},
	}
	// The last case has no time at all and a Kafka time of zero: the
	// transfer's clock is used.
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := testPartition(t, "{topic}-{yyyy.MM.dd}")
			kt, now := kafkaTime, nowTime
			if i == len(cases)-1 {
				kt, now = time.Time{}, time.Date(2025, 11, 25, 1, 0, 0, 0, time.UTC)
			}
			d := p.newDocument([]byte(c.value), 77, kt, now)
			index, id, src := splitEntry(t, d.entry)
			if index != c.index || id != c.id {
				t.Errorf("_index %q _id %q, want %q %q", index, id, c.index, c.id)
			}
			if d.id() != c.id || d.index() != c.index {
				t.Errorf("id() %q index() %q", d.id(), d.index())
			}
			// What the local files get is what _bulk gets.
			ld := d.localDoc()
			if ld.Index != c.index || ld.ID != c.id || !bytes.Equal(append(ld.Source, '\n'), d.entry[bytes.IndexByte(d.entry, '\n')+1:]) {
				t.Errorf("local document %q %q %s differs from the _bulk entry", ld.Index, ld.ID, ld.Source)
			}
			for path, want := range c.fields {
				if got := get(src, path); got != want {
					t.Errorf("%s = %#v, want %#v\n%s", path, got, want, d.entry)
				}
			}
			if string(d.raw) != c.value {
				t.Errorf("raw %q changed", d.raw)
			}
		})
	}
}

func TestDeadLetterCopy(t *testing.T) {
	p := testPartition(t, "{topic}-{yyyy.MM.dd}")
	value := agentRecord("line with \"quotes\"")
	d := p.newDocument(value, 77, kafkaTime, nowTime)
	dl := d.toDeadLetter("document_parsing_exception", "failed to parse field [log.offset]", nowTime)
	index, id, src := splitEntry(t, dl.entry)
	if index != "deadletter-2026.11.26" || id != d.id() {
		t.Errorf("dead letter _index %q _id %q", index, id)
	}
	want := map[string]any{
		"event.original": string(value), "error.type": "document_parsing_exception",
		"error.message": "failed to parse field [log.offset]", "kafka.topic": "App", "kafka.partition": 3.0,
		"kafka.offset": 77.0, "brun.index": "app-2026.11.25", "@timestamp": "2026-11-26T00:00:00.000Z",
	}
	for path, w := range want {
		if got := get(src, path); got != w {
			t.Errorf("%s = %#v, want %#v", path, got, w)
		}
	}
	completed := 0
	d.done = func() { completed++ }
	dl = d.toDeadLetter("document_parsing_exception", "failed to parse field [log.offset]", nowTime)
	dl.done()
	if !dl.deadLetter || dl.part != d.part || completed != 1 {
		t.Error("the dead letter does not carry the original's completion")
	}
}

func TestParseRecordRejects(t *testing.T) {
	for _, v := range []string{``, `[1]`, `{"a":}`, `{"a" 1}`, `{"a":1,}`, `{"a":1} x`, `{"a":"\"}`, `"s"`} {
		if _, ok := parseRecord([]byte(v)); ok {
			t.Errorf("%q accepted as a JSON object", v)
		}
	}
}

func BenchmarkNewDocument(b *testing.B) {
	pat, _ := indexname.Parse("{topic}-{yyyy.MM.dd}")
	p := newPartition("app", 0, pat)
	value := agentRecord("2026-11-25 04:05:06,789 INFO [main] request handled seq=000042 user=alice path=/api/v1/items status=200")
	b.SetBytes(int64(len(value)))
	b.ReportAllocs()
	for b.Loop() {
		p.newDocument(value, 1, kafkaTime, nowTime)
	}
}

func BenchmarkNewDocumentPlainNoTime(b *testing.B) {
	pat, _ := indexname.Parse("{topic}-{yyyy.MM.dd}")
	p := newPartition("app", 0, pat)
	value := agentRecord(`127.0.0.1 - - "GET /index.html HTTP/1.1" 200 512 "-" "curl/8.0" took 12ms`)
	b.ReportAllocs()
	for b.Loop() {
		p.newDocument(value, 1, kafkaTime, nowTime)
	}
}

// The Kibana data views shipped in doc/kibana match what the transfer
// writes with the default es.index.
func TestKibanaDataViews(t *testing.T) {
	raw, err := os.ReadFile("../../doc/kibana/brun-data-views.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	def, _ := indexname.Parse(config.Default().ES.Index)
	titles := map[string]string{}
	for _, line := range bytes.Split(bytes.TrimSpace(raw), []byte("\n")) {
		var o struct {
			ID         string `json:"id"`
			Type       string `json:"type"`
			Attributes struct {
				Title, TimeFieldName string
			} `json:"attributes"`
		}
		if err := json.Unmarshal(line, &o); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if o.Type != "index-pattern" || o.Attributes.TimeFieldName != "@timestamp" {
			t.Errorf("%s: type %q time field %q", o.ID, o.Type, o.Attributes.TimeFieldName)
		}
		titles[o.ID] = o.Attributes.Title
	}
	if want := def.Wildcard() + ",-deadletter-*"; titles["brun-logs"] != want {
		t.Errorf("brun-logs title %q, want %q", titles["brun-logs"], want)
	}
	if titles["brun-deadletter"] != "deadletter-*" {
		t.Errorf("brun-deadletter title %q", titles["brun-deadletter"])
	}
}

// newDocument builds a document as a writer does, for tests.
func (p *partition) newDocument(value []byte, offset int64, kafkaTime, seen time.Time) *document {
	d := &document{raw: value, offset: offset, kafkaTime: kafkaTime, seen: seen, part: p}
	testBuilder.build(d)
	return d
}

var testBuilder builder

// The saved search and dashboard in doc/kibana hang together: each
// reference names an object of the right type in the shipped files, each
// Lens layer's columns are the ones its visualization uses, and every
// field they read is one brun's index template maps.
func TestKibanaDashboard(t *testing.T) {
	type object struct {
		ID         string `json:"id"`
		Type       string `json:"type"`
		References []struct {
			Name, Type, ID string
		} `json:"references"`
		Attributes json.RawMessage `json:"attributes"`
	}
	objects := map[string]object{}
	for _, file := range []string{"brun-data-views.ndjson", "brun-dashboard.ndjson"} {
		raw, err := os.ReadFile("../../doc/kibana/" + file)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range bytes.Split(bytes.TrimSpace(raw), []byte("\n")) {
			var o object
			if err := json.Unmarshal(line, &o); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			objects[o.ID] = o
		}
	}
	pat, _ := indexname.Parse(config.Default().ES.Index)
	var tmpl struct {
		Template struct {
			Mappings map[string]any `json:"mappings"`
		} `json:"template"`
	}
	json.Unmarshal(topicTemplate(config.Default().ES, pat, "app", false), &tmpl)
	mapped := func(field string) bool {
		return get(tmpl.Template.Mappings, "properties."+strings.ReplaceAll(field, ".", ".properties.")+".type") != nil
	}
	for _, o := range objects {
		for _, r := range o.References {
			if target, ok := objects[r.ID]; !ok || target.Type != r.Type {
				t.Errorf("%s refers to %s %s, which the files do not hold", o.ID, r.Type, r.ID)
			}
		}
		if o.Type != "lens" {
			continue
		}
		var lens struct {
			State struct {
				Visualization   map[string]any `json:"visualization"`
				DatasourceState struct {
					FormBased struct {
						Layers map[string]struct {
							Columns map[string]struct {
								SourceField string `json:"sourceField"`
							} `json:"columns"`
							ColumnOrder []string `json:"columnOrder"`
						} `json:"layers"`
					} `json:"formBased"`
				} `json:"datasourceStates"`
			} `json:"state"`
		}
		if err := json.Unmarshal(o.Attributes, &lens); err != nil {
			t.Fatalf("%s: %v", o.ID, err)
		}
		vis, _ := json.Marshal(lens.State.Visualization)
		for id, layer := range lens.State.DatasourceState.FormBased.Layers {
			if len(layer.ColumnOrder) != len(layer.Columns) {
				t.Errorf("%s layer %s: column order %v for %d columns", o.ID, id, layer.ColumnOrder, len(layer.Columns))
			}
			for cid, c := range layer.Columns {
				if !bytes.Contains(vis, []byte(`"`+cid+`"`)) {
					t.Errorf("%s: column %s is not in the visualization %s", o.ID, cid, vis)
				}
				if c.SourceField != "___records___" && !mapped(c.SourceField) {
					t.Errorf("%s: field %s is not mapped by brun's template", o.ID, c.SourceField)
				}
			}
		}
	}
	if objects["brun-overview"].Type != "dashboard" || objects["brun-latest-errors"].Type != "search" {
		t.Error("the dashboard or the saved search is missing")
	}
}
