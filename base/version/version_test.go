package version

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{
		GoVersion: "go1.99.1",
		Main:      debug.Module{Path: "brun", Version: "(devel)"},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.time", Value: "2024-05-06T07:08:09Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	got := fromBuildInfo(Info{Version: "dev"}, bi, true).String()
	for _, want := range []string{
		"brun dev\n",
		"commit: 0123456789abcdef0123456789abcdef01234567 (with uncommitted changes)\n",
		"date:   2024-05-06T07:08:09Z\n",
		"go:     go1.99.1 ",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("version output\n%s\nlacks %q", got, want)
		}
	}

	// The Makefile's -X wins; a `go install brun@v1.2.3` build says v1.2.3.
	bi.Main.Version = "v1.2.3"
	if v := fromBuildInfo(Info{Version: "v2.0.0-3-gabc"}, bi, true).Version; v != "v2.0.0-3-gabc" {
		t.Errorf("with -X: version %q", v)
	}
	if v := fromBuildInfo(Info{Version: "dev"}, bi, true).Version; v != "v1.2.3" {
		t.Errorf("go install build: version %q", v)
	}

	// The Makefile's commit wins over the build information's.
	fromMake := fromBuildInfo(Info{Version: "v2", Commit: "fedcba", Time: "2024-01-02T03:04:05Z"}, bi, true)
	if fromMake.Commit != "fedcba" || fromMake.Time != "2024-01-02T03:04:05Z" || fromMake.Modified {
		t.Errorf("with -X: %+v", fromMake)
	}

	// No build information at all (or no VCS stamp): say so, do not guess.
	got = fromBuildInfo(Info{Version: "dev"}, nil, false).String()
	if !strings.HasPrefix(got, "brun dev\ncommit: unknown") {
		t.Errorf("without build info: %q", got)
	}
}
