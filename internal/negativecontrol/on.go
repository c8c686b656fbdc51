//go:build negativecontrol

package negativecontrol

import (
	"fmt"
	"os"
	"strings"
)

// Compiled reports whether this binary was built with the negativecontrol
// tag: true here.
const Compiled = true

// current is read once, at start, from Env.
var current = func() string {
	name := strings.TrimSpace(os.Getenv(Env))
	if name != "" && !known(name) {
		panic(fmt.Sprintf("negativecontrol: %s=%q is not a neutralisation (known: %v)", Env, name, Names))
	}
	return name
}()

// Active reports whether the named neutralisation is on (Env names it).
func Active(name string) bool { return current != "" && current == name }

// Current returns the active neutralisation, "" when none.
func Current() string { return current }
