package collector

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"brun/servers/status"
)

// Files that do not behave like files are refused with status "error"
// and a reason naming the path; nothing of them is read, and the job
// stops at once when asked.
func TestOnlyRegularFilesAreRead(t *testing.T) {
	r := newRig(t)
	dir := r.dir
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o700)
	cases := []struct{ name, path, reason string }{
		{"proc", "/proc/loadavg", "procfs"},
		{"proc-self", "/proc/self/status", "procfs"},
		{"sysfs", "/sys/kernel/mm/transparent_hugepage/enabled", "sysfs"},
		{"device", "/dev/zero", "a device"},
		{"fifo", fifo, "a FIFO"},
		{"directory", sub, "a directory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := os.Stat(c.path); err != nil {
				t.Skipf("%s: %v", c.path, err)
			}
			j := r.start(c.name, fmt.Sprintf(`{"path": %q, "topic": "t"}`, c.path))
			st := waitState(t, j, status.Error, 5*time.Second)
			if !strings.Contains(st.Error, c.path) || !strings.Contains(st.Error, c.reason) {
				t.Errorf("status error %q does not name %s and %q", st.Error, c.path, c.reason)
			}
			if st.Lines != 0 || len(st.Files) != 0 {
				t.Errorf("read %d lines from %s: %+v", st.Lines, c.path, st)
			}
			stopsWithin(t, j, time.Second)
		})
	}
	// The agent goes on: a job on a real file, started after those, ships.
	log := filepath.Join(dir, "app.log")
	appendTo(t, log, "after the refused ones\n")
	r.start("app", fmt.Sprintf(`{"path": %q, "topic": "t"}`, log))
	r.waitShipped("after the refused ones", 10*time.Second)
}

// A reader that never runs dry (its sink never makes it wait) still
// stops within a moment of its job's Stop.
func TestStopEndsAReaderThatNeverRunsDry(t *testing.T) {
	r := newRig(t)
	log := filepath.Join(r.dir, "busy.log")
	line := strings.Repeat("x", 100) + "\n"
	appendTo(t, log, strings.Repeat(line, 20000))
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // keeps the file growing faster than it is read
		defer wg.Done()
		for !stop.Load() {
			appendTo(t, log, strings.Repeat(line, 1000))
		}
	}()
	defer func() { stop.Store(true); wg.Wait() }()
	j := r.start("busy", fmt.Sprintf(`{"path": %q, "topic": "t"}`, log))
	waitFor(t, 10*time.Second, "lines read", func() bool { return j.Status().Lines > 1000 })
	stopsWithin(t, j, time.Second)
}

// Status may be read at any moment, from any goroutine, while the
// harvester starts, truncates, is rotated and reads the next file: under
// -race this shows no harvester internals are read behind its back.
func TestStatusWhileTruncatedAndRotated(t *testing.T) {
	r := newRig(t)
	log := filepath.Join(r.dir, "app.log")
	var stop atomic.Bool
	var reads atomic.Int64
	j := r.start("app", fmt.Sprintf(`{"path": %q, "topic": "t"}`, log))
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				st := j.Status()
				for _, f := range st.Files {
					if f.Lag < 0 || f.Offset < 0 {
						t.Errorf("status %+v", f)
					}
				}
				reads.Add(1)
			}
		}()
	}
	for round := 0; round < 5; round++ {
		body := ""
		for i := 0; i < 200; i++ {
			body += fmt.Sprintf("round %d line %03d %s\n", round, i, strings.Repeat("y", 1100))
		}
		appendTo(t, log, body)
		r.waitShipped(fmt.Sprintf("round %d line 199", round), 10*time.Second)
		if round%2 == 0 {
			if err := os.Truncate(log, 0); err != nil { // copytruncate's second half
				t.Fatal(err)
			}
		} else {
			os.Rename(log, log+".1") // create-mode rotation
		}
	}
	stop.Store(true)
	wg.Wait()
	if reads.Load() == 0 {
		t.Fatal("status was never read")
	}
	for round := 0; round < 5; round++ {
		for i := 0; i < 200; i++ {
			if len(r.shippedFor(fmt.Sprintf("round %d line %03d ", round, i))) == 0 {
				t.Fatalf("round %d line %d was not shipped", round, i)
			}
		}
	}
}

// Two jobs reading one file each ship every line, under ids of their
// own: neither is taken for a replay of the other.
func TestTwoJobsOnOneFile(t *testing.T) {
	r := newRig(t)
	log := filepath.Join(r.dir, "app.log")
	for i := 0; i < 100; i++ {
		appendTo(t, log, fmt.Sprintf("shared line %03d\n", i))
	}
	r.start("one", fmt.Sprintf(`{"path": %q, "topic": "a"}`, log))
	r.start("two", fmt.Sprintf(`{"path": %q, "topic": "b"}`, log))
	r.start("three", fmt.Sprintf(`{"path": %q, "topic": "a"}`, log))
	waitFor(t, 10*time.Second, "300 events", func() bool { return len(r.shippedFor("shared line")) >= 300 })
	ids := map[string]int{}
	perTopic := map[string]int{}
	for _, e := range r.shippedFor("shared line") {
		ids[e.Event.ID]++
		perTopic[e.Topic]++
	}
	if len(ids) != 300 {
		t.Fatalf("%d distinct event ids for 3 jobs × 100 lines, want 300", len(ids))
	}
	if perTopic["a"] != 200 || perTopic["b"] != 100 {
		t.Fatalf("events per topic %v, want a:200 b:100", perTopic)
	}
}

// agent.allow holds at open time: a symlink inside the allowed directory,
// swapped atomically (renameat2 RENAME_EXCHANGE) between an allowed file
// and a secret one as fast as the kernel allows, never gets a line of the
// secret shipped, while the allowed file's lines do arrive.
func TestSymlinkSwapRaceShipsNothingOutsideAllow(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 20 s")
	}
	base := t.TempDir()
	allowed := filepath.Join(base, "allowed")
	secretDir := filepath.Join(base, "secret")
	os.Mkdir(allowed, 0o700)
	os.Mkdir(secretDir, 0o700)
	secret := filepath.Join(secretDir, "shadow")
	os.WriteFile(secret, []byte(strings.Repeat("SECRET root:$6$hash\n", 100)), 0o600)
	good := filepath.Join(allowed, "real.log")
	for i := 0; i < 100; i++ {
		appendTo(t, good, fmt.Sprintf("allowed line %03d\n", i))
	}
	link := filepath.Join(allowed, "app.log")
	other := filepath.Join(allowed, "other")
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, other); err != nil {
		t.Fatal(err)
	}

	r := newRig(t, allowed+"/*")
	var stop atomic.Bool
	var swaps atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			if err := unix.Renameat2(unix.AT_FDCWD, link, unix.AT_FDCWD, other, unix.RENAME_EXCHANGE); err != nil {
				t.Errorf("renameat2: %v", err)
				return
			}
			swaps.Add(1)
		}
	}()
	r.start("app", fmt.Sprintf(`{"path": %q, "topic": "t"}`, link))
	r.start("glob", fmt.Sprintf(`{"path": %q, "topic": "t"}`, filepath.Join(allowed, "*")))
	time.Sleep(20 * time.Second) // the attack's duration, not a wait for an outcome
	stop.Store(true)
	wg.Wait()
	// Everything read before the marker has been handed on by now.
	appendTo(t, good, "marker after the race\n")
	r.waitShipped("marker after the race", 10*time.Second)
	if n := len(r.shippedFor("SECRET")); n > 0 {
		t.Fatalf("%d lines of %s (outside agent.allow) were shipped during %d swaps", n, secret, swaps.Load())
	}
	if len(r.shippedFor("allowed line")) == 0 {
		t.Fatalf("no line of the allowed file arrived during %d swaps: the test shows nothing", swaps.Load())
	}
	t.Logf("%d swaps in 20 s; %d allowed lines shipped, none of the secret", swaps.Load(), len(r.shippedFor("allowed line")))
}

// After a copytruncate the reader looks for the rotated copy of what it
// had not read yet. It reads only copies agent.allow covers and whose
// name is a rotation of the file's (app.log.1, not app.log.private).
func TestRotatedCopySearchStaysInsideAllow(t *testing.T) {
	for _, c := range []struct {
		name      string
		allow     string
		copyReads bool
	}{
		{"copy outside allow", "*.log", false},
		{"copy inside allow", "app.log*", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			r := newRig(t, filepath.Join(dir, c.allow))
			log := filepath.Join(dir, "app.log")
			appendTo(t, log, "first line\n")
			j := r.start("app", fmt.Sprintf(`{"path": %q, "topic": "t"}`, log))
			r.waitShipped("first line", 10*time.Second)

			r.hold.Lock() // the consumer takes nothing: the reader falls behind
			var body strings.Builder
			// More than the reader's buffer: most of it is still unread
			// when the file is truncated.
			for i := 0; i < 5000; i++ {
				fmt.Fprintf(&body, "before truncation %04d %s\n", i, strings.Repeat("b", 40))
			}
			appendTo(t, log, body.String())
			waitFor(t, 10*time.Second, "the reader to fall behind", func() bool {
				st := j.Status()
				return st.Lines > 10 && len(st.Files) == 1 && st.Files[0].Lag > 0
			})
			data, _ := os.ReadFile(log)
			os.WriteFile(log+".1", data, 0o644)
			os.WriteFile(log+".private", []byte(strings.Repeat("PRIVATE not a rotation\n", 100)), 0o644)
			os.Truncate(log, 0)
			appendTo(t, log, "after truncation\n")
			r.hold.Unlock()

			r.waitShipped("after truncation", 20*time.Second)
			if n := len(r.shippedFor("PRIVATE")); n > 0 {
				t.Fatalf("%d lines of app.log.private were shipped", n)
			}
			got := len(r.shippedFor("before truncation"))
			if c.copyReads && got != 5000 {
				t.Fatalf("%d of the 5000 lines before the truncation arrived, want all (read from app.log.1)", got)
			}
			if !c.copyReads && got == 5000 {
				t.Fatalf("all 5000 lines before the truncation arrived: app.log.1, outside agent.allow, was read")
			}
			t.Logf("%d of 5000 lines written before the truncation arrived", got)
		})
	}
}
