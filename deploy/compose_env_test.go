package deploy

import (
	"path"
	"regexp"
	"testing"
)

// The services read only the variables their settings declare
// (internal/config): a variable compose sets that no setting reads, a typo
// say, would be ignored without a word. Every variable compose gives a
// service binary must be one of that binary's `env:` tags.
func TestComposeSetsOnlyVariablesTheServicesRead(t *testing.T) {
	c, _ := load(t)
	envTag := regexp.MustCompile(`env:([A-Z0-9_]+)`)
	checked := 0
	for name, s := range c.Services {
		if len(s.Command) == 0 || path.Dir(s.Command[0]) != "/usr/local/bin" {
			continue
		}
		bin := path.Base(s.Command[0])
		switch bin {
		case "order-service", "inventory-service", "notification-service":
		default:
			continue
		}
		known := map[string]bool{}
		for _, m := range envTag.FindAllStringSubmatch(read(t, "../cmd/"+bin+"/main.go"), -1) {
			known[m[1]] = true
		}
		if len(known) == 0 {
			t.Fatalf("cmd/%s/main.go declares no env: tags", bin)
		}
		for k := range s.Environment {
			checked++
			if !known[k] {
				t.Errorf("compose service %s sets %s, which %s does not read", name, k, bin)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no service binary's environment found in docker-compose.yml")
	}
}
