package codec_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/codec"
)

// point has only unexported fields: plain CBOR writes it as an empty map,
// so a round trip that keeps x and y proves the hook ran.
type point struct{ x, y int32 }

const pointTag = 40000

func encPoint(p point) ([]byte, error) {
	b := binary.LittleEndian.AppendUint32(nil, uint32(p.x))
	return binary.LittleEndian.AppendUint32(b, uint32(p.y)), nil
}

func decPoint(b []byte) (point, error) {
	if len(b) != 8 {
		return point{}, fmt.Errorf("point: %d bytes, want 8", len(b))
	}
	return point{int32(binary.LittleEndian.Uint32(b)), int32(binary.LittleEndian.Uint32(b[4:]))}, nil
}

// handle stands for a resource only the hook knows how to rebuild.
type handle struct{ id string }

func pointHooks() *codec.Hooks {
	h := codec.Register(nil, pointTag, encPoint, decPoint)
	return codec.Register(h, pointTag+1,
		func(h *handle) ([]byte, error) { return []byte(h.id), nil },
		func(b []byte) (*handle, error) { return &handle{id: string(b)}, nil })
}

func hookCodec(t *testing.T) codec.Codec {
	t.Helper()
	h := pointHooks()
	if err := h.Err(); err != nil {
		t.Fatal(err)
	}
	return h.Codec(codec.CBOR())
}

type shape struct {
	Name    string
	Center  point
	Corner  *point
	Missing *point
	Path    []point
	Named   map[string]point
	Pair    [2]point
	Extra   any
	Handle  *handle
	Sub     sub
}

type sub struct {
	P    point
	List []any
}

type arrayShape struct {
	_ struct{} `cbor:",toarray"`
	A point
	B string
}

type Meta struct {
	Note  any
	Count int
}

type meta struct {
	Secret any
}

type withPtr struct {
	*Meta
	P point
}

type Extras map[string]any

type withMap struct {
	Extras
	P point
}

type withMutex struct {
	sync.Mutex
	P point
}

type Stamped struct{ At int }

func (Stamped) String() string { return "stamped" }

type withMethods struct {
	Stamped
	P point
}

type withUnexported struct {
	meta
	P point
}

type withEmbedded struct {
	Meta
	meta
	Own any
}

type staticWithEmbedded struct {
	Meta
	P point
}

func TestHooksRoundTrip(t *testing.T) {
	c := hookCodec(t)
	p1, p2 := point{1, 2}, point{-3, 4}
	tests := []struct {
		name string
		in   any
		into func() any // pointer to a new destination
		want any        // the destination's value after decoding
	}{
		{"top level into T", p1, func() any { return new(point) }, p1},
		{"top level into any", p1, func() any { return new(any) }, p1},
		{"pointer type into any", &handle{"h1"}, func() any { return new(any) }, &handle{"h1"}},
		{"pointer to T into *T", &p1, func() any { return new(*point) }, &p1},
		{"[]any", []any{p1, "x", p2}, func() any { return new([]any) }, []any{p1, "x", p2}},
		{"[]any into any", []any{p1, int64(3)}, func() any { return new(any) }, []any{p1, int64(3)}},
		{"map[string]any", map[string]any{"a": p1, "n": []any{p2}}, func() any { return new(map[string]any) },
			map[string]any{"a": p1, "n": []any{p2}}},
		{"map[string]any into any", map[string]any{"a": p1}, func() any { return new(any) }, map[string]any{"a": p1}},
		{"[]point", []point{p1, p2}, func() any { return new([]point) }, []point{p1, p2}},
		{"map[string]point", map[string]point{"k": p2}, func() any { return new(map[string]point) }, map[string]point{"k": p2}},
		{"struct fields", shape{
			Name: "s", Center: p1, Corner: &p2, Path: []point{p2, p1}, Named: map[string]point{"o": p1},
			Pair: [2]point{p2, p1}, Extra: p1, Handle: &handle{"h"}, Sub: sub{P: p2, List: []any{p1}},
		}, func() any { return new(shape) }, shape{
			Name: "s", Center: p1, Corner: &p2, Path: []point{p2, p1}, Named: map[string]point{"o": p1},
			Pair: [2]point{p2, p1}, Extra: p1, Handle: &handle{"h"}, Sub: sub{P: p2, List: []any{p1}},
		}},
		{"struct in []any into []any", []any{sub{P: p1}}, func() any { return new([]any) },
			[]any{map[string]any{"P": p1, "List": nil}}},
		{"toarray struct", arrayShape{A: p1, B: "b"}, func() any { return new(arrayShape) }, arrayShape{A: p1, B: "b"}},
		{"embedded structs with interfaces", withEmbedded{Meta: Meta{Note: p1, Count: 2}, meta: meta{Secret: p2}, Own: p1},
			func() any { return new(withEmbedded) },
			withEmbedded{Meta: Meta{Note: p1, Count: 2}, meta: meta{Secret: p2}, Own: p1}},
		{"embedded struct beside a hooked field", staticWithEmbedded{Meta: Meta{Note: p2, Count: 1}, P: p1},
			func() any { return new(staticWithEmbedded) }, staticWithEmbedded{Meta: Meta{Note: p2, Count: 1}, P: p1}},
		{"unregistered tag content", cbor.Tag{Number: 7777, Content: p1}, func() any { return new(any) },
			cbor.Tag{Number: 7777, Content: p1}},
		{"no hooked values", map[string]int{"a": 1}, func() any { return new(map[string]int) }, map[string]int{"a": 1}},
		{"nil registered pointer in []any", []any{(*handle)(nil), p1}, func() any { return new([]any) }, []any{nil, p1}},
		{"embedded pointer beside a hooked field", withPtr{Meta: &Meta{Note: p1}, P: p2},
			func() any { return new(withPtr) }, withPtr{Meta: &Meta{Note: p1}, P: p2}},
		{"embedded map type beside a hooked field", withMap{Extras: Extras{"e": p1}, P: p2},
			func() any { return new(withMap) }, withMap{Extras: Extras{"e": p1}, P: p2}},
		{"embedded mutex beside a hooked field", &withMutex{P: p1},
			func() any { return new(withMutex) }, withMutex{P: p1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := c.Marshal(tt.in)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			dst := tt.into()
			if err := c.Unmarshal(b, dst); err != nil {
				t.Fatalf("Unmarshal(%x): %v", b, err)
			}
			if got := reflect.ValueOf(dst).Elem().Interface(); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestHooksDoNotModifyInput(t *testing.T) {
	c := hookCodec(t)
	in := map[string]any{"a": point{1, 2}, "l": []any{point{3, 4}}}
	s := shape{Extra: point{5, 6}, Path: []point{{7, 8}}}
	if _, err := c.Marshal(in); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Marshal(&s); err != nil {
		t.Fatal(err)
	}
	if _, ok := in["a"].(point); !ok {
		t.Errorf("map value rewritten to %T", in["a"])
	}
	if _, ok := in["l"].([]any)[0].(point); !ok {
		t.Errorf("slice element rewritten")
	}
	if _, ok := s.Extra.(point); !ok {
		t.Errorf("struct field rewritten to %T", s.Extra)
	}
}

func TestHooksWireFormat(t *testing.T) {
	c := hookCodec(t)
	b, err := c.Marshal(point{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	// Any CBOR reader sees tag(40000, h'0100000002000000').
	var tag cbor.Tag
	if err := cbor.Unmarshal(b, &tag); err != nil {
		t.Fatal(err)
	}
	want := cbor.Tag{Number: pointTag, Content: []byte{1, 0, 0, 0, 2, 0, 0, 0}}
	if !reflect.DeepEqual(tag, want) {
		t.Fatalf("wire = %#v, want %#v", tag, want)
	}
	// The plain codec decodes it into any as the cbor.Tag.
	var v any
	if err := codec.CBOR().Unmarshal(b, &v); err != nil || !reflect.DeepEqual(v, want) {
		t.Fatalf("plain CBOR gave %#v, %v", v, err)
	}
}

func TestHooksNullPointerField(t *testing.T) {
	c := hookCodec(t)
	got := roundTrip[shape](t, c, shape{Name: "n"})
	if got.Corner != nil || got.Missing != nil || got.Handle != nil || got.Center != (point{}) {
		t.Fatalf("got %#v", got)
	}
}

func TestHooksNoHooks(t *testing.T) {
	base := codec.CBOR()
	var h *codec.Hooks
	if h.Codec(base) != base {
		t.Error("nil Hooks did not return base")
	}
	if h.Codec(nil) != codec.CBOR() {
		t.Error("nil base is not CBOR()")
	}
	if h.Err() != nil {
		t.Error("nil Hooks has an error")
	}
}

func TestHooksCopyOnWrite(t *testing.T) {
	h1 := codec.Register(nil, pointTag, encPoint, decPoint)
	h2 := codec.Register(h1, 50000,
		func(h handle) ([]byte, error) { return []byte(h.id), nil },
		func(b []byte) (handle, error) { return handle{string(b)}, nil })
	c1, c2 := h1.Codec(nil), h2.Codec(nil)

	b2, err := c2.Marshal(handle{"z"})
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := c2.Unmarshal(b2, &v); err != nil || v != (handle{"z"}) {
		t.Fatalf("h2 codec: %#v, %v", v, err)
	}
	// h1 was not changed by Register(h1, ...): it leaves the tag alone.
	if err := c1.Unmarshal(b2, &v); err != nil {
		t.Fatal(err)
	}
	if _, ok := v.(cbor.Tag); !ok {
		t.Fatalf("h1 codec decoded %#v; h1 was modified", v)
	}
}

func TestHooksReplace(t *testing.T) {
	h := codec.Register(nil, pointTag, encPoint, decPoint)
	h = codec.Register(h, pointTag+5, encPoint, decPoint) // same type, new tag
	if err := h.Err(); err != nil {
		t.Fatal(err)
	}
	// The old tag is free again.
	h = codec.Register(h, pointTag,
		func(h handle) ([]byte, error) { return []byte(h.id), nil },
		func(b []byte) (handle, error) { return handle{string(b)}, nil })
	if err := h.Err(); err != nil {
		t.Fatal(err)
	}
	b, err := h.Codec(nil).Marshal(point{1, 1})
	if err != nil {
		t.Fatal(err)
	}
	var tag cbor.Tag
	if err := cbor.Unmarshal(b, &tag); err != nil || tag.Number != pointTag+5 {
		t.Fatalf("tag = %d, %v; want %d", tag.Number, err, pointTag+5)
	}
}

func TestHooksConfigErrors(t *testing.T) {
	enc := func(any) ([]byte, error) { return nil, nil }
	dec := func([]byte) (any, error) { return nil, nil }
	base := codec.Register(nil, pointTag, encPoint, decPoint)
	tests := []struct {
		name string
		h    *codec.Hooks
	}{
		{"nil type", base.With(1000, nil, enc, dec)},
		{"nil enc", base.With(1000, reflect.TypeFor[handle](), nil, dec)},
		{"nil dec", codec.Register[handle](nil, 1000, func(handle) ([]byte, error) { return nil, nil }, nil)},
		{"interface type", codec.Register(nil, 1000,
			func(error) ([]byte, error) { return nil, nil }, func([]byte) (error, error) { return nil, nil })},
		{"cbor.Tag", base.With(1000, reflect.TypeFor[cbor.Tag](), enc, dec)},
		{"tag 0", base.With(0, reflect.TypeFor[handle](), enc, dec)},
		{"tag 1", base.With(1, reflect.TypeFor[handle](), enc, dec)},
		{"tag 2", base.With(2, reflect.TypeFor[handle](), enc, dec)},
		{"tag 55799", base.With(55799, reflect.TypeFor[handle](), enc, dec)},
		{"tag in use", base.With(pointTag, reflect.TypeFor[handle](), enc, dec)},
		{"error is kept", base.With(0, reflect.TypeFor[handle](), enc, dec).With(1000, reflect.TypeFor[int](), enc, dec)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.h.Err(); !errors.Is(err, nanoact.ErrInvalid) {
				t.Fatalf("Err() = %v, want ErrInvalid", err)
			}
			c := tt.h.Codec(nil)
			if _, err := c.Marshal(1); !errors.Is(err, nanoact.ErrInvalid) {
				t.Errorf("Marshal error = %v, want ErrInvalid", err)
			}
			var v any
			if err := c.Unmarshal([]byte{0x01}, &v); !errors.Is(err, nanoact.ErrInvalid) {
				t.Errorf("Unmarshal error = %v, want ErrInvalid", err)
			}
		})
	}
	if base.Err() != nil {
		t.Fatalf("a failed With changed its receiver: %v", base.Err())
	}
}

type recursive struct {
	Next *recursive
	P    point
}

type hiddenPoint struct {
	inner2
}

type inner2 struct{ P point }

type cyclic struct {
	Next *cyclic
	V    any
}

func TestHooksUnsupported(t *testing.T) {
	c := hookCodec(t)
	tests := []struct {
		name string
		in   any
		into any
	}{
		{"map key", map[point]int{{1, 2}: 1}, new(map[point]int)},
		{"recursive type", recursive{P: point{1, 2}}, new(recursive)},
		{"embedded struct holding the type", hiddenPoint{}, new(hiddenPoint)},
		{"embedded type with methods", withMethods{}, new(withMethods)},
		{"embedded unexported struct", withUnexported{}, new(withUnexported)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := c.Marshal(tt.in); !errors.Is(err, nanoact.ErrNotSupported) {
				t.Errorf("Marshal error = %v, want ErrNotSupported", err)
			}
			if err := c.Unmarshal([]byte{0xa0}, tt.into); !errors.Is(err, nanoact.ErrNotSupported) {
				t.Errorf("Unmarshal error = %v, want ErrNotSupported", err)
			}
		})
	}
	t.Run("cyclic value", func(t *testing.T) {
		v := &cyclic{V: point{1, 1}}
		v.Next = v
		if _, err := c.Marshal(v); !errors.Is(err, nanoact.ErrInvalid) {
			t.Errorf("Marshal(cycle) error = %v, want ErrInvalid", err)
		}
	})
}

var errHook = errors.New("hook failed")

func TestHooksFunctionErrors(t *testing.T) {
	failing := codec.Register(nil, pointTag,
		func(point) ([]byte, error) { return nil, errHook },
		func([]byte) (point, error) { return point{}, errHook }).Codec(nil)
	panicking := codec.Register(nil, pointTag,
		func(point) ([]byte, error) { panic("enc boom") },
		func([]byte) (point, error) { panic("dec boom") }).Codec(nil)
	good, err := hookCodec(t).Marshal([]any{point{1, 2}})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("enc error", func(t *testing.T) {
		_, err := failing.Marshal([]any{point{}})
		if !errors.Is(err, errHook) || !errors.Is(err, nanoact.ErrBadType) {
			t.Fatalf("error = %v, want errHook and ErrBadType", err)
		}
	})
	t.Run("dec error", func(t *testing.T) {
		var v []any
		err := failing.Unmarshal(good, &v)
		if !errors.Is(err, errHook) || !errors.Is(err, nanoact.ErrBadType) {
			t.Fatalf("error = %v, want errHook and ErrBadType", err)
		}
	})
	t.Run("enc panic", func(t *testing.T) {
		_, err := panicking.Marshal(point{})
		if !errors.Is(err, nanoact.ErrInternal) || !strings.Contains(err.Error(), "enc boom") {
			t.Fatalf("error = %v, want ErrInternal with the panic value", err)
		}
	})
	t.Run("dec panic", func(t *testing.T) {
		var p point
		b, _ := hookCodec(t).Marshal(point{})
		err := panicking.Unmarshal(b, &p)
		if !errors.Is(err, nanoact.ErrInternal) || !strings.Contains(err.Error(), "dec boom") {
			t.Fatalf("error = %v, want ErrInternal with the panic value", err)
		}
	})
	t.Run("wrong tag for field", func(t *testing.T) {
		b, err := cbor.Marshal(map[string]any{"Center": cbor.Tag{Number: 12345, Content: []byte{}}})
		if err != nil {
			t.Fatal(err)
		}
		var s shape
		if err := hookCodec(t).Unmarshal(b, &s); !errors.Is(err, nanoact.ErrBadType) {
			t.Fatalf("error = %v, want ErrBadType", err)
		}
	})
	t.Run("tag content not bytes", func(t *testing.T) {
		b, err := cbor.Marshal(cbor.Tag{Number: pointTag, Content: 5})
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := hookCodec(t).Unmarshal(b, &v); !errors.Is(err, nanoact.ErrBadType) {
			t.Fatalf("error = %v, want ErrBadType", err)
		}
	})
	t.Run("bad payload for dec", func(t *testing.T) {
		b, err := cbor.Marshal(cbor.Tag{Number: pointTag, Content: []byte{1, 2, 3}})
		if err != nil {
			t.Fatal(err)
		}
		var p point
		if err := hookCodec(t).Unmarshal(b, &p); !errors.Is(err, nanoact.ErrBadType) {
			t.Fatalf("error = %v, want ErrBadType", err)
		}
	})
	t.Run("With dec returns wrong type", func(t *testing.T) {
		c := (*codec.Hooks)(nil).With(pointTag, reflect.TypeFor[point](),
			func(v any) ([]byte, error) { return encPoint(v.(point)) },
			func([]byte) (any, error) { return "not a point", nil }).Codec(nil)
		var p point
		if err := c.Unmarshal(good[1:], &p); !errors.Is(err, nanoact.ErrBadType) {
			t.Fatalf("error = %v, want ErrBadType", err)
		}
	})
}

func TestHooksConcurrent(t *testing.T) {
	c := hookCodec(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				in := shape{Name: fmt.Sprint(i, j), Center: point{int32(i), int32(j)}, Extra: []any{point{1, 2}}}
				b, err := c.Marshal(in)
				if err != nil {
					t.Error(err)
					return
				}
				var out shape
				if err := c.Unmarshal(b, &out); err != nil || !reflect.DeepEqual(out, in) {
					t.Errorf("got %#v, %v", out, err)
					return
				}
			}
		})
	}
	wg.Wait()
}
