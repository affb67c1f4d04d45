package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"brun/servers/console"
	"brun/servers/status"
)

// With -watch, a job's lines/s is the rate between two reports of its
// agent; without a report before, it is "-".
func TestStatusLinesPerSecond(t *testing.T) {
	t0 := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	agentAt := func(at time.Time, lines int64) []console.Agent {
		return []console.Agent{{ID: "web-1", Alive: true, Status: &status.Agent{ID: "web-1", Updated: at,
			Jobs: []status.Job{{Name: "app", State: status.Running, Lines: lines}}}}}
	}
	var first bytes.Buffer
	prev := printStatus(&first, agentAt(t0, 1000), nil, t0)
	if row := jobRow(t, first.String()); row[5] != "-" {
		t.Errorf("lines/s %q without an earlier report, want -:\n%s", row[5], first.String())
	}
	var second bytes.Buffer
	printStatus(&second, agentAt(t0.Add(5*time.Second), 3500), prev, t0.Add(5*time.Second))
	if row := jobRow(t, second.String()); row[5] != "500" {
		t.Errorf("lines/s %q, want 500 (2,500 lines in 5 s):\n%s", row[5], second.String())
	}
}

// jobRow returns the fields of the jobs table's one row.
func jobRow(t *testing.T, out string) []string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == "web-1" && len(f) >= 9 && f[1] == "app" {
			return f
		}
	}
	t.Fatalf("no job row in:\n%s", out)
	return nil
}
