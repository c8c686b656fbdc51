// Package buildinfo describes the running binary from debug.ReadBuildInfo:
// the main module's version and the VCS revision it was built from, for
// `faultline version` and the services' --version and startup log.
package buildinfo

import (
	"runtime/debug"
	"strings"
)

// Info is what the binary knows about its build.
type Info struct {
	Version  string // main module version: "v1.2.3", "(devel)" for a tree build, "" unknown
	Revision string // vcs.revision, "" when built without VCS stamping (go run, go test)
	Time     string // vcs.time, RFC 3339
	Modified bool   // vcs.modified: built from a tree with uncommitted changes
	Go       string // the Go toolchain, e.g. go1.26.8
}

// Read returns the build information; zero fields when there is none.
func Read() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Info{}
	}
	in := Info{Version: bi.Main.Version, Go: bi.GoVersion}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			in.Revision = s.Value
		case "vcs.time":
			in.Time = s.Value
		case "vcs.modified":
			in.Modified = s.Value == "true"
		}
	}
	return in
}

// String is the one-line form: "v1.2.3 (revision 0123abcd…, 2026-12-03T07:00:00Z, modified, go1.26.8)".
func String() string { return Read().String() }

func (in Info) String() string {
	v := in.Version
	if v == "" {
		v = "unknown"
	}
	var parts []string
	if in.Revision != "" {
		parts = append(parts, "revision "+in.Revision)
	} else {
		parts = append(parts, "no VCS revision")
	}
	if in.Time != "" {
		parts = append(parts, in.Time)
	}
	if in.Modified {
		parts = append(parts, "modified")
	}
	if in.Go != "" {
		parts = append(parts, in.Go)
	}
	return v + " (" + strings.Join(parts, ", ") + ")"
}
