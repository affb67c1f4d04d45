package indexname

import (
	"strings"
	"testing"
	"time"
)

func TestIndexPattern(t *testing.T) {
	day := time.Date(2026, 1, 2, 23, 0, 0, 0, time.FixedZone("x", -3*3600)) // 2026-01-03 in UTC
	cases := []struct {
		pattern, name, wildcard, err string
	}{
		{"{topic}-{yyyy.MM.dd}", "my.app-2026.01.03", "*-*.*.*", ""},
		{"logs-{topic}-{yyyy.MM}", "logs-my.app-2026.01", "logs-*-*.*", ""},
		{"{topic}", "my.app", "*", ""},
		{"{yyyy}", "", "", "must contain {topic}"},
		{"{topic}-{HH}", "", "", "unknown placeholder {HH}"},
		{"{topic}-{yyyy", "", "", "unclosed"},
		{"Logs-{topic}", "", "", "not allowed"},
		{"_{topic}", "", "", "must not start"},
	}
	for _, c := range cases {
		p, err := Parse(c.pattern)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), "es.index") {
				t.Errorf("%q: error %v, want one naming es.index and %q", c.pattern, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", c.pattern, err)
		}
		if got := p.Name("My.App", day); got != c.name {
			t.Errorf("%q: name %q, want %q", c.pattern, got, c.name)
		}
		if got := p.Wildcard(); got != c.wildcard {
			t.Errorf("%q: wildcard %q, want %q", c.pattern, got, c.wildcard)
		}
	}
}

func TestOfTopic(t *testing.T) {
	cases := []struct {
		pattern, topic, glob string
		match, noMatch       []string
	}{
		{"{topic}-{yyyy.MM.dd}", "Demo", "demo-????.??.??",
			[]string{"demo-2026.11.26"}, []string{"demo-x-2026.11.26", "demo-2026.11", "demox2026.11.26", "deadletter-2026.11.26"}},
		{"logs-{topic}-{yyyy.MM}", "app", "logs-app-????.??", []string{"logs-app-2026.01"}, []string{"logs-app-2026.01.02"}},
		{"{topic}", "app", "app", []string{"app"}, []string{"app-2026.01.02", "ap"}},
	}
	for _, c := range cases {
		p, err := Parse(c.pattern)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.OfTopic(c.topic); got != c.glob {
			t.Errorf("%q: OfTopic(%q) = %q, want %q", c.pattern, c.topic, got, c.glob)
		}
		for _, n := range c.match {
			if !p.MatchTopic(c.topic, n) {
				t.Errorf("%q: %q is not matched as an index of %q", c.pattern, n, c.topic)
			}
		}
		for _, n := range c.noMatch {
			if p.MatchTopic(c.topic, n) {
				t.Errorf("%q: %q is matched as an index of %q", c.pattern, n, c.topic)
			}
		}
	}
}

func TestTopicWildcardAndDay(t *testing.T) {
	cases := []struct {
		es, topic, wildcard, index, day string // day "": not a name of topic
	}{
		{"{topic}-{yyyy.MM.dd}", "App", "app-*.*.*", "app-2026.12.03", "2026-12-03"},
		{"{topic}-{yyyy.MM.dd}", "app", "app-*.*.*", "app-x-2026.12.03", ""},
		{"{topic}-{yyyy.MM.dd}", "app", "app-*.*.*", "logstash-2026.12.03", ""},
		{"logs-{topic}-{yyyy.MM}", "web", "logs-web-*.*", "logs-web-2026.02", "2026-02-01"},
		{"{yyyy.MM.dd}-{topic}", "app2", "*.*.*-app2", "2025.01.31-app2", "2025-01-31"},
		{"{topic}", "app", "app", "app", ""},
	}
	for _, c := range cases {
		p, err := Parse(c.es)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.TopicWildcard(c.topic); got != c.wildcard {
			t.Errorf("%s: TopicWildcard(%s) = %q, want %q", c.es, c.topic, got, c.wildcard)
		}
		day, ok := p.Day(c.topic, c.index)
		switch {
		case c.day == "" && ok:
			t.Errorf("%s: Day(%s, %s) = %v, want none", c.es, c.topic, c.index, day)
		case c.day != "" && (!ok || day.Format("2006-01-02") != c.day):
			t.Errorf("%s: Day(%s, %s) = %v %v, want %s", c.es, c.topic, c.index, day, ok, c.day)
		}
	}
}

func TestAlias(t *testing.T) {
	for topic, want := range map[string]string{"app": "app", "App.Logs": "app.logs", "web-1": "web-1", "_x": "", "-x": "", "+x": "", ".": "", "..": "", "": ""} {
		got, ok := Alias(topic)
		if got != want || ok != (want != "") {
			t.Errorf("Alias(%q) = %q, %v; want %q", topic, got, ok, want)
		}
	}
}
