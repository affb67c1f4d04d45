package textdist

import "testing"

func TestDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"path", "path", 0}, {"pth", "path", 1}, {"dialtimeout", "dialTimeout", 1},
		{"topic", "tpoic", 2}, {"", "abc", 3}, {"kitten", "sitting", 3},
	} {
		if got := Distance(c.a, c.b); got != c.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
		if got := Distance(c.b, c.a); got != c.want {
			t.Errorf("Distance(%q, %q) = %d, want %d (not symmetric)", c.b, c.a, got, c.want)
		}
	}
	long := string(make([]byte, 65))
	if Distance(long, "path") < 1000 {
		t.Error("a name over 64 bytes is compared")
	}
}
