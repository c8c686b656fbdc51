package report

import (
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"

	"golang.org/x/mod/modfile"

	"github.com/faultline-harness/faultline/chaos/scenario"
)

// Component is one piece of the harness and its version.
type Component struct {
	Name    string `json:"name"`
	Module  string `json:"module,omitempty"` // Go module path, when it is one
	Version string `json:"version"`          // "(devel)" for the main module without VCS data; "" when not linked in
}

// componentModules are the modules a journal names, in display order.
var componentModules = []struct{ name, path string }{
	{"sarama (Kafka client)", "github.com/IBM/sarama"},
	{"toxiproxy", "github.com/Shopify/toxiproxy/v2"},
	{"kfake (embedded Kafka)", "github.com/twmb/franz-go/pkg/kfake"},
	{"franz-go", "github.com/twmb/franz-go"},
	{"hdrhistogram-go", "github.com/HdrHistogram/hdrhistogram-go"},
	{"go-echarts", "github.com/go-echarts/go-echarts/v2"},
	{"sqlite (modernc)", "modernc.org/sqlite"},
}

// Platform describes where a run happened.
type Platform struct {
	Go       string `json:"go"`
	OS       string `json:"os"`
	Arch     string `json:"arch"`
	CPUs     int    `json:"cpus"`
	Hostname string `json:"hostname,omitempty"`
	// Lane is "embedded" (kfake and an in-process Toxiproxy) or "real".
	Lane         string   `json:"lane"`
	KafkaBrokers []string `json:"kafka_brokers,omitempty"`
	ToxiproxyURL string   `json:"toxiproxy_url,omitempty"`
	// ToxiproxyServer is the version the Toxiproxy server reported.
	ToxiproxyServer string      `json:"toxiproxy_server,omitempty"`
	Faultline       Component   `json:"faultline"`
	Components      []Component `json:"components"`
}

// fill completes p from the stack a run used (Execute's StackInfo),
// keeping what the caller set.
func (p *Platform) fill(st scenario.StackInfo, lane string) {
	if p.Lane == "" {
		p.Lane = st.Lane
	}
	if p.Lane == "" {
		p.Lane = lane
	}
	if len(p.KafkaBrokers) == 0 {
		p.KafkaBrokers = st.KafkaBrokers
	}
	if p.ToxiproxyURL == "" {
		p.ToxiproxyURL = st.ToxiproxyURL
	}
	if p.ToxiproxyServer == "" {
		p.ToxiproxyServer = st.ToxiproxyVersion
		if p.ToxiproxyServer == "git" && p.Lane == "embedded" {
			p.ToxiproxyServer = "in-process (module version above)"
		}
	}
}

// CurrentPlatform reads the build information of the running binary: Go
// version, module versions and the harness's own VCS revision.
func CurrentPlatform(lane string) Platform {
	host, _ := os.Hostname()
	p := Platform{
		Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(),
		Hostname: host, Lane: lane,
		Faultline: Component{Name: "faultline", Module: "github.com/faultline-harness/faultline"},
	}
	deps := map[string]string{}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			v := d.Version
			if d.Replace != nil {
				v = d.Replace.Version + " (replaced by " + d.Replace.Path + ")"
			}
			deps[d.Path] = v
		}
		v := bi.Main.Version
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v += " " + s.Value
			case "vcs.modified":
				if s.Value == "true" {
					v += " (modified)"
				}
			}
		}
		p.Faultline.Version = v
	}
	if len(deps) == 0 {
		// Test binaries carry no dependency list: read the module's go.mod.
		deps = goModRequires()
	}
	for _, c := range componentModules {
		p.Components = append(p.Components, Component{Name: c.name, Module: c.path, Version: deps[c.path]})
	}
	p.Components = append(p.Components, Component{Name: "echarts (JS, inlined in reports)", Version: EChartsVersion})
	return p
}

// goModRequires finds the harness's go.mod from the working directory
// upwards and returns its requirements (path -> version), or nil.
func goModRequires() map[string]string {
	dir, err := os.Getwd()
	if err != nil {
		return nil
	}
	for {
		path := filepath.Join(dir, "go.mod")
		if b, err := os.ReadFile(path); err == nil {
			f, err := modfile.ParseLax(path, b, nil)
			if err != nil || f.Module == nil || f.Module.Mod.Path != "github.com/faultline-harness/faultline" {
				return nil
			}
			out := map[string]string{}
			for _, r := range f.Require {
				out[r.Mod.Path] = r.Mod.Version + " (go.mod)"
			}
			return out
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil
		}
		dir = parent
	}
}
