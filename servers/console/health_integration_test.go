package console

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"brun/base/testkit"
)

// TestReadyzFollowsDependencies runs real brun processes whose Kafka or
// Elasticsearch is a closed port (the shared servers keep running) and
// checks that /readyz says 503 naming that dependency, and 200 when every
// dependency is the real one. The agent-only cases are served on
// brun.metrics.listen (no console role), the others on console.listen.
func TestReadyzFollowsDependencies(t *testing.T) {
	testkit.Integration(t)
	cases := []struct {
		name     string
		roles    string
		kafka    string
		es       string
		wantCode int
		failing  []string
	}{
		{"agent, kafka down", "agent", "closed", "", 503, []string{"kafka"}},
		{"agent, kafka up", "agent", testkit.KafkaAddr, "", 200, nil},
		{"transfer, es down", "transfer,console", testkit.KafkaAddr, "closed", 503, []string{"elasticsearch"}},
		{"transfer, kafka and es down", "transfer,console", "closed", "closed", 503, []string{"kafka", "elasticsearch"}},
		{"transfer, all up", "transfer,console", testkit.KafkaAddr, testkit.ESURL, 200, nil},
		{"console only", "console", "", "", 200, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			run := testkit.Unique("readyz")
			dir := t.TempDir()
			kafka, es := c.kafka, c.es
			if kafka == "closed" {
				kafka = closedAddr(t)
			}
			if es == "closed" {
				es = "http://" + closedAddr(t)
			}
			listen := testkit.FreeAddr(t)
			ini := fmt.Sprintf(`
[brun]
roles = %s
data.dir = %s/data
metrics.listen = %s
[agent]
id = a-%s
[etcd]
endpoints = %s
prefix = /%s/
[kafka]
endpoints = %s
[es]
endpoints = %s
[transfer]
topics = %s
group = %s
[console]
listen = %s
[log]
dir =
`, c.roles, dir, listen, run, testkit.EtcdAddr, run, kafka, es, run, run, listen)
			testkit.StartBrun(t, writeFile(t, dir, "brun.ini", ini))

			var code int
			var body string
			testkit.WaitFor(t, 30*time.Second, "an answer on "+listen+"/readyz", func() bool {
				code, body = httpGet("http://" + listen + "/readyz")
				return code != 0
			})
			var got struct {
				Failing []string      `json:"failing"`
				Checks  []checkResult `json:"checks"`
			}
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatalf("/readyz: %d %s: %v", code, body, err)
			}
			if code != c.wantCode || strings.Join(got.Failing, ",") != strings.Join(c.failing, ",") {
				t.Fatalf("/readyz: %d failing %v, want %d failing %v\n%s", code, got.Failing, c.wantCode, c.failing, body)
			}
			if got.Checks[0].Name != "etcd" || !got.Checks[0].OK {
				t.Errorf("etcd is up but /readyz says %+v", got.Checks[0])
			}
			for _, path := range []string{"/healthz", "/metrics"} {
				if code, _ := httpGet("http://" + listen + path); code != 200 {
					t.Errorf("%s on %s: %d, want 200", path, listen, code)
				}
			}
		})
	}
}
