package datadir

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// A second Open of a held directory fails at once naming the directory
// and the holder's pid; after Close it can be taken again.
func TestOneHolderAtATime(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("created with mode %v (%v), want 0700", fi.Mode().Perm(), err)
	}
	_, err = Open(dir)
	var busy *BusyError
	if !errors.As(err, &busy) || busy.PID != os.Getpid() {
		t.Fatalf("second open: %v, want a BusyError naming pid %d", err, os.Getpid())
	}
	if !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("message %q does not name the directory and the pid", err)
	}
	d.Close()
	d2, err := Open(dir)
	if err != nil {
		t.Fatalf("after Close: %v", err)
	}
	d2.Close()
}

// The lock is the kernel's: a process holding it is seen from another
// process, and it goes with the process however it ends.
func TestLockHeldByAnotherProcess(t *testing.T) {
	if os.Getenv("DATADIR_HOLD") != "" {
		if _, err := Open(os.Getenv("DATADIR_HOLD")); err != nil {
			os.Exit(3)
		}
		os.Stdout.WriteString("held\n")
		select {} // until killed
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockHeldByAnotherProcess$")
	cmd.Env = append(os.Environ(), "DATADIR_HOLD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := out.Read(buf); err != nil || string(buf) != "held\n" {
		t.Fatalf("holder said %q, %v", buf, err)
	}
	_, err = Open(dir)
	var busy *BusyError
	if !errors.As(err, &busy) || busy.PID != cmd.Process.Pid {
		t.Fatalf("while another process holds it: %v, want pid %d", err, cmd.Process.Pid)
	}
	cmd.Process.Kill()
	cmd.Wait()
	d, err := Open(dir)
	if err != nil {
		t.Fatalf("after the holder was killed: %v", err)
	}
	d.Close()
}

// A directory group or others can read is reported, and a path that can't
// be a directory is an error naming it.
func TestLooseAndBadDirectories(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if d.Loose != 0o755 {
		t.Errorf("Loose = %v, want 0755", d.Loose)
	}
	d.Close()

	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o600)
	for _, p := range []string{file, filepath.Join(file, "sub")} {
		if _, err := Open(p); err == nil || !strings.Contains(err.Error(), "brun.data.dir "+p) {
			t.Errorf("Open(%s): %v, want an error naming it", p, err)
		}
	}
}
