package negativecontrol

import "testing"

// A normal build never neutralises anything, whatever the environment says.
func TestInactiveWithoutTheBuildTag(t *testing.T) {
	if Compiled {
		t.Skip("built with -tags negativecontrol")
	}
	t.Setenv(Env, Down)
	for _, n := range Names {
		if Active(n) {
			t.Errorf("Active(%q) = true in a build without the negativecontrol tag", n)
		}
	}
	if Current() != "" {
		t.Errorf("Current() = %q without the tag", Current())
	}
}

func TestNamesAreKnown(t *testing.T) {
	if len(Names) != 9 {
		t.Errorf("Names = %v, want the nine neutralisations of issue 11", Names)
	}
	for _, n := range Names {
		if !known(n) {
			t.Errorf("%q not known", n)
		}
	}
	if known("dwon") {
		t.Error("a typo is known")
	}
}
