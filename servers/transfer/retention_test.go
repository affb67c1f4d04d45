package transfer

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"brun/base/config"
	"brun/base/esx"
	"brun/base/logging"
	"brun/base/testkit"
	"brun/servers/indexname"
)

// es.retention deletes exactly the indices of brun's topics whose day is
// older, and nothing else: not a newer day, not another topic's index
// that its pattern also matches, not someone else's index. The clock is
// fixed, and so are the index days, so the test passes on any date.
func TestRetentionDeletesOnlyExpiredDaysOfBrunTopics(t *testing.T) {
	testkit.Integration(t)
	c := config.Default().ES
	c.Endpoints = []string{testkit.ESURL}
	es, err := esx.New(c)
	if err != nil {
		t.Fatal(err)
	}
	pattern, _ := indexname.Parse("{topic}-{yyyy.MM.dd}")
	topic := strings.ToLower(testkit.Unique("ret"))
	ctx := context.Background()
	if err := putTemplate(ctx, es, templatePrefix+topic, topicTemplate(c, pattern, topic, false)); err != nil {
		t.Fatal(err)
	}
	old, recent := topic+"-2026.10.01", topic+"-2026.11.20"
	other := topic + "-x-2026.10.01" // topic "<topic>-x": not brun's here
	foreign := strings.ToLower(testkit.Unique("logstash")) + "-2026.10.01"
	all := []string{old, recent, other, foreign}
	for _, name := range all {
		testkit.ES(t, "PUT", "/"+name, "", nil)
	}
	t.Cleanup(func() {
		for _, name := range all {
			testkit.ES(t, "DELETE", "/"+name+"?ignore_unavailable=true", "", nil)
		}
		testkit.ES(t, "DELETE", "/_index_template/"+templatePrefix+topic, "", nil)
	})

	s := &sweeper{es: es, pattern: pattern, keep: 30 * 24 * time.Hour, log: logging.For("retention-test")}
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC) // cutoff: 2026-11-04 12:00
	deleted, err := s.sweep(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(deleted, []string{old}) {
		t.Fatalf("deleted %v, want only %s", deleted, old)
	}
	var resolved struct {
		Indices []struct {
			Name string `json:"name"`
		} `json:"indices"`
	}
	testkit.ES(t, "GET", "/_resolve/index/"+strings.Join(all, ",")+"?ignore_unavailable=true", "", &resolved)
	var left []string
	for _, ix := range resolved.Indices {
		left = append(left, ix.Name)
	}
	slices.Sort(left)
	want := []string{recent, other, foreign}
	slices.Sort(want)
	if !slices.Equal(left, want) {
		t.Fatalf("indices left %v, want %v", left, want)
	}
	// A second sweep, as another transfer's would be, finds nothing to do.
	if again, err := s.sweep(ctx, now); err != nil || len(again) != 0 {
		t.Fatalf("second sweep deleted %v (err %v), want nothing", again, err)
	}
}
