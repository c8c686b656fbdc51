package scenario

import (
	"errors"
	"strings"
	"testing"

	"github.com/faultline-harness/faultline/chaos/stack"
)

func TestBrokerScenariosSayWhenTheyCannotRun(t *testing.T) {
	st := &stack.Stack{Lane: stack.LaneReal} // one real broker, no broker control
	st.Brokers = []stack.BrokerInfo{{ID: 1}}
	for _, name := range []string{ScenarioBrokerRestart, ScenarioOneBrokerDown} {
		sc, err := Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		if sc.Applies == nil || sc.Report == nil {
			t.Fatalf("%s: want Applies and Report", name)
		}
		if err := sc.Applies(st); err == nil {
			t.Errorf("%s applies to a single real broker without control", name)
		}
	}
	sc, _ := Lookup(ScenarioBrokerRestart)
	if err := sc.Applies(st); !errors.Is(err, stack.ErrNoBrokerControl) {
		t.Errorf("restart without control: %v, want ErrNoBrokerControl", err)
	}
	one, _ := Lookup(ScenarioOneBrokerDown)
	if cfg := one.StackConfig(stack.Config{}); cfg.Brokers != 3 {
		t.Errorf("one-broker-down asks for %d embedded brokers, want 3", cfg.Brokers)
	}
}

func TestWriteBreakdown(t *testing.T) {
	r := &Result{Breakdown: &Breakdown{Title: "per partition", Columns: []string{"partition", "wait s"}, Rows: [][]string{{"0", "1.5"}}, Notes: []string{"a note"}}}
	var b strings.Builder
	r.writeBreakdown(&b)
	for _, want := range []string{"per partition", "partition", "1.5", "a note"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("breakdown output lacks %q:\n%s", want, b.String())
		}
	}
}
