package console

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestDiscoverURL(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	req, errs := parseSearch(url.Values{"q": {`disk AND user:"o'neil!"`}, "level": {"error", "warn"}, "agent": {"10.0.0.7"}}, now)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if got := discoverURL("", req, ""); got != "" {
		t.Errorf("no kibana.url: %q", got)
	}
	got := discoverURL("https://kibana.example.com:5601/base", req, "")
	want := "https://kibana.example.com:5601/base/app/discover#/?_g=" +
		url.PathEscape("(time:(from:'2026-12-03T09:45:00Z',to:'2026-12-03T10:00:00Z'))") + "&_a=" +
		url.PathEscape(`(dataSource:(dataViewId:'brun-logs',type:dataView),query:(language:lucene,query:'(disk AND user:"o!'neil!!") AND agent.id:("10.0.0.7") AND log.level:("error" OR "warn")'))`)
	if got != want {
		t.Errorf("discover URL\n got  %s\n want %s", got, want)
	}
	one := discoverURL("https://k", req, `e"1`)
	if dec, _ := url.PathUnescape(one[strings.Index(one, "&_a=")+4:]); !strings.Contains(dec, ` AND _id:"e\"1"'`) {
		t.Errorf("one event: %s", dec)
	}
}
