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
}
