package job

import (
	"errors"
	"strings"
	"testing"
)

// timestamp, level and message: values that pass, and values that fail
// with an error naming the field.
func TestPinsValidation(t *testing.T) {
	cases := []struct {
		name  string
		extra string // members added to {"path":"/var/log/*.log","topic":"t"}
		field string // "" means valid
		want  string // in the reason
	}{
		{name: "layout at the start", extra: `"timestamp":{"layout":"2006-01-02 15:04:05.000"}`},
		{name: "layout with pattern", extra: `"timestamp":{"layout":"02/Jan/2006:15:04:05 -0700","pattern":"\\[([^\\]]+)\\]"}`},
		{name: "syslog layout without a year", extra: `"timestamp":{"layout":"Jan _2 15:04:05"}`},
		{name: "named layouts", extra: `"json":true,"timestamp":{"layout":"UNIX_MS","field":"ts"}`},
		{name: "RFC3339", extra: `"timestamp":{"layout":"RFC3339"}`},
		{name: "layout missing", extra: `"timestamp":{"pattern":"(\\d+)"}`, field: "timestamp.layout", want: "is required"},
		{name: "layout without a clock", extra: `"timestamp":{"layout":"2006-01-02"}`, field: "timestamp.layout", want: "needs a day, an hour and a minute"},
		{name: "layout of no element", extra: `"timestamp":{"layout":"yyyy-MM-dd HH:mm:ss"}`, field: "timestamp.layout", want: `"yyyy-MM-dd HH:mm:ss"`},
		{name: "layout too long", extra: `"timestamp":{"layout":"` + strings.Repeat("2006 ", 13) + `"}`, field: "timestamp.layout", want: "1 to 64 bytes"},
		{name: "field without json", extra: `"timestamp":{"layout":"UNIX","field":"ts"}`, field: "timestamp.field", want: `needs "json": true`},
		{name: "field and pattern", extra: `"json":true,"timestamp":{"layout":"UNIX","field":"ts","pattern":"(x)"}`, field: "timestamp", want: "both field and pattern"},
		{name: "pattern without a group", extra: `"timestamp":{"layout":"UNIX","pattern":"\\d+"}`, field: "timestamp.pattern", want: "has no group"},
		{name: "bad pattern", extra: `"timestamp":{"layout":"UNIX","pattern":"(x"}`, field: "timestamp.pattern", want: "is not a valid regular expression"},
		{name: "misspelt member", extra: `"timestamp":{"layout":"UNIX","feild":"ts"}`, field: "timestamp.feild", want: `did you mean "field"?`},
		{name: "level field", extra: `"json":true,"level":{"field":"severity"}`},
		{name: "level pattern", extra: `"level":{"pattern":"\\[(\\w+)\\]"}`},
		{name: "level empty", extra: `"level":{}`, field: "level", want: "needs field or pattern"},
		{name: "level field too long", extra: `"json":true,"level":{"field":"` + strings.Repeat("f", MaxFieldBytes+1) + `"}`, field: "level.field", want: "at most 256"},
		{name: "level both", extra: `"json":true,"level":{"field":"l","pattern":"(x)"}`, field: "level", want: "both"},
		{name: "message field", extra: `"json":true,"message":{"field":"text"}`},
		{name: "message without json", extra: `"message":{"field":"text"}`, field: "message.field", want: `needs "json": true`},
		{name: "message empty", extra: `"json":true,"message":{}`, field: "message.field", want: "is required"},
		{name: "message pattern", extra: `"json":true,"message":{"field":"m","pattern":"(x)"}`, field: "message.pattern", want: "is not a job field"},
		{name: "level not an object", extra: `"level":"error"`, field: "level", want: "must be"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			value := `{"path":"/var/log/*.log","topic":"t",` + c.extra + `}`
			s, err := Parse([]byte(value))
			if c.field == "" {
				if err != nil {
					t.Fatalf("%s: %v", value, err)
				}
				if s.Timestamp == nil && s.Level == nil && s.Message == nil {
					t.Fatalf("%s: parsed without its pins", value)
				}
				return
			}
			var je *Error
			if !errors.As(err, &je) {
				t.Fatalf("%s: error %v is not a *job.Error", value, err)
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
