package demo

import (
	"math/rand/v2"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"brun/base/config"
	"brun/servers/job"
)

// The demo job is a valid job, and its multiline pattern makes one event
// of each demo record: the record's first line starts with a date, the
// stack trace's lines do not.
func TestSpecGroupsEachRecord(t *testing.T) {
	cfg := config.Default()
	cfg.Demo.Path = "/tmp/demo/app.log"
	spec, err := job.Parse(Spec(&cfg))
	if err != nil {
		t.Fatalf("the demo job is not valid: %v\n%s", err, Spec(&cfg))
	}
	if spec.Path != cfg.Demo.Path || spec.Topic != "demo" || spec.Multiline == nil {
		t.Fatalf("spec %+v", spec)
	}
	start := regexp.MustCompile(`^\d{4}-\d{2}-\d{2}`)
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Date(2026, 11, 26, 1, 2, 3, 4e6, time.UTC)
	levels := map[string]int{}
	for seq := 1; seq <= 500; seq++ {
		rec := Line(now, seq, rng)
		lines := strings.Split(strings.TrimSuffix(rec, "\n"), "\n")
		if !strings.HasSuffix(rec, "\n") || !start.MatchString(lines[0]) || !strings.HasPrefix(lines[0], "2026-11-26 01:02:03.004 ") {
			t.Fatalf("record %d does not start with its time: %q", seq, rec)
		}
		for _, l := range lines[1:] {
			if start.MatchString(l) {
				t.Fatalf("record %d: continuation line %q would start a new event", seq, l)
			}
		}
		levels[strings.Fields(lines[0])[2]]++
	}
	if levels["INFO"] == 0 || levels["WARN"] == 0 || levels["ERROR"] == 0 {
		t.Errorf("levels %v: want some of each", levels)
	}
}

func TestWriterRotates(t *testing.T) {
	path := t.TempDir() + "/app.log"
	w := &writer{path: path, max: 1000, rng: rand.New(rand.NewPCG(1, 2))}
	defer w.close()
	for i := 0; i < 30; i++ {
		if err := w.write(time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	old, err := os.Stat(path + ".1")
	if err != nil {
		t.Fatalf("no rotated copy: %v", err)
	}
	cur, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if old.Size() < 1000 || cur.Size() >= 1000+200 {
		t.Errorf("rotated copy %d bytes, current %d bytes", old.Size(), cur.Size())
	}
}
