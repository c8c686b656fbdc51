package config

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ardanlabs/conf/v3"

	"github.com/faultline-harness/faultline/internal/testkit"
)

// withFetch is a binary's settings struct embedding KafkaFetch.
type withFetch struct {
	conf.Version
	Group string `conf:"default:g,flag:group,env:SAMPLE_GROUP,help:consumer group"`
	KafkaFetch
	Args conf.Args
}

// The embedded fields are the binary's own flags and variables: defaults,
// then the environment, then the flag; an out-of-range value is a usage
// error naming the flag and the variable.
func TestKafkaFetch(t *testing.T) {
	parseFetch := func(t *testing.T, args ...string) (withFetch, error) {
		t.Helper()
		testkit.SetEnv(t, EnvNames(&withFetch{}), nil)
		var s withFetch
		if err := Parse("sample", args, &s, io.Discard); err != nil {
			return s, err
		}
		return s, s.KafkaFetch.Check(&s)
	}
	if names := strings.Join(EnvNames(&withFetch{}), " "); names != "SAMPLE_GROUP KAFKA_FETCH_MIN_BYTES KAFKA_FETCH_MAX_WAIT" {
		t.Errorf("EnvNames = %q, want the embedded struct's variables after the group's", names)
	}

	s, err := parseFetch(t)
	if err != nil || s.FetchMinBytes != 16384 || s.FetchMaxWait != 20*time.Millisecond {
		t.Fatalf("defaults: %+v, %v; want 16384 bytes and 20ms", s.KafkaFetch, err)
	}

	t.Run("env then flag", func(t *testing.T) {
		testkit.SetEnv(t, EnvNames(&withFetch{}), nil)
		t.Setenv("KAFKA_FETCH_MIN_BYTES", "1")
		t.Setenv("KAFKA_FETCH_MAX_WAIT", "5ms")
		var s withFetch
		if err := Parse("sample", []string{"-kafka-fetch-max-wait", "250ms"}, &s, io.Discard); err != nil {
			t.Fatal(err)
		}
		if s.FetchMinBytes != 1 || s.FetchMaxWait != 250*time.Millisecond || s.KafkaFetch.Check(&s) != nil {
			t.Errorf("env then flag: %+v, want 1 byte (env) and 250ms (flag)", s.KafkaFetch)
		}
	})

	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"zero bytes":      {[]string{"-kafka-fetch-min-bytes", "0"}, `invalid value "0" for -kafka-fetch-min-bytes (env KAFKA_FETCH_MIN_BYTES): must be a whole number of bytes >= 1`},
		"negative bytes":  {[]string{"-kafka-fetch-min-bytes=-5"}, "-kafka-fetch-min-bytes (env KAFKA_FETCH_MIN_BYTES)"},
		"not a number":    {[]string{"-kafka-fetch-min-bytes", "lots"}, "-kafka-fetch-min-bytes (env KAFKA_FETCH_MIN_BYTES)"},
		"zero wait":       {[]string{"-kafka-fetch-max-wait", "0s"}, "-kafka-fetch-max-wait (env KAFKA_FETCH_MAX_WAIT): must be a duration from 1ms to 1s"},
		"wait too long":   {[]string{"-kafka-fetch-max-wait", "1001ms"}, "must be a duration from 1ms to 1s"},
		"sub-millisecond": {[]string{"-kafka-fetch-max-wait", "1500us"}, "-kafka-fetch-max-wait (env KAFKA_FETCH_MAX_WAIT): must be whole milliseconds"},
		"not a duration":  {[]string{"-kafka-fetch-max-wait", "soon"}, "-kafka-fetch-max-wait (env KAFKA_FETCH_MAX_WAIT)"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parseFetch(t, tc.args...)
			var cerr *Error
			if ExitCode(err) != ExitUsage || !errors.As(err, &cerr) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%q: %v, want a usage error containing %q", tc.args, err, tc.want)
			}
		})
	}
}
