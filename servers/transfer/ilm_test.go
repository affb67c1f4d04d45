package transfer

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"brun/base/config"
	"brun/base/esx"
	"brun/base/logging"
	"brun/servers/indexname"
)

// ilmCluster is a stand-in for what setupES and the templates ask of a
// cluster, with ILM or without: the Elasticsearch the tests install has
// none, so whether brun attaches its policy where there is one can only
// be shown against a fake.
type ilmCluster struct {
	hasILM bool

	mu        sync.Mutex
	policy    []byte
	templates map[string][]byte
}

func (c *ilmCluster) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	body, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case r.URL.Path == "/_cluster/health":
		w.Write([]byte(`{"status":"green"}`))
	case r.URL.Path == "/_ilm/status" && !c.hasILM:
		http.Error(w, `{"error":"Incorrect HTTP method"}`, http.StatusMethodNotAllowed)
	case r.URL.Path == "/_ilm/status":
		w.Write([]byte(`{"operation_mode":"RUNNING"}`))
	case r.URL.Path == "/_ilm/policy/"+ilmPolicy && r.Method == http.MethodPut && c.hasILM:
		c.policy = body
		w.Write([]byte(`{"acknowledged":true}`))
	case strings.HasPrefix(r.URL.Path, "/_index_template/") && r.Method == http.MethodPut:
		if c.templates == nil {
			c.templates = map[string][]byte{}
		}
		c.templates[strings.TrimPrefix(r.URL.Path, "/_index_template/")] = body
		w.Write([]byte(`{"acknowledged":true}`))
	default:
		http.Error(w, `{"error":"not found"}`, http.StatusNotFound)
	}
}

func TestILMPolicyAttachedWhereTheClusterHasILM(t *testing.T) {
	for _, hasILM := range []bool{true, false} {
		cluster := &ilmCluster{hasILM: hasILM}
		srv := httptest.NewServer(cluster)
		c := config.Default().ES
		c.Endpoints, c.Retention = []string{srv.URL}, 45*24*time.Hour
		es, err := esx.New(c)
		if err != nil {
			t.Fatal(err)
		}
		pat, _ := indexname.Parse(c.Index)
		tmpl := newTemplates(es, c, pat, logging.For("ilm-test"))
		if err := setupES(context.Background(), es, c, tmpl, logging.For("ilm-test")); err != nil {
			t.Fatal(err)
		}
		if err := tmpl.ensure(context.Background(), []*document{{part: newPartition("app", 0, pat)}}); err != nil {
			t.Fatal(err)
		}
		srv.Close()

		var policy struct {
			Policy struct {
				Phases struct {
					Delete struct {
						MinAge  string         `json:"min_age"`
						Actions map[string]any `json:"actions"`
					} `json:"delete"`
				} `json:"phases"`
			} `json:"policy"`
		}
		var template struct {
			Template struct {
				Settings map[string]any `json:"settings"`
			} `json:"template"`
		}
		if err := json.Unmarshal(cluster.templates["brun-app"], &template); err != nil {
			t.Fatalf("ILM %v: template brun-app: %v", hasILM, err)
		}
		lifecycle := template.Template.Settings["index.lifecycle.name"]
		if !hasILM {
			if cluster.policy != nil || lifecycle != nil {
				t.Errorf("without ILM: policy %s, template lifecycle %v; want neither", cluster.policy, lifecycle)
			}
			continue
		}
		if err := json.Unmarshal(cluster.policy, &policy); err != nil {
			t.Fatalf("policy %s: %v", cluster.policy, err)
		}
		if policy.Policy.Phases.Delete.MinAge != "1080h" || policy.Policy.Phases.Delete.Actions["delete"] == nil {
			t.Errorf("policy %s: want deletion at 1080h (45 days)", cluster.policy)
		}
		if lifecycle != ilmPolicy {
			t.Errorf("template settings %v: want index.lifecycle.name %s", template.Template.Settings, ilmPolicy)
		}
	}
}
