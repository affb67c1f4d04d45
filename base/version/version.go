// Package version holds the build's version string. The Makefile sets it
// with -ldflags "-X brun/base/version.Version=..."; it must stay a plain var.
package version

// Version is the released version, or "dev" for a build outside make.
var Version = "dev"
