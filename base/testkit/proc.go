package testkit

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// Binary returns the brun binary under test: $BRUN_BIN (make test builds
// it), or one built once per test process from the module's ./brun.
func Binary(t testing.TB) string {
	t.Helper()
	if b := os.Getenv("BRUN_BIN"); b != "" {
		return b
	}
	buildOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		dir, err := os.MkdirTemp("", "brun-bin")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "brun")
		out, err := exec.Command("go", "build", "-C", root, "-o", builtBin, "./brun").CombinedOutput()
		if err != nil {
			buildErr = &buildError{err: err, out: string(out)}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return "go build ./brun: " + e.err.Error() + "\n" + e.out }

// Proc is a brun process started by a test.
type Proc struct {
	t    testing.TB
	cmd  *exec.Cmd
	Logs *SyncBuffer
	done chan error
}

// StartBrun runs brun -c conf (and args) with its output (stderr logs: use an empty
// log.dir) collected in Logs. The process is killed when the test ends,
// and its log is printed if the test failed.
func StartBrun(t testing.TB, conf string, args ...string) *Proc {
	t.Helper()
	return start(t, exec.Command(Binary(t), append([]string{"-c", conf}, args...)...))
}

// StartBrunOn is StartBrun on the host h: brun runs in its network
// namespace (ip netns exec, which becomes brun: Pid, Kill9 and Stop reach
// brun itself).
func StartBrunOn(t testing.TB, h *NetHost, conf string, args ...string) *Proc {
	t.Helper()
	return start(t, h.Command(Binary(t), append([]string{"-c", conf}, args...)...))
}

func start(t testing.TB, cmd *exec.Cmd) *Proc {
	t.Helper()
	p := &Proc{t: t, Logs: NewSyncBuffer(), done: make(chan error, 1), cmd: cmd}
	p.cmd.Stdout, p.cmd.Stderr = p.Logs, p.Logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		if t.Failed() {
			t.Logf("brun's log (pid %d):\n%s", p.cmd.Process.Pid, tail(p.Logs.String(), 200))
		}
	})
	return p
}

// Pid returns the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Kill9 kills the process with SIGKILL and waits for it.
func (p *Proc) Kill9() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Stop sends SIGTERM and fails the test unless the process exits 0
// within timeout.
func (p *Proc) Stop(timeout time.Duration) {
	p.t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			p.t.Fatalf("brun exited with %v after SIGTERM", err)
		}
	case <-time.After(timeout):
		p.t.Fatalf("brun did not stop within %v of SIGTERM", timeout)
	}
}

// WaitLog waits until the log contains s.
func (p *Proc) WaitLog(timeout time.Duration, s string) {
	p.t.Helper()
	WaitFor(p.t, timeout, "log line "+s, func() bool { return strings.Contains(p.Logs.String(), s) })
}

// WaitLogCount waits until the log contains s at least n times (a line
// logged once per event, such as a job's start, seen for the n-th time).
func (p *Proc) WaitLogCount(timeout time.Duration, s string, n int) {
	p.t.Helper()
	WaitFor(p.t, timeout, fmt.Sprintf("log line %s %d times", s, n), func() bool { return strings.Count(p.Logs.String(), s) >= n })
}

// Alive reports whether the process is still running.
func (p *Proc) Alive() bool {
	select {
	case err := <-p.done:
		p.done <- err // keep it for Stop and Kill9
		return false
	default:
		return true
	}
}

// Wait waits up to timeout for the process to exit by itself and returns
// its exit code; it fails t if the process is still running then.
func (p *Proc) Wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if err != nil {
			p.t.Fatalf("waiting for brun: %v", err)
		}
		return 0
	case <-time.After(timeout):
		p.t.Fatalf("brun did not exit within %v", timeout)
		return -1
	}
}

// Signal sends sig to the process.
func (p *Proc) Signal(sig os.Signal) { p.cmd.Process.Signal(sig) }

// RSS returns the process's resident set size in bytes (Linux).
func (p *Proc) RSS() int64 { return RSSOf(p.Pid()) }

// RSSOf reads VmRSS of a process from /proc, 0 when unknown.
func RSSOf(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			for _, c := range strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")) {
				if c >= '0' && c <= '9' {
					kb = kb*10 + int64(c-'0')
				}
			}
			return kb << 10
		}
	}
	return 0
}

func tail(s string, lines int) string {
	parts := strings.Split(s, "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

// CPUSeconds is the user+system CPU time of a process (Linux /proc).
func CPUSeconds(t testing.TB, pid int) float64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command name (which is in parentheses).
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / 100 // USER_HZ
}

// PeakRSS is VmHWM, the process's peak resident set size in bytes.
func PeakRSS(pid int) int64 {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
