package esx

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestTemplatesTopics(t *testing.T) {
	var a Templates
	err := json.Unmarshal([]byte(`{"index_templates":[
		{"name":"brun-web","index_template":{"_meta":{"managed_by":"brun","topic":"web"}}},
		{"name":"brun-other","index_template":{"_meta":{"managed_by":"someone","topic":"other"}}},
		{"name":"brun-x","index_template":{}},
		{"name":"brun-app","index_template":{"_meta":{"managed_by":"brun","topic":"app"}}}]}`), &a)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(a.Topics(), ","); got != "app,web" {
		t.Errorf("topics %q, want app,web: only brun's own, sorted", got)
	}
}
