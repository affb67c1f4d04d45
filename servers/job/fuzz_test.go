package job

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// A job value is whatever was written to an etcd key, and the agent (run
// as root) acts on it. These targets check that no value crashes Parse,
// that a value is taken only when it is a job, and that every refusal
// names its fields. `make fuzz` runs them; `go test` runs their seeds.

// FuzzParse parses any value. Every refusal is a *Error whose fields and
// reasons are all non-empty; a value over MaxValueBytes, nesting deeper
// than MaxDepth, or not exactly one JSON value is refused. An accepted
// spec is valid, and marshalled to JSON and parsed again it is Equal to
// itself.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		// The README's jobs.
		`{"path": "/var/log/syslog", "topic": "syslog"}`,
		`{"path": "/var/log/nginx/access.log", "topic": "nginx"}`,
		`{"path": "/srv/app/logs/*.log", "topic": "app", "exclude": ["*.gz"],
  "multiline": {"pattern": "^\\d{4}-\\d{2}-\\d{2}", "negate": true, "match": "after"}, "fields": {"env": "prod"}}`,
		`{"path":"/var/log/app/*.log","topic":"app","exclude":["*.gz"],"multiline":{"pattern":"^\\d{2}:","negate":true,"match":"after","max_lines":500,"timeout":"5s"},"max_line_bytes":1048576,"encoding":"gbk","fields":{"env":"prod","n":1,"a":[1,{"b":null}]},"json":true}`,
		// Refusals of each kind.
		`{"path":"/a","topic":"t"`, `not json`, `{"PATH":"/a","topic":"t"}`, `{"path":"/a","path":"/etc/shadow","topic":"t"}`,
		`{"path":"var/log/a","topic":"t"}`, `{"path":"/var/[a","topic":"t","exclude":["[x"]}`,
		`{"path":"/a","topic":"t","multiline":{"pattern":"(","match":"around","timeout":"soon","max_lines":-1}}`,
		`{"path":"/a","topic":"t","max_line_bytes":16777217,"encoding":"klingon","fields":{"":1}}`,
		`{"path":"/a","topic":"t","json":"yes"}`, `{"path":"/a","topic":"t"} {}`,
		`{"path":"/a","topic":"t","fields":` + strings.Repeat(`{"a":`, 16) + `1` + strings.Repeat(`}`, 16) + `}`,
		`{"path":"/a","topic":"t","fields":{"x":"` + strings.Repeat("y", MaxValueBytes) + `"}}`,
		`{"path":"/a","topic":"t","multiline":null,"n":1e400}`,
		"{\"path\":\"/a\xff\",\"topic\":\"t\",\"fields\":{\"k\":\"\\ud800<>&\"}}", ``, `null`, `[]`, `"x"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data)
		if err != nil {
			var je *Error
			if !errors.As(err, &je) || len(je.Fields) == 0 {
				t.Fatalf("Parse(%q): %v is not a *job.Error with fields", data, err)
			}
			for _, fe := range je.Fields {
				if fe.Field == "" || fe.Reason == "" {
					t.Fatalf("Parse(%q): field error %+v is not named or explained", data, fe)
				}
			}
			return
		}
		if len(data) > MaxValueBytes {
			t.Fatalf("a value of %d bytes is accepted; at most %d", len(data), MaxValueBytes)
		}
		if !json.Valid(data) {
			t.Fatalf("Parse(%q) accepted a value that is not one JSON value", data)
		}
		if d := depth(data); d > MaxDepth {
			t.Fatalf("Parse(%q) accepted %d levels; at most %d", data, d, MaxDepth)
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("Parse(%q) accepted a spec that is not valid: %v", data, err)
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatalf("marshal %+v: %v", s, err)
		}
		again := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
		if len(again) > MaxValueBytes {
			return // the same job, longer written (U+FFFD for invalid UTF-8): over the bound is refused
		}
		s2, err := Parse(again)
		if err != nil {
			t.Fatalf("Parse(%q) accepted, marshalled as %q it is refused: %v", data, again, err)
		}
		if !s2.Equal(s) {
			t.Fatalf("Parse(%q) = %+v; marshalled and parsed again = %+v", data, s, s2)
		}
	})
}

// depth is how deeply objects and arrays nest in valid JSON, the
// outermost counting as 1.
func depth(data []byte) int {
	d, deepest, inString := 0, 0, false
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			d++
			deepest = max(deepest, d)
		case c == '}' || c == ']':
			d--
		}
	}
	return deepest
}

// FuzzValidName checks ValidName against its definition (1 to
// MaxNameBytes of A-Z a-z 0-9 . _ -, not "." or "..") and NameError
// against ValidName: a reason exactly for the names refused.
func FuzzValidName(f *testing.F) {
	for _, n := range []string{"app", "nginx.access", "a_b-c.1", strings.Repeat("x", 128), strings.Repeat("x", 129),
		"", ".", "..", "...", "a/b", "a b", "ä", "x\n", "-", "job/10.0.0.7/nginx"} {
		f.Add(n)
	}
	f.Fuzz(func(t *testing.T, name string) {
		want := len(name) >= 1 && len(name) <= MaxNameBytes && name != "." && name != ".."
		for _, c := range []byte(name) {
			if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
				want = false
			}
		}
		if got := ValidName(name); got != want {
			t.Fatalf("ValidName(%q) = %v, want %v", name, got, want)
		}
		if reason := NameError(name); (reason == "") != want {
			t.Fatalf("NameError(%q) = %q, but ValidName is %v", name, reason, want)
		}
	})
}
