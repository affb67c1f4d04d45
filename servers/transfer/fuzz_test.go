package transfer

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"brun/base/testkit"
	"brun/servers/event"
	"brun/servers/indexname"
)

// Any producer can write to a topic the transfer reads, so a record is
// untrusted input: parseRecord scans it without decoding it, and the
// builder edits it in place into a _bulk entry. These targets check that
// no record crashes the transfer, breaks the _bulk body (which would fail
// or misplace the other documents of its request) or loses a member.
// `make fuzz` runs them; `go test` runs their seeds.

// fuzzRecordSeeds are records as the agent writes them (real log lines,
// with fields, flags and parsed JSON), records of other producers, and
// plain text.
func fuzzRecordSeeds(f *testing.F) [][]byte {
	f.Helper()
	read := time.Date(2026, 11, 25, 4, 5, 6, 789e6, time.UTC)
	plain := event.NewEncoder(event.Source{Host: "web-1", AgentID: "10.0.0.7", Job: "app", Path: "/var/log/app.log", FileID: "1:2:0"})
	rich := event.NewEncoder(event.Source{Host: "web-1", AgentID: "10.0.0.7", Job: "api", Path: "/srv/api/x.log", FileID: "3:4:1",
		Fields: map[string]any{"env": "prod", "n": 1.5, "tags": []any{"a", "b"}}, JSON: true})
	var seeds [][]byte
	for _, name := range []string{"realworld.initial", "realworld.append", "logfile_vdsm.0", "logfile_invalid_utf8.0"} {
		lines := bytes.SplitAfter(testkit.RealLog(f, name), []byte("\n"))
		// Every line of the small samples; of the large one a spread that
		// takes in stack traces, empty lines and the CRLF endings.
		step := max(1, len(lines)/40)
		off := int64(0)
		for i, l := range lines {
			if i%step == 0 {
				text := bytes.TrimSuffix(bytes.TrimSuffix(l, []byte("\n")), []byte("\r"))
				seeds = append(seeds, plain.Encode(text, off, read, event.Flags(i%4)))
				seeds = append(seeds, l)
			}
			off += int64(len(l))
		}
	}
	for _, line := range []string{
		`{"level":"info","msg":"hello","n":[1,2,{"a":"}"}]}`,
		`not json {`,
		"2026-11-25T04:05:06.123+08:00 WARN slow",
		"Jun 14 15:16:01 combo sshd(pam_unix)[19939]: check pass",
		`127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326`,
	} {
		seeds = append(seeds, rich.Encode([]byte(line), 42, read, 0), plain.Encode([]byte(line), 7, read, event.Truncated))
	}
	return append(seeds,
		[]byte(`{"@timestamp":"2026-11-25T04:05:06.789Z","message":"2026-11-20T01:02:03Z ERROR x","log":{"level":"debug"},"event":{"id":"e1","created":"2026-01-01T00:00:00.000Z"}}`),
		[]byte(`{ "user" : "bob", "n": [1, {"a": "}"}] }`),
		[]byte(`{"message":"Jun 14 15:16:01 combo sshd: INFO ok","log":{},"event":{}}`),
		[]byte(`{"message":"2026-11-25 04:05:06 ERROR x","log.level":"warn","event.id":"dotted","event.created":"x"}`),
		[]byte(`{"message": "unterminated`),
		[]byte(`{}`), []byte(`[]`), []byte(`"s"`), []byte(``),
		[]byte("[Sun Dec 04 04:47:44 2005] [error] \"bad\"\tthing\x00\xff"),
	)
}

// FuzzParseRecord checks the scanner against encoding/json: every JSON
// object is found to be one, the spans it reports lie inside the record
// and hold values of the right kind, and for an object without repeated
// member names they are the members encoding/json reads.
func FuzzParseRecord(f *testing.F) {
	for _, s := range fuzzRecordSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, ok := parseRecord(b)
		valid := json.Valid(b)
		first := bytes.TrimLeft(b, " \t\r\n")
		if valid && len(first) > 0 && first[0] == '{' && !ok {
			t.Fatalf("a JSON object is not found to be one: %q", b)
		}
		if !ok {
			return
		}
		if r.open < 0 || r.end <= r.open || r.end >= len(b) || b[r.open] != '{' || b[r.end] != '}' ||
			len(bytes.TrimLeft(b[r.end+1:], " \t\r\n")) != 0 {
			t.Fatalf("object bounds [%d, %d] of %q", r.open, r.end, b)
		}
		// inside checks that a span lies in the object, opens with open
		// and closes with one of closers ("" for a value of any kind).
		inside := func(name string, s span, open byte, closers string) {
			if !s.ok() {
				return
			}
			if s.s <= r.open || s.e > r.end || s.e <= s.s ||
				(closers != "" && (s.e-s.s < 2 || b[s.s] != open || !strings.ContainsRune(closers, rune(b[s.e-1])))) {
				t.Fatalf("%s span [%d, %d) of %q", name, s.s, s.e, b)
			}
		}
		inside("@timestamp", r.ts, 0, "")
		inside("message", r.msg, '"', `"`)
		inside("event.id", r.id, '"', `"`)
		// Brackets are matched by depth, not kind: {"event":{]} passes.
		// Such a record is not JSON, and Elasticsearch refuses it.
		inside("log", r.log, '{', "}]")
		inside("event", r.event, '{', "}]")
		if !valid {
			return // the scanner checks structure only; Elasticsearch refuses the rest
		}
		top, dup := members(t, b)
		if dup {
			return // which of two members counts is the scanner's choice
		}
		spanIs := func(name string, s span, want json.RawMessage, isKind bool) {
			if s.ok() != isKind {
				t.Fatalf("%s: found %v, but the record's member is %s", name, s.ok(), want)
			}
			if s.ok() && !bytes.Equal(b[s.s:s.e], want) {
				t.Fatalf("%s: span holds %s, the member is %s", name, b[s.s:s.e], want)
			}
		}
		kind := func(v json.RawMessage) byte {
			if len(v) == 0 {
				return 0
			}
			return v[0]
		}
		spanIs("@timestamp", r.ts, top["@timestamp"], top["@timestamp"] != nil)
		spanIs("message", r.msg, top["message"], kind(top["message"]) == '"')
		spanIs("log", r.log, top["log"], kind(top["log"]) == '{')
		spanIs("event", r.event, top["event"], kind(top["event"]) == '{')
		if r.logOther != (top["log"] != nil && kind(top["log"]) != '{') ||
			r.eventOther != (top["event"] != nil && kind(top["event"]) != '{') {
			t.Fatalf("logOther %v eventOther %v for %q", r.logOther, r.eventOther, b)
		}
		_, hasJSON := top["json"]
		if r.hasJSON != hasJSON {
			t.Fatalf("hasJSON %v for %q", r.hasJSON, b)
		}
		logM, logDup := objectMembers(t, top["log"])
		evM, evDup := objectMembers(t, top["event"])
		if logDup || evDup {
			return
		}
		_, dotLevel := top["log.level"]
		_, nestLevel := logM["level"]
		if r.hasLevel != (dotLevel || nestLevel) {
			t.Fatalf("hasLevel %v for %q", r.hasLevel, b)
		}
		_, dotCreated := top["event.created"]
		_, nestCreated := evM["created"]
		if r.hasCreated != (dotCreated || nestCreated) {
			t.Fatalf("hasCreated %v for %q", r.hasCreated, b)
		}
		dotID, nestID := top["event.id"], evM["id"]
		switch {
		case dotID != nil && nestID != nil: // both: the later one counts
		case kind(dotID) == '"':
			spanIs("event.id", r.id, dotID, true)
		case kind(nestID) == '"':
			spanIs("event.id", r.id, nestID, true)
		default:
			spanIs("event.id", r.id, nil, false)
		}
	})
}

// members decodes the top level of a valid JSON object: each member's
// value as written (the last, for a repeated name), and whether a name is
// repeated.
func members(t *testing.T, b []byte) (map[string]json.RawMessage, bool) {
	t.Helper()
	m, counts := map[string]json.RawMessage{}, map[string]int{}
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %q", b)
	}
	dup := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("%q: %v", b, err)
		}
		k := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%q: %v", b, err)
		}
		m[k] = v
		counts[k]++
		dup = dup || counts[k] > 1
	}
	return m, dup
}

// objectMembers is members for a value that may not be an object: nil
// then.
func objectMembers(t *testing.T, v json.RawMessage) (map[string]json.RawMessage, bool) {
	if len(v) == 0 || v[0] != '{' {
		return nil, false
	}
	return members(t, v)
}

// nameCounts counts each member name of a valid JSON object's top level.
func nameCounts(b []byte) map[string]int {
	c := map[string]int{}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.Token()
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return c
		}
		c[tok.(string)]++
		var v json.RawMessage
		if dec.Decode(&v) != nil {
			return c
		}
	}
	return c
}

// FuzzBuild checks the _bulk entry built from any record: two lines, an
// action whose _id Elasticsearch accepts (a string of 1 to 512 bytes) and
// that is the same whenever the record is, and a source line that is
// valid JSON whenever the record is. A JSON object keeps every member
// (only @timestamp replaced, log.level and event.created added, no name
// repeated that was not); anything else becomes a message holding the
// record. The record itself is not changed, and its dead-letter copy
// holds all of it under the same _id.
func FuzzBuild(f *testing.F) {
	for i, s := range fuzzRecordSeeds(f) {
		f.Add(s, int64(i), time.Date(2026, 11, 25, 4, 5, 7, 0, time.UTC).UnixMilli())
	}
	f.Add([]byte(`{"message":"x"}`), int64(-1), int64(0))
	f.Add([]byte(`2026-11-25 04:05:06 INFO x`), int64(1<<62), int64(-62135596800000))
	pat, err := indexname.Parse("{topic}-{yyyy.MM.dd}")
	if err != nil {
		f.Fatal(err)
	}
	now := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	p := newPartition("App", 3, pat)
	f.Fuzz(func(t *testing.T, value []byte, offset, kafkaMs int64) {
		kt := time.Time{}
		if kafkaMs != 0 {
			kt = time.UnixMilli(kafkaMs)
		}
		orig := append([]byte(nil), value...)
		var bd builder
		d := &document{raw: value, offset: offset, kafkaTime: kt, seen: now, part: p}
		bd.build(d)
		if !bytes.Equal(value, orig) {
			t.Fatalf("the record was changed: %q became %q", orig, value)
		}

		// Two lines, the action valid JSON with an acceptable _id.
		e := d.entry
		if bytes.Count(e, []byte("\n")) != 2 || e[len(e)-1] != '\n' {
			t.Fatalf("entry is not two lines:\n%q", e)
		}
		nl := bytes.IndexByte(e, '\n')
		action, source := e[:nl], e[nl+1:len(e)-1]
		var a struct {
			Index map[string]json.RawMessage `json:"index"`
		}
		if err := json.Unmarshal(action, &a); err != nil || len(a.Index) != 2 {
			t.Fatalf("action line %q: %v", action, err)
		}
		var index, id string
		if json.Unmarshal(a.Index["_index"], &index) != nil || json.Unmarshal(a.Index["_id"], &id) != nil {
			t.Fatalf("action line %q: _index or _id is not a string", action)
		}
		if id == "" || len(id) > 512 {
			t.Fatalf("_id of %d bytes (Elasticsearch takes 1 to 512): %q", len(id), action)
		}
		if index != d.indexName || index != d.index() || id != d.id() || d.localDoc().ID != id || d.localDoc().Index != index {
			t.Fatalf("_index %q _id %q; the document says %q %q, its local copy %q %q",
				index, id, d.index(), d.id(), d.localDoc().Index, d.localDoc().ID)
		}
		if !bytes.Equal(d.localDoc().Source, source) {
			t.Fatalf("the local copy's source differs from the _bulk source")
		}

		// The same record gives the same entry, from a fresh builder and
		// from one that built another document in between.
		other := &document{raw: []byte(`{"message":"2020-01-01 00:00:00 ERROR other","log":{"x":1},"event":{}}`), part: p, seen: now}
		bd.build(other)
		d2 := &document{raw: value, offset: offset, kafkaTime: kt, seen: now, part: p}
		bd.build(d2)
		var fresh builder
		d3 := &document{raw: value, offset: offset, kafkaTime: kt, seen: now, part: p}
		fresh.build(d3)
		if !bytes.Equal(d2.entry, e) || !bytes.Equal(d3.entry, e) {
			t.Fatalf("the same record built twice differs:\n%q\n%q\n%q", e, d2.entry, d3.entry)
		}

		// Its dead-letter copy, should Elasticsearch refuse it: two lines,
		// the same _id, the record whole under event.original.
		dl := d.toDeadLetter("mapper_parsing_exception", "failed to parse field [\"\n]", now)
		if bytes.Count(dl.entry, []byte("\n")) != 2 || dl.id() != id || dl.index() != "deadletter-2026.11.26" {
			t.Fatalf("dead letter %q: _id %q _index %q", dl.entry, dl.id(), dl.index())
		}
		var kept struct {
			Event struct {
				Original string `json:"original"`
			} `json:"event"`
		}
		if err := json.Unmarshal(dl.entry[dl.src:], &kept); err != nil || kept.Event.Original != replaceInvalid(value) {
			t.Fatalf("dead letter source %q: %v; event.original is not the record", dl.entry[dl.src:], err)
		}

		_, isObject := parseRecord(value)
		if !isObject {
			// A message holding the record, each invalid byte as U+FFFD.
			var src struct {
				Message string `json:"message"`
			}
			if err := json.Unmarshal(source, &src); err != nil {
				t.Fatalf("source of a plain record is not JSON: %v\n%q", err, source)
			}
			if want := replaceInvalid(value); src.Message != want {
				t.Fatalf("message %q, want %q", src.Message, want)
			}
			return
		}
		if !json.Valid(value) {
			return // malformed inside: Elasticsearch refuses it, and it goes to the dead letters
		}
		if !json.Valid(source) {
			t.Fatalf("the source of a valid JSON object is not valid JSON:\n%q\n%q", value, source)
		}
		in, _ := members(t, value)
		out, _ := members(t, source)
		for k, v := range in {
			w, ok := out[k]
			switch {
			case !ok:
				t.Fatalf("member %q lost:\n%q\n%q", k, value, source)
			case k == "@timestamp":
			case (k == "log" || k == "event" || k == "host" || k == "agent") && len(v) > 0 && v[0] == '{':
				inner, _ := members(t, v)
				innerOut, _ := objectMembers(t, w)
				for ik, iv := range inner {
					if !bytes.Equal(innerOut[ik], iv) {
						t.Fatalf("member %s.%s changed: %s became %s", k, ik, iv, innerOut[ik])
					}
				}
			case k == "message" && jsonMessage(t, in) != nil:
				// A parsed JSON line's own message stands for the line,
				// which moves to event.original.
				if jm := jsonMessage(t, in); !bytes.Equal(w, jm) {
					t.Fatalf("message %s, want the JSON line's %s", w, jm)
				}
				if ev, _ := objectMembers(t, out["event"]); !bytes.Equal(ev["original"], v) {
					t.Fatalf("event.original %s, want the message it replaced %s", ev["original"], v)
				}
			case !bytes.Equal(v, w):
				t.Fatalf("member %q changed: %s became %s", k, v, w)
			}
		}
		// Only brun's agent's records (agent.type "brun") get the ECS
		// members the agent leaves to the transfer.
		brun := false
		if a := in["agent"]; len(a) > 0 && a[0] == '{' {
			inner, _ := members(t, a)
			brun = string(inner["type"]) == `"brun"`
		}
		for k := range out {
			if _, ok := in[k]; ok || k == "@timestamp" || k == "log" || k == "event" {
				continue
			}
			if brun && (k == "ecs" || k == "input") {
				continue
			}
			t.Fatalf("member %q added:\n%q", k, source)
		}
		if !brun {
			for _, k := range []string{"host", "agent"} {
				if !bytes.Equal(in[k], out[k]) {
					t.Fatalf("member %q of a record not of brun's agent changed: %s became %s", k, in[k], out[k])
				}
			}
		}
		inCount := nameCounts(value)
		for k, n := range nameCounts(source) {
			if n > max(inCount[k], 1) {
				t.Fatalf("member %q appears %d times (%d in the record); Elasticsearch refuses repeated names:\n%q",
					k, n, inCount[k], source)
			}
		}
	})
}

// jsonMessage returns the string that stands for the line of a record
// whose "json" object has a "message" or "msg" string (in that order),
// when the record has a string message it can replace and no
// event.original yet; nil otherwise.
func jsonMessage(t *testing.T, in map[string]json.RawMessage) json.RawMessage {
	j, m := in["json"], in["message"]
	if len(j) == 0 || j[0] != '{' || len(m) == 0 || m[0] != '"' || in["event.original"] != nil {
		return nil
	}
	if ev := in["event"]; len(ev) > 0 {
		if ev[0] != '{' {
			return nil
		}
		if inner, _ := members(t, ev); inner["original"] != nil {
			return nil
		}
	}
	jm, _ := members(t, j)
	for _, k := range jsonMessageKeys {
		if v := jm[k]; len(v) > 0 && v[0] == '"' {
			return v
		}
	}
	return nil
}

// replaceInvalid is what a JSON decoder reads back from
// event.AppendString(s): s with each invalid UTF-8 byte as U+FFFD.
func replaceInvalid(s []byte) string {
	var b strings.Builder
	for len(s) > 0 {
		r, n := utf8.DecodeRune(s)
		b.WriteRune(r)
		s = s[n:]
	}
	return b.String()
}
