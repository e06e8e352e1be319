package sockets_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/sockets"
)

// TestHooksPublic checks the public hooks builder end to end: a receiver
// whose codec has the hook gets point values back, one without it cannot
// read them as points, the builder is copy on write, and mistakes are
// recorded rather than panicked on.
func TestHooksPublic(t *testing.T) {
	var none *sockets.Hooks
	if err := none.Err(); err != nil {
		t.Fatalf("nil Hooks: Err = %v", err)
	}
	if none.Codec(nil) == nil {
		t.Fatal("nil Hooks: Codec(nil) = nil, want CBOR")
	}

	h1 := sockets.RegisterHook(nil, 40000, encodePoint, decodePoint)
	h2 := h1.With(40001, reflect.TypeFor[string](), func(v any) ([]byte, error) { return []byte("s:" + v.(string)), nil },
		func(b []byte) (any, error) { return string(b[2:]), nil })
	if h1.Err() != nil || h2.Err() != nil {
		t.Fatalf("Err = %v, %v", h1.Err(), h2.Err())
	}

	// h1 knows no string hook: a string it marshals is plain CBOR, and h2
	// reads it as it is; h2's own string goes through its hook.
	b1, err := h1.Codec(nil).Marshal("x")
	if err != nil {
		t.Fatal(err)
	}
	b2, err := h2.Codec(nil).Marshal("x")
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(b1, b2) {
		t.Fatalf("With changed its receiver: both encode \"x\" as % x", b1)
	}

	for _, bad := range []*sockets.Hooks{
		sockets.RegisterHook(nil, 0, encodePoint, decodePoint),                                                                                 // CBOR's own tag
		sockets.RegisterHook[point](nil, 40000, nil, decodePoint),                                                                              // nil enc
		h1.With(40000, reflect.TypeFor[string](), func(any) ([]byte, error) { return nil, nil }, func([]byte) (any, error) { return "", nil }), // tag taken
		h1.With(40002, reflect.TypeFor[error](), func(any) ([]byte, error) { return nil, nil }, func([]byte) (any, error) { return nil, nil }), // interface
	} {
		if err := bad.Err(); !errors.Is(err, nanoact.ErrInvalid) {
			t.Errorf("Err = %v, want ErrInvalid", err)
		}
		if _, err := bad.Codec(nil).Marshal(point{}); !errors.Is(err, nanoact.ErrInvalid) {
			t.Errorf("Marshal with a faulty Hooks = %v, want ErrInvalid", err)
		}
	}

	type shape struct {
		Name   string
		Corner point
		Path   []*point
	}
	cd := h1.Codec(nil)
	pull, err := sockets.New(sockets.Pull, sockets.WithCodec(cd), sockets.Listen("inproc://hooks-public"))
	if err != nil {
		t.Fatal(err)
	}
	defer pull.Close()
	push, err := sockets.New(sockets.Push, sockets.WithCodec(cd), sockets.Dial("inproc://hooks-public", sockets.Sync))
	if err != nil {
		t.Fatal(err)
	}
	defer push.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	want := shape{Name: "tri", Corner: point{1, 2}, Path: []*point{{3, 4}, nil}}
	if err := push.Send(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, err := sockets.RecvAs[shape](ctx, pull)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("RecvAs = %+v, %v; want %+v", got, err, want)
	}

	// The same bytes through a plain CBOR codec: the point is a tagged
	// byte string, not a struct, so it does not decode as a point.
	if err := push.Send(ctx, point{5, 6}); err != nil {
		t.Fatal(err)
	}
	pull.SetCodec(nil)
	if p, err := sockets.RecvAs[point](ctx, pull); !errors.Is(err, nanoact.ErrBadType) {
		t.Fatalf("RecvAs without the hook = %+v, %v; want ErrBadType", p, err)
	}
}
