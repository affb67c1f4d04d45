package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"brun/base/testkit"
)

// A missing file or a bad value stops brun at start, non-zero, with a
// message naming the file or the section.key.
func TestBadConfigExitsWithTheKey(t *testing.T) {
	bin := testkit.Binary(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.ini")
	os.WriteFile(bad, []byte("[etcd]\nendpoints = 127.0.0.1:2379\n[kafka]\nendpoints = 127.0.0.1:9092\n[es]\nendpoints = http://127.0.0.1:9200\nnums = many\n"), 0o644)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"-c", filepath.Join(dir, "missing.ini")}, "missing.ini: no such file"},
		{[]string{"-c", bad}, `es.nums: "many" is not a positive integer`},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
	}
	for _, c := range cases {
		out, err := exec.Command(bin, c.args...).CombinedOutput()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() == 0 {
			t.Errorf("brun %v: err %v, want a non-zero exit", c.args, err)
		}
		if !strings.Contains(string(out), c.want) {
			t.Errorf("brun %v said %q, want it to contain %q", c.args, out, c.want)
		}
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "brun ") {
		t.Errorf("brun version: %q, %v", out, err)
	}
}
