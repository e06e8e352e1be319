package codec

import (
	"reflect"
	"sync"

	"github.com/nanoact/nanoact"
)

// Hooks is a set of serialisation hooks, the analogue of nanonext's
// serial_config (custom serialisation of chosen classes): for each registered Go type it holds a
// CBOR tag number and a pair of functions turning a value into bytes and
// back. A Codec made by Hooks.Codec writes every registered value as
// tag(number, byte string of enc(value)) and turns such tags back into
// values with dec.
//
// Unlike serial_config, a hook handles one value at a time (nanonext's
// vec = FALSE) and matches an exact Go type, not a class and its
// subclasses. The wire format is plain CBOR, readable by any CBOR decoder
// as a tagged byte string.
//
// A Hooks value is immutable: With and Register return a new one and leave
// the receiver as it was (copy on write), so a Hooks may be shared between
// goroutines and sockets freely. The nil *Hooks is the empty set and is
// ready to use.
type Hooks struct {
	byType map[reflect.Type]*hook
	byTag  map[uint64]*hook
	err    error
}

type hook struct {
	tag uint64
	typ reflect.Type
	enc func(any) ([]byte, error)
	dec func([]byte) (any, error)
}

const opHooks = "codec: hooks"

// With returns a new Hooks holding h's hooks plus one for values of exactly
// type typ, written under CBOR tag number tag: enc turns a value of type
// typ, passed as an any, into bytes, and dec turns those bytes back into a
// value of type typ. A later hook for the same type replaces the earlier
// one. h may be nil. With copies h's tables, costing O(number of hooks), and
// does not block.
//
// Mistakes do not panic: a nil typ, enc or dec, an interface type, the type
// cbor.Tag, a tag number CBOR itself interprets (0 to 3, 21 to 23, 55799) or
// a tag number already used by another type make the returned Hooks carry
// an *nanoact.Error matching nanoact.ErrInvalid. Err reports it, and every
// Marshal and Unmarshal of a Codec made from it returns it. The first such
// error is kept through later calls.
func (h *Hooks) With(tag uint64, typ reflect.Type, enc func(any) ([]byte, error), dec func([]byte) (any, error)) *Hooks {
	n := &Hooks{}
	if h != nil {
		n.byType = make(map[reflect.Type]*hook, len(h.byType)+1)
		n.byTag = make(map[uint64]*hook, len(h.byTag)+1)
		for t, hk := range h.byType {
			n.byType[t] = hk
		}
		for k, hk := range h.byTag {
			n.byTag[k] = hk
		}
		n.err = h.err
	} else {
		n.byType = make(map[reflect.Type]*hook, 1)
		n.byTag = make(map[uint64]*hook, 1)
	}
	if n.err != nil {
		return n
	}
	if err := n.check(tag, typ, enc, dec); err != nil {
		n.err = err
		return n
	}
	if old := n.byType[typ]; old != nil {
		delete(n.byTag, old.tag)
	}
	hk := &hook{tag: tag, typ: typ, enc: enc, dec: dec}
	n.byType[typ] = hk
	n.byTag[tag] = hk
	return n
}

func (h *Hooks) check(tag uint64, typ reflect.Type, enc func(any) ([]byte, error), dec func([]byte) (any, error)) error {
	switch {
	case typ == nil:
		return nanoact.Errorf(nanoact.CodeInvalid, opHooks, "nil type for tag %d", tag)
	case enc == nil || dec == nil:
		return nanoact.Errorf(nanoact.CodeInvalid, opHooks, "nil marshal or unmarshal function for %s", typ)
	case typ.Kind() == reflect.Interface:
		return nanoact.Errorf(nanoact.CodeInvalid, opHooks, "%s is an interface type; register concrete types", typ)
	case typ == typeTag:
		return nanoact.Errorf(nanoact.CodeInvalid, opHooks, "cbor.Tag cannot be hooked")
	}
	switch tag {
	case 0, 1, 2, 3, 21, 22, 23, 55799:
		return nanoact.Errorf(nanoact.CodeInvalid, opHooks, "tag %d is interpreted by CBOR itself", tag)
	}
	if other := h.byTag[tag]; other != nil && other.typ != typ {
		return nanoact.Errorf(nanoact.CodeInvalid, opHooks, "tag %d is already used by %s", tag, other.typ)
	}
	return nil
}

// Register returns a new Hooks holding h's hooks plus one for values of
// type T under CBOR tag number tag; it is With with typed functions. h may
// be nil. Like With it costs O(number of hooks), does not block, and
// records rather than panics on mistakes (see With).
//
//	hooks := codec.Register(nil, 40000, encodePoint, decodePoint)
//	hooks = codec.Register(hooks, 40001, encodeConn, decodeConn)
//	c := hooks.Codec(codec.CBOR()) // share c between sockets
func Register[T any](h *Hooks, tag uint64, enc func(T) ([]byte, error), dec func([]byte) (T, error)) *Hooks {
	typ := reflect.TypeFor[T]()
	var e func(any) ([]byte, error)
	var d func([]byte) (any, error)
	if enc != nil {
		e = func(v any) ([]byte, error) {
			t, ok := v.(T)
			if !ok {
				return nil, nanoact.Errorf(nanoact.CodeBadType, opMarshal, "hook for %s given a %T", typ, v)
			}
			return enc(t)
		}
	}
	if dec != nil {
		d = func(b []byte) (any, error) { return dec(b) }
	}
	return h.With(tag, typ, e, d)
}

// Err returns the error recorded by a faulty With or Register call, or nil.
// It does not block or allocate.
func (h *Hooks) Err() error {
	if h == nil {
		return nil
	}
	return h.err
}

// Codec returns a Codec that applies h on top of base (CBOR() when base is
// nil); with no hooks and no error it returns base itself. base must encode
// cbor.Tag values as CBOR tags and decode unknown tags into an interface as
// cbor.Tag, as CBOR() does. The returned Codec is safe for concurrent use
// and never blocks.
//
// Marshal writes each registered value as tag(number, bytes(enc(value)))
// wherever it sits: as v itself, behind pointers, in slices, arrays and
// map values, in exported struct fields (including fields of embedded
// structs), and inside interface values such as the elements of []any and
// map[string]any. Unmarshal turns such tags back into values with dec both
// where the destination is an interface (any) and where it has the
// registered type (a T variable, a T or *T field, a []T, ...). A nil value
// of a registered pointer, map or slice type is written as CBOR null
// without calling enc, and null decodes to nil without calling dec.
//
// Cost: a value whose type can hold neither a registered type nor an
// interface is passed to base untouched, after one cached type lookup. Other
// values are copied where they hold something to rewrite (never modified in
// place) and walked by reflection, which costs about 1.6 times plain CBOR
// for a small map[string]any and more for structs holding registered
// types; see BenchmarkCBOR. The first use of each Go type builds and
// caches a plan for it.
//
// Limits, each reported as an *nanoact.Error matching
// nanoact.ErrNotSupported rather than ignored: a registered type reachable
// through a map key, through an embedded struct field, or inside a
// recursive type (type Node struct{ Next *Node; P Point }); and a struct
// holding a registered type that also embeds an unexported struct, or a
// struct type with methods, whose fields CBOR would write (an embedded
// sync.Mutex is fine). Non-empty interface fields (error, fmt.Stringer) are
// passed to base as they are, so registered values inside them are not
// hooked. A hooked struct field is always written, whatever its omitempty or
// omitzero option. Decoding into a destination that holds a registered type
// replaces it as a whole, where base would merge into an existing struct
// or map. Values nested more than 1000 levels deep (such as a cyclic
// pointer graph) give an error matching nanoact.ErrInvalid.
//
// Errors returned by enc or dec are wrapped in an *nanoact.Error matching
// nanoact.ErrBadType; a panic in enc or dec is recovered and returned as an
// *nanoact.Error matching nanoact.ErrInternal that carries the stack.
func (h *Hooks) Codec(base Codec) Codec {
	if base == nil {
		base = CBOR()
	}
	if h == nil || (h.err == nil && len(h.byType) == 0) {
		return base
	}
	return &hookCodec{base: base, byType: h.byType, byTag: h.byTag, err: h.err}
}

// hookCodec applies Hooks around a base Codec. Its tables are never written
// after construction; plans is a cache of immutable plans.
type hookCodec struct {
	base   Codec
	byType map[reflect.Type]*hook
	byTag  map[uint64]*hook
	err    error
	plans  sync.Map // reflect.Type -> *plan
}

// Marshal encodes v, applying the hooks.
func (c *hookCodec) Marshal(v any) ([]byte, error) { return c.appendMarshal(nil, "", v) }

// appendMarshal appends prefix and the encoding of v to dst, applying the
// hooks.
func (c *hookCodec) appendMarshal(dst []byte, prefix string, v any) ([]byte, error) {
	if c.err != nil {
		return dst, c.err
	}
	if v == nil {
		return appendEncode(c.base, dst, prefix, nil)
	}
	rv := reflect.ValueOf(v)
	p := c.planFor(rv.Type())
	switch p.kind {
	case kindPass:
		return appendEncode(c.base, dst, prefix, v)
	case kindBad:
		return dst, p.err
	}
	w, changed, err := c.conv(rv, p, toWire, 0)
	if err != nil {
		return dst, err
	}
	if !changed {
		return appendEncode(c.base, dst, prefix, v)
	}
	return appendEncode(c.base, dst, prefix, w.Interface())
}

// Unmarshal decodes data into the value v points to, applying the hooks.
func (c *hookCodec) Unmarshal(data []byte, v any) error {
	if c.err != nil {
		return c.err
	}
	rv := reflect.ValueOf(v)
	if !rv.IsValid() || rv.Kind() != reflect.Pointer || rv.IsNil() {
		return c.base.Unmarshal(data, v) // base reports the misuse
	}
	p := c.planFor(rv.Type().Elem())
	switch p.kind {
	case kindPass:
		return c.base.Unmarshal(data, v)
	case kindBad:
		return p.err
	}
	if p.wire == p.t {
		if err := c.base.Unmarshal(data, v); err != nil {
			return err
		}
		out, changed, err := c.conv(rv.Elem(), p, fromWire, 0)
		if err != nil {
			return err
		}
		if changed {
			rv.Elem().Set(out)
		}
		return nil
	}
	w := reflect.New(p.wire)
	if err := c.base.Unmarshal(data, w.Interface()); err != nil {
		return err
	}
	out, _, err := c.conv(w.Elem(), p, fromWire, 0)
	if err != nil {
		return err
	}
	rv.Elem().Set(out)
	return nil
}
