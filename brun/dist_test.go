package main

import (
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"brun/base/testkit"
)

// What an operator does with the package on a Debian host: `make dist`,
// `dpkg -i`, check the installed config, find the user, the state
// directory and a unit systemd accepts; then `dpkg -r` takes the binary
// away. It installs into this machine's real /usr, /etc and /var (as
// root), so it refuses to run where a brun package is already installed,
// and purges what it installed, and the user it made, even when it fails.
// It needs no etcd, Kafka or Elasticsearch.
func TestDebInstalls(t *testing.T) {
	if os.Getenv("BRUN_INTEGRATION") != "1" {
		t.Skip("integration test: run `make test` (or set BRUN_INTEGRATION=1); it installs the .deb on this machine, as root")
	}
	if _, err := exec.LookPath("dpkg"); err != nil {
		t.Skip("dpkg is not installed: the .deb can't be installed on this machine")
	}
	if os.Geteuid() != 0 {
		t.Fatal("dpkg -i needs root")
	}
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		t.Fatalf("make dist builds amd64 and arm64 packages, not %s", runtime.GOARCH)
	}
	if out, err := exec.Command("dpkg-query", "-W", "-f=${Status}", "brun").CombinedOutput(); err == nil && strings.Contains(string(out), "installed") {
		t.Fatalf("a brun package is installed on this machine (%s); the test would replace and purge it", out)
	}
	_, userExisted := lookupUser("brun")

	_, file, _, _ := runtime.Caller(0)
	top := filepath.Dir(filepath.Dir(file))
	dist := t.TempDir()
	// Only the host's arch: the other is built the same way and can't be
	// installed here.
	mustRun(t, exec.Command("make", "-C", top, "dist", "DIST="+dist, "DIST_ARCHES="+runtime.GOARCH))
	debs, _ := filepath.Glob(filepath.Join(dist, "brun_*_"+runtime.GOARCH+".deb"))
	if len(debs) != 1 {
		t.Fatalf("make dist made %d .deb for %s in %s, want 1: %v", len(debs), runtime.GOARCH, dist, debs)
	}
	for _, want := range []string{"*_" + runtime.GOARCH + ".tar.gz", "*.rpm"} {
		if m, _ := filepath.Glob(filepath.Join(dist, want)); len(m) != 1 {
			t.Errorf("make dist made %d %s, want 1", len(m), want)
		}
	}

	t.Cleanup(func() {
		if out, err := exec.Command("dpkg", "-P", "brun").CombinedOutput(); err != nil {
			t.Errorf("dpkg -P brun: %v\n%s", err, out)
		}
		if _, ok := lookupUser("brun"); ok && !userExisted {
			if out, err := exec.Command("userdel", "brun").CombinedOutput(); err != nil {
				t.Errorf("userdel brun: %v\n%s", err, out)
			}
		}
	})
	mustRun(t, exec.Command("dpkg", "-i", debs[0]))

	// The installed config as the unit would run it: the variables set as
	// in /etc/default/brun; etcd at an address nobody serves, so check
	// warns that the jobs were not checked and still exits 0.
	check := exec.Command("/usr/bin/brun", "check", "-timeout", "1s", "-c", "/etc/brun/brun.ini")
	check.Env = append(os.Environ(),
		"BRUN_ETCD_ENDPOINTS="+testkit.FreeAddr(t),
		"BRUN_KAFKA_ENDPOINTS=127.0.0.1:9092")
	out := mustRun(t, check)
	if !strings.Contains(out, "config file /etc/brun/brun.ini: ok") {
		t.Errorf("brun check does not find the installed config ok:\n%s", out)
	}

	u, ok := lookupUser("brun")
	if !ok {
		t.Fatal("dpkg -i made no user brun")
	}
	if u.HomeDir != "/var/lib/brun" {
		t.Errorf("user brun's home is %s, want /var/lib/brun", u.HomeDir)
	}
	mustRun(t, exec.Command("id", "brun"))
	fi, err := os.Stat("/var/lib/brun")
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if strconv.Itoa(int(st.Uid)) != u.Uid || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Errorf("/var/lib/brun: %v, uid %d; want a directory, mode 0700, owned by brun (uid %s)", fi.Mode(), st.Uid, u.Uid)
	}
	// Kept as edited on upgrade and removal (config|noreplace).
	conffiles := mustRun(t, exec.Command("dpkg-query", "-W", "-f=${Conffiles}", "brun"))
	for _, f := range []string{"/etc/brun/brun.ini", "/etc/default/brun"} {
		if !strings.Contains(conffiles, f+" ") {
			t.Errorf("%s is not a conffile of the package:\n%s", f, conffiles)
		}
	}

	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Log("systemd-analyze is not installed: the unit is not verified")
	} else {
		// verify exits 0 on an unknown key, only naming it: any line about
		// the unit is a failure.
		out := mustRun(t, exec.Command("systemd-analyze", "verify", "/lib/systemd/system/brun.service"))
		if strings.Contains(out, "brun.service") {
			t.Errorf("systemd-analyze verify finds fault with the unit:\n%s", out)
		}
	}

	mustRun(t, exec.Command("dpkg", "-r", "brun"))
	if _, err := os.Stat("/usr/bin/brun"); err == nil {
		t.Error("/usr/bin/brun is still there after dpkg -r brun")
	}
}

// mustRun runs cmd and returns its output (stdout and stderr); a failure
// fails the test with the output.
func mustRun(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	return string(out)
}

func lookupUser(name string) (*user.User, bool) {
	u, err := user.Lookup(name)
	return u, err == nil
}
