//go:build !negativecontrol

package negativecontrol

// Compiled reports whether this binary was built with the negativecontrol
// tag. It is false here: nothing can be neutralised.
const Compiled = false

// Active reports whether the named neutralisation is on. Without the build
// tag it is always false.
func Active(string) bool { return false }

// Current returns the active neutralisation, "" when none.
func Current() string { return "" }
