package mutants

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/faultline-harness/faultline/services/events"
)

// StatePrefix starts the provider state that switches a mutant on for one
// interaction of a synthesized pact (see Synthesize): "mutant: NAME".
const StatePrefix = "mutant: "

// State is the provider state that switches mutant name on.
func State(name string) string { return StatePrefix + name }

// Description is the description of mutant name's copy of the interaction
// described by description.
func Description(description, name string) string {
	return description + " [mutant " + name + "]"
}

// Switch holds the mutant a verification has switched on (at most one at a
// time: the verifier runs one interaction at a time) and applies it to
// HTTP answers and Kafka records. It is safe for concurrent use: the
// verifier calls state and message handlers on its own goroutines.
type Switch struct {
	mu      sync.Mutex
	known   map[string]Mutant
	active  string
	applied map[string]int
	errs    []error
}

// NewSwitch returns a switch that knows ms, all off.
func NewSwitch(ms []Mutant) *Switch {
	s := &Switch{known: map[string]Mutant{}, applied: map[string]int{}}
	for _, m := range ms {
		s.known[m.Name] = m
	}
	return s
}

// SetState handles a provider state of a synthesized pact: for
// "mutant: NAME" it switches NAME on (setup) or off (teardown) and returns
// true; for any other state it returns false and changes nothing. An
// unknown mutant name is an error.
func (s *Switch) SetState(state string, setup bool) (bool, error) {
	name, ok := strings.CutPrefix(state, StatePrefix)
	if !ok {
		return false, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, known := s.known[name]; !known {
		return true, fmt.Errorf("no mutant named %q", name)
	}
	if setup {
		s.active = name
	} else if s.active == name {
		s.active = ""
	}
	return true, nil
}

// Off switches every mutant off.
func (s *Switch) Off() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.active = ""
}

func (s *Switch) current() (Mutant, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.known[s.active]
	return m, ok && s.active != ""
}

func (s *Switch) note(name string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.errs = append(s.errs, fmt.Errorf("mutant %s: %w", name, err))
		return
	}
	s.applied[name]++
}

// Applied returns how many times each mutant changed something.
func (s *Switch) Applied() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.applied))
	for k, v := range s.applied {
		out[k] = v
	}
	return out
}

// Errors returns the mutants that could not be applied (their target did
// not look as expected): a mutant that changes nothing proves nothing.
func (s *Switch) Errors() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.errs)
}

// Handler wraps next: while an HTTP mutant is on, every answer is
// captured, decoded and changed by it before it is sent. A mutant that
// does not apply answers 500 naming the problem.
func (s *Switch) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m, ok := s.current()
		if !ok || m.HTTP == nil {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		res := &Response{Status: rec.Code, Header: rec.Header().Clone(), Body: rec.Body.Bytes()}
		if err := m.HTTP(res); err != nil {
			s.note(m.Name, err)
			http.Error(w, fmt.Sprintf("mutant %s does not apply: %v", m.Name, err), http.StatusInternalServerError)
			return
		}
		s.note(m.Name, nil)
		for k, v := range res.Header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(res.Body)))
		w.WriteHeader(res.Status)
		_, _ = w.Write(res.Body)
	})
}

// Record returns rec changed by the mutant that is on, if it changes
// records; else rec unchanged. rec itself is not modified.
func (s *Switch) Record(rec events.Message) (events.Message, error) {
	m, ok := s.current()
	if !ok || m.Record == nil {
		return rec, nil
	}
	out, err := m.ApplyRecord(rec)
	s.note(m.Name, err)
	return out, err
}

// ApplyRecord returns a copy of rec changed by m.Record.
func (m Mutant) ApplyRecord(rec events.Message) (events.Message, error) {
	if m.Record == nil {
		return rec, fmt.Errorf("mutant %s does not change records", m.Name)
	}
	out := events.Message{Topic: rec.Topic, Key: rec.Key, Value: bytes.Clone(rec.Value), Headers: slices.Clone(rec.Headers)}
	if err := m.Record(&out); err != nil {
		return rec, fmt.Errorf("mutant %s does not apply: %w", m.Name, err)
	}
	return out, nil
}
