package testkit

import (
	"context"
	"io"
	"testing"
	"time"
)

// ReadStore opens the database at path with open (a service's OpenStore,
// on a stopped service's file), reads it with read (a method expression
// such as (*order.Store).OutboxBacklog), closes it and returns what read
// returned. Open and read share a 10 s timeout; an error from either
// fails the test.
func ReadStore[S io.Closer, R any](t testing.TB, path string, open func(context.Context, string) (S, error), read func(S, context.Context) (R, error)) R {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := open(ctx, path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer st.Close()
	v, err := read(st, ctx)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return v
}
