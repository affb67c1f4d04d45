package job

import (
	"errors"
	"strings"
	"testing"
)

func TestParseValid(t *testing.T) {
	s, err := Parse([]byte(`{"path":"/var/log/app/*.log","topic":"app","exclude":["*.gz"],
		"multiline":{"pattern":"^\\d{2}:","negate":true,"match":"after","max_lines":100,"timeout":"2s"},
		"max_line_bytes":65536,"encoding":"GBK","fields":{"env":"prod","n":1},"json":true}`))
	if err != nil {
		t.Fatal(err)
	}
	if !s.IsGlob() || s.LineLimit() != 65536 || s.Multiline.Lines() != 100 || s.Multiline.Wait().Seconds() != 2 {
		t.Fatalf("%+v", s)
	}
	d, _ := Parse([]byte(`{"path":"/a.log","topic":"t","multiline":{"pattern":"x","match":"before"}}`))
	if d.IsGlob() || d.LineLimit() != DefaultMaxLineBytes || d.Multiline.Lines() != DefaultMultilineMaxLines || d.Multiline.Wait() != DefaultMultilineTimeout {
		t.Fatalf("defaults: %+v", d)
	}
}

func TestParseNamesEachBadField(t *testing.T) {
	cases := []struct {
		value string
		field string
		want  string
	}{
		{`{"path":"/a","topic":"t"`, "json", "bad JSON"},
		{`not json`, "json", "bad JSON"},
		{`{"path":"/a","topic":"t","colour":"red"}`, "colour", "is not a job field"},
		{`{"path":"var/log/a","topic":"t"}`, "path", "is not an absolute path"},
		{`{"path":"/var/../a","topic":"t"}`, "path", "is not clean"},
		{`{"path":"/var/[a","topic":"t"}`, "path", "is not a valid glob"},
		{`{"topic":"t"}`, "path", "is required"},
		{`{"path":"/a"}`, "topic", "is required"},
		{`{"path":"/a","topic":"bad topic"}`, "topic", "is not a valid Kafka topic name"},
		{`{"path":"/a","topic":"t","exclude":["[x"]}`, "exclude[0]", "is not a valid glob"},
		{`{"path":"/a","topic":"t","multiline":{"pattern":"(","match":"after"}}`, "multiline.pattern", "is not a valid regular expression"},
		{`{"path":"/a","topic":"t","multiline":{"pattern":"x","match":"around"}}`, "multiline.match", "is not"},
		{`{"path":"/a","topic":"t","multiline":{"pattern":"x","match":"after","timeout":"soon"}}`, "multiline.timeout", "is not a positive duration"},
		{`{"path":"/a","topic":"t","max_line_bytes":-1}`, "max_line_bytes", "is not between"},
		{`{"path":"/a","topic":"t","encoding":"klingon"}`, "encoding", "is not a known encoding"},
		{`{"path":"/a","topic":"t","json":"yes"}`, "json", "must be bool"},
		{`{"path":"/a","topic":"t"} {}`, "json", "extra data"},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.value))
		var je *Error
		if !errors.As(err, &je) {
			t.Errorf("%s: error %v is not a *job.Error", c.value, err)
			continue
		}
		found := false
		for _, f := range je.Fields {
			if f.Field == c.field && strings.Contains(f.Reason, c.want) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: %+v has no %s error containing %q", c.value, je.Fields, c.field, c.want)
		}
	}
}

func TestEqualComparesContent(t *testing.T) {
	a, _ := Parse([]byte(`{"path":"/a","topic":"t","fields":{"x":1,"y":"z"}}`))
	b, _ := Parse([]byte(`{"fields":{"y":"z","x":1},"topic":"t","path":"/a"}`))
	c, _ := Parse([]byte(`{"path":"/a","topic":"t","fields":{"x":2,"y":"z"}}`))
	if !a.Equal(b) || a.Equal(c) {
		t.Fatal("Equal does not compare by content")
	}
	// An empty list or object is the same job as none: no restart.
	d, _ := Parse([]byte(`{"path":"/a","topic":"t"}`))
	e, err := Parse([]byte(`{"path":"/a","topic":"t","exclude":[],"fields":{}}`))
	if err != nil || !d.Equal(e) || !e.Equal(d) {
		t.Fatalf("empty exclude and fields differ from absent ones (%v)", err)
	}
}

// Names are exact, members appear once, and a value is bounded in size
// and depth: each refusal names the field.
func TestParseIsStrict(t *testing.T) {
	deep := func(n int) string {
		return `{"path":"/a","topic":"t","fields":` + strings.Repeat(`{"a":`, n) + `1` + strings.Repeat(`}`, n) + `}`
	}
	cases := []struct {
		value, field, want string
	}{
		{`{"PATH":"/a","topic":"t"}`, "PATH", `did you mean "path"?`},
		{`{"path":"/a","Topic":"t"}`, "Topic", `did you mean "topic"?`},
		{`{"path":"/a","topic":"t","multiline":{"Pattern":"x","match":"after"}}`, "multiline.Pattern", `did you mean "pattern"?`},
		{`{"path":"/a","topic":"t","mutliline":{}}`, "mutliline", `did you mean "multiline"?`},
		{`{"path":"/a","path":"/etc/shadow","topic":"t"}`, "path", "is given twice"},
		{`{"path":"/a","topic":"t","multiline":{"pattern":"x","pattern":"y","match":"after"}}`, "multiline.pattern", "is given twice"},
		{`{"path":"/a","topic":"t","fields":{"k":1,"k":2}}`, "fields.k", "is given twice"},
		{deep(16), "fields.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a", "nests deeper than 16"},
		{deep(1000), "fields.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a", "nests deeper than 16"},
		{`{"path":"/a","topic":"t","fields":{"x":"` + strings.Repeat("y", MaxValueBytes) + `"}}`, "json", "at most 65536"},
		{`{"path":"/a","topic":"t"}]`, "json", "extra data after the job object"},
		{`{"path":"/a","topic":"t"}}{"path":"/etc/shadow"}`, "json", "extra data after the job object"},
		{`{"path":"/a","topic":"t"} {}`, "json", "extra data after the job object"},
		{`{"path":"/a","topic":"t","":1}`, `""`, "is not a job field"},
		{`{"path":"/a","topic":"t","multiline":{"":1,"pattern":"x","match":"after"}}`, `multiline.""`, "is not a job field"},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.value))
		var je *Error
		if !errors.As(err, &je) {
			t.Errorf("%.80s: error %v is not a *job.Error", c.value, err)
			continue
		}
		found := false
		for _, f := range je.Fields {
			if f.Field == c.field && strings.Contains(f.Reason, c.want) {
				found = true
			}
		}
		if !found {
			t.Errorf("%.80s: %+v has no %s error containing %q", c.value, je.Fields, c.field, c.want)
		}
	}
	// At the bounds: 16 levels and a value of MaxValueBytes are accepted.
	if _, err := Parse([]byte(deep(15))); err != nil {
		t.Errorf("16 levels: %v", err)
	}
	pad := MaxValueBytes - len(`{"path":"/a","topic":"t","fields":{"x":""}}`)
	if _, err := Parse([]byte(`{"path":"/a","topic":"t","fields":{"x":"` + strings.Repeat("y", pad) + `"}}`)); err != nil {
		t.Errorf("%d bytes: %v", MaxValueBytes, err)
	}
	// The same name in different objects is no duplicate.
	if _, err := Parse([]byte(`{"path":"/a","topic":"t","fields":{"path":"x","a":{"path":"y"}}}`)); err != nil {
		t.Errorf("names repeated in nested objects: %v", err)
	}
}

func TestValidName(t *testing.T) {
	for _, n := range []string{"app", "nginx.access", "a_b-c.1", strings.Repeat("x", 128)} {
		if !ValidName(n) || NameError(n) != "" {
			t.Errorf("%q refused", n)
		}
	}
	for _, n := range []string{"", ".", "..", "a/b", "a b", "ä", strings.Repeat("x", 129), "x\n"} {
		if ValidName(n) || NameError(n) == "" {
			t.Errorf("%q accepted", n)
		}
	}
}
