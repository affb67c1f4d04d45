package job

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Each new field: values that pass, and values that fail with an error
// naming the field and quoting the value.
func TestFilterFieldsValidation(t *testing.T) {
	many := make([]string, MaxLinePatterns+1)
	for i := range many {
		many[i] = fmt.Sprintf(`"x%d"`, i)
	}
	long := strings.Repeat("a", MaxLinePatternBytes+1)
	cases := []struct {
		name  string
		extra string // members added to {"path":..., "topic":"t"}
		path  string // "" means /var/log/*.log
		field string // "" means valid
		want  string // in the reason
	}{
		{name: "include and exclude", extra: `"include_lines":["^ERR","WARN"],"exclude_lines":["DEBUG"]`},
		{name: "empty lists", extra: `"include_lines":[],"exclude_lines":[]`},
		{name: "64 patterns", extra: `"include_lines":[` + strings.Join(many[:MaxLinePatterns], ",") + `]`},
		{name: "bad include", extra: `"include_lines":["ok","(unclosed"]`, field: "include_lines[1]", want: `"(unclosed" is not a valid regular expression`},
		{name: "bad exclude", extra: `"exclude_lines":["[z-a]"]`, field: "exclude_lines[0]", want: `"[z-a]"`},
		{name: "empty pattern", extra: `"exclude_lines":[""]`, field: "exclude_lines[0]", want: "is empty"},
		{name: "too many", extra: `"include_lines":[` + strings.Join(many, ",") + `]`, field: "include_lines", want: "at most 64"},
		{name: "too long", extra: `"exclude_lines":["x","` + long + `"]`, field: "exclude_lines[1]", want: "at most 1024"},
		{name: "not a list", extra: `"include_lines":"ERR"`, field: "include_lines", want: "must be"},
		{name: "start beginning", extra: `"start":"beginning"`},
		{name: "start end", extra: `"start":"end"`},
		{name: "start bad", extra: `"start":"tail"`, field: "start", want: `"tail" is not`},
		{name: "start case", extra: `"start":"END"`, field: "start", want: `"END"`},
		{name: "timezone IANA", extra: `"timezone":"Asia/Shanghai"`},
		{name: "timezone offset", extra: `"timezone":"-03:30"`},
		{name: "timezone UTC", extra: `"timezone":"UTC"`},
		{name: "timezone unknown", extra: `"timezone":"Mars/Olympus"`, field: "timezone", want: `"Mars/Olympus" is not a time zone`},
		{name: "timezone path", extra: `"timezone":"../../etc/passwd"`, field: "timezone", want: `is not a time zone`},
		{name: "timezone Local", extra: `"timezone":"Local"`, field: "timezone", want: `"Local" is not a time zone`},
		{name: "timezone bad offset", extra: `"timezone":"+25:00"`, field: "timezone", want: `is not a time zone`},
		{name: "ignore_older hours", extra: `"ignore_older":"24h"`},
		{name: "ignore_older days", extra: `"ignore_older":"7d"`},
		{name: "ignore_older zero", extra: `"ignore_older":"0s"`, field: "ignore_older", want: `"0s" is not a positive duration`},
		{name: "ignore_older negative", extra: `"ignore_older":"-1h"`, field: "ignore_older", want: `"-1h"`},
		{name: "ignore_older fraction of days", extra: `"ignore_older":"1.5d"`, field: "ignore_older", want: `"1.5d"`},
		{name: "ignore_older huge", extra: `"ignore_older":"9999999999d"`, field: "ignore_older", want: `"9999999999d"`},
		{name: "ignore_older word", extra: `"ignore_older":"old"`, field: "ignore_older", want: `"old"`},
		{name: "ignore_older number", extra: `"ignore_older":3600`, field: "ignore_older", want: "must be string"},
		{name: "double star path", path: "/var/log/**/*.log"},
		{name: "two double stars", path: "/var/**/app/**/*.log"},
		{name: "three double stars", path: "/a/**/b/**/c/**/*.log", field: "path", want: "at most 2"},
		{name: "alternatives", path: "/var/log/{a,b}/*.log"},
		{name: "too many alternatives", path: "/l/{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}/*.log", field: "path", want: "expands to more than 64"},
		{name: "bad brace", path: "/var/log/{a,b/*.log", field: "path", want: "is not a valid glob"},
		{name: "path too long", path: "/" + strings.Repeat("a", MaxPathBytes), field: "path", want: "at most 4096"},
		{name: "double star exclude", extra: `"exclude":["/var/log/**/old/**"]`},
		{name: "exclude alternatives", extra: `"exclude":["{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}"]`, field: "exclude[0]", want: "expands to more than"},
		{name: "misspelt", extra: `"include_line":["x"]`, field: "include_line", want: `did you mean "include_lines"?`},
		{name: "misspelt start", extra: `"strat":"end"`, field: "strat", want: `did you mean "start"?`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := c.path
			if path == "" {
				path = "/var/log/*.log"
			}
			value := fmt.Sprintf(`{"path":%q,"topic":"t"`, path)
			if c.extra != "" {
				value += "," + c.extra
			}
			_, err := Parse([]byte(value + "}"))
			if c.field == "" {
				if err != nil {
					t.Fatalf("%s: %v", value, err)
				}
				return
			}
			var je *Error
			if !errors.As(err, &je) {
				t.Fatalf("error %v is not a *job.Error", err)
			}
			for _, f := range je.Fields {
				if f.Field == c.field && strings.Contains(f.Reason, c.want) {
					return
				}
			}
			t.Fatalf("%+v has no %s error containing %q", je.Fields, c.field, c.want)
		})
	}
}

func TestFilterFieldsAccessors(t *testing.T) {
	s, err := Parse([]byte(`{"path":"/a/**/*.log","topic":"t","start":"end","ignore_older":"2d"}`))
	if err != nil {
		t.Fatal(err)
	}
	if !s.IsGlob() || !s.StartAtEnd() || s.MaxAge() != 48*time.Hour {
		t.Fatalf("glob %v, start at end %v, max age %v", s.IsGlob(), s.StartAtEnd(), s.MaxAge())
	}
	d, _ := Parse([]byte(`{"path":"/a/b.log","topic":"t"}`))
	if d.StartAtEnd() || d.MaxAge() != 0 {
		t.Fatalf("defaults: start at end %v, max age %v", d.StartAtEnd(), d.MaxAge())
	}
	// "beginning" is the default, and empty filter lists are none: editing
	// between them does not restart the job.
	e, _ := Parse([]byte(`{"path":"/a/b.log","topic":"t","start":"beginning","include_lines":[],"exclude_lines":[]}`))
	if !d.Equal(e) {
		t.Fatal(`start "beginning" and empty filter lists differ from absent ones`)
	}
	f, _ := Parse([]byte(`{"path":"/a/b.log","topic":"t","exclude_lines":["x"]}`))
	if d.Equal(f) {
		t.Fatal("a job with exclude_lines equals one without")
	}
}

func TestAlternatives(t *testing.T) {
	for g, want := range map[string]int{
		"/a/*.log":         1,
		"/a/{b,c}/*.log":   2,
		"/a/{b,c}/{d,e,f}": 6,
		"/a/{b,{c,d}}":     3,
		`/a/\{b,c}`:        1,
		"/a/[{]b,c}":       1,
		"/a/{}":            1,
		"{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}": MaxGlobAlternatives + 1,
	} {
		if got := alternatives(g); got != want {
			t.Errorf("alternatives(%q) = %d, want %d", g, got, want)
		}
	}
}
