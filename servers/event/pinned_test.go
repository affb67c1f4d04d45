package event

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// What a job's pins read goes where the transfer looks for it: the time to
// @timestamp with the read time in event.created, the level to log.level,
// the message to message with the line in event.original; every member
// once, whatever is pinned.
func TestEncodePinned(t *testing.T) {
	read := time.Date(2026, 11, 25, 4, 5, 6, 789000000, time.UTC)
	at := time.Date(2026, 11, 20, 1, 2, 3, 450000000, time.FixedZone("", 8*3600))
	line := []byte(`{"when":"x","sev":"W","text":"disk \"low\""}`)
	cases := []struct {
		name string
		p    Pinned
		want map[string]any // path -> value; nil: absent
	}{
		{"nothing", Pinned{}, map[string]any{
			"@timestamp": "2026-11-25T04:05:06.789Z", "message": string(line), "event.created": nil, "event.original": nil, "log.level": nil,
		}},
		{"time", Pinned{Time: at}, map[string]any{
			"@timestamp": "2026-11-19T17:02:03.450Z", "event.created": "2026-11-25T04:05:06.789Z", "message": string(line), "event.original": nil,
		}},
		{"level", Pinned{Level: "warn"}, map[string]any{
			"log.level": "warn", "@timestamp": "2026-11-25T04:05:06.789Z", "log.offset": 9.0, "log.flags": []any{"multiline"},
		}},
		{"message", Pinned{Message: []byte(`disk "low"`)}, map[string]any{
			"message": `disk "low"`, "event.original": string(line), "event.created": nil,
		}},
		{"all", Pinned{Time: at, Level: "warn", Message: []byte("m")}, map[string]any{
			"@timestamp": "2026-11-19T17:02:03.450Z", "event.created": "2026-11-25T04:05:06.789Z", "log.level": "warn",
			"message": "m", "event.original": string(line), "event.timezone": "+08:00", "event.id": "*",
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			enc := NewEncoder(Source{Host: "h", AgentID: "a", Path: "/p", FileID: "1:2", Timezone: "+08:00", JSON: true})
			v := enc.EncodePinned(line, 9, read, Multiline, c.p)
			var doc map[string]any
			if err := json.Unmarshal(v, &doc); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, v)
			}
			if n := strings.Count(string(v), `"created"`); n > 1 {
				t.Fatalf("event.created %d times:\n%s", n, v)
			}
			for path, want := range c.want {
				var cur any = doc
				for _, k := range strings.Split(path, ".") {
					m, _ := cur.(map[string]any)
					cur = m[k]
				}
				got, _ := json.Marshal(cur)
				w, _ := json.Marshal(want)
				if want == "*" && cur != nil {
					continue
				}
				if string(got) != string(w) {
					t.Errorf("%s = %s, want %s\n%s", path, got, w, v)
				}
			}
			if doc["json"] == nil {
				t.Errorf("json object missing:\n%s", v)
			}
		})
	}
}
