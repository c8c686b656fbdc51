package buildinfo

import (
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	got := Info{Version: "v1.2.3", Revision: "abc123", Time: "2026-12-03T07:00:00Z", Modified: true, Go: "go1.26.8"}.String()
	if want := "v1.2.3 (revision abc123, 2026-12-03T07:00:00Z, modified, go1.26.8)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got := (Info{}).String(); got != "unknown (no VCS revision)" {
		t.Errorf("empty Info: %q", got)
	}
	// A test binary has build info: at least the toolchain.
	if in := Read(); !strings.HasPrefix(in.Go, "go") {
		t.Errorf("Read() = %+v, want the Go version", in)
	}
}
