// Package version says which build this is. The Makefile sets Version,
// Commit and CommitTime with -ldflags "-X brun/base/version.Version=..."
// (they must stay plain vars). Without them, the commit and its time come
// from the build information Go stamps into every binary, so that a plain
// `go build` in a git checkout says which commit it is too. (Go stamps
// none in a `git worktree`, whose .git is a file: there, only the
// Makefile's values say it.)
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Set by the Makefile's -ldflags -X.
var (
	// Version is the released version (git describe), or "dev" for a
	// build outside make.
	Version = "dev"
	// Commit is the git commit built; empty: take vcs.revision.
	Commit = ""
	// CommitTime is that commit's time, RFC 3339 in UTC; empty: take
	// vcs.time.
	CommitTime = ""
)

// Info is what a binary knows about its own build.
type Info struct {
	// Version is Version; when that is "dev", the module version of a
	// `go install brun@vX` build, if any.
	Version string
	// Commit is the git commit (vcs.revision). Empty when built outside a
	// checkout, with -buildvcs=false, or as a test binary.
	Commit string
	// Modified is vcs.modified: the checkout had uncommitted changes.
	Modified bool
	// Time is vcs.time, the commit's time (RFC 3339). Go records no build
	// time, so that two builds of one commit are the same bytes; this is
	// the date of what was built.
	Time      string
	GoVersion string // e.g. go1.23.4
	Platform  string // GOOS/GOARCH
}

// Get returns the running binary's build information.
func Get() Info {
	bi, ok := debug.ReadBuildInfo()
	return fromBuildInfo(Info{Version: Version, Commit: Commit, Time: CommitTime}, bi, ok)
}

// fromBuildInfo completes what the linker set (ldflags) with the build
// information: Get on given inputs, for tests.
func fromBuildInfo(ldflags Info, bi *debug.BuildInfo, ok bool) Info {
	info := ldflags
	info.GoVersion, info.Platform = runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH
	if !ok || bi == nil {
		return info
	}
	if bi.GoVersion != "" {
		info.GoVersion = bi.GoVersion
	}
	if info.Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		info.Version = bi.Main.Version
	}
	if info.Commit != "" {
		return info // the Makefile's, from git itself
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Commit = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		case "vcs.time":
			info.Time = s.Value
		}
	}
	return info
}

// String is what `brun version` prints: the version on the first line
// ("brun <version>"), then the commit, its date and the Go version.
func (i Info) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "brun %s\n", i.Version)
	switch {
	case i.Commit == "":
		b.WriteString("commit: unknown (built outside a git checkout, or with -buildvcs=false)\n")
	case i.Modified:
		fmt.Fprintf(&b, "commit: %s (with uncommitted changes)\n", i.Commit)
	default:
		fmt.Fprintf(&b, "commit: %s\n", i.Commit)
	}
	if i.Time != "" {
		fmt.Fprintf(&b, "date:   %s\n", i.Time)
	}
	fmt.Fprintf(&b, "go:     %s %s\n", i.GoVersion, i.Platform)
	return b.String()
}
