package sockets

import (
	"reflect"

	"github.com/nanoact/nanoact/internal/codec"
)

// Hooks is a set of serialisation hooks for Serial mode, the analogue of
// nanonext's serial_config (custom serialisation of chosen classes, set
// per socket): for each registered Go type
// it holds a CBOR tag number and a pair of functions turning a value into
// bytes and back. A Codec made by Hooks.Codec writes every registered
// value as tag(number, byte string of enc(value)) and turns such tags back
// into values with dec. Build one with RegisterHook (or With), make its
// Codec, and give that to WithCodec or Socket.SetCodec on both peers.
//
// Unlike serial_config, a hook handles one value at a time (nanonext's
// vec = FALSE) and matches an exact Go type, not a class and its
// subclasses. The wire format is plain CBOR, readable by any CBOR decoder
// as a tagged byte string.
//
// A Hooks value is immutable: With and RegisterHook return a new one and
// leave the receiver as it was (copy on write), so a Hooks may be shared
// between goroutines and sockets freely. The nil *Hooks is the empty set
// and is ready to use.
type Hooks struct{ h *codec.Hooks }

// inner returns the hooks h holds; nil for the nil *Hooks.
func (h *Hooks) inner() *codec.Hooks {
	if h == nil {
		return nil
	}
	return h.h
}

// With returns a new Hooks holding h's hooks plus one for values of exactly
// type typ, written under CBOR tag number tag: enc turns a value of type
// typ, passed as an any, into bytes, and dec turns those bytes back into a
// value of type typ. A later hook for the same type replaces the earlier
// one. h may be nil. With copies h's tables, costing O(number of hooks),
// and does not block. RegisterHook is With with typed functions.
//
// Mistakes do not panic: a nil typ, enc or dec, an interface type, the
// CBOR library's Tag type, a tag number CBOR itself interprets (0 to 3, 21
// to 23, 55799) or a tag number already used by another type make the
// returned Hooks carry an *nanoact.Error matching nanoact.ErrInvalid. Err
// reports it, and every Marshal and Unmarshal of a Codec made from it
// returns it. The first such error is kept through later calls.
func (h *Hooks) With(tag uint64, typ reflect.Type, enc func(any) ([]byte, error), dec func([]byte) (any, error)) *Hooks {
	return &Hooks{h.inner().With(tag, typ, enc, dec)}
}

// RegisterHook returns a new Hooks holding h's hooks plus one for values of
// type T under CBOR tag number tag: enc turns a T into bytes and dec turns
// them back. h may be nil. Like With it costs O(number of hooks), does not
// block, and records rather than panics on mistakes (see With).
//
//	hooks := sockets.RegisterHook(nil, 40000, encodePoint, decodePoint)
//	hooks = sockets.RegisterHook(hooks, 40001, encodeConn, decodeConn)
//	cd := hooks.Codec(nil) // CBOR plus the hooks; share cd between sockets
func RegisterHook[T any](h *Hooks, tag uint64, enc func(T) ([]byte, error), dec func([]byte) (T, error)) *Hooks {
	return &Hooks{codec.Register(h.inner(), tag, enc, dec)}
}

// Err returns the error recorded by a faulty With or RegisterHook call, or
// nil. It does not block or allocate.
func (h *Hooks) Err() error { return h.inner().Err() }

// Codec returns a Codec that applies h on top of base (the default CBOR
// codec when base is nil; NewCBOR makes one with other limits); with no
// hooks and no error it returns base itself. base must encode the CBOR
// library's Tag values as CBOR tags and decode unknown tags into an
// interface as Tag values, as the CBOR codecs do. The returned Codec is
// safe for concurrent use and never blocks.
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
// interface is passed to base untouched, after one cached type lookup.
// Other values are copied where they hold something to rewrite (never
// modified in place) and walked by reflection, which costs about 1.6 times
// plain CBOR for a small map[string]any and more for structs holding
// registered types. The first use of each Go type builds and caches a plan
// for it.
//
// Limits, each reported as an *nanoact.Error matching
// nanoact.ErrNotSupported rather than ignored: a registered type reachable
// through a map key, through an embedded struct field, or inside a
// recursive type (type Node struct{ Next *Node; P Point }); and a struct
// holding a registered type that also embeds an unexported struct, or a
// struct type with methods, whose fields CBOR would write (an embedded
// sync.Mutex is fine). Non-empty interface fields (error, fmt.Stringer)
// are passed to base as they are, so registered values inside them are not
// hooked. A hooked struct field is always written, whatever its omitempty
// or omitzero option. Decoding into a destination that holds a registered
// type replaces it as a whole, where base would merge into an existing
// struct or map. Values nested more than 1000 levels deep (such as a
// cyclic pointer graph) give an error matching nanoact.ErrInvalid.
//
// Errors returned by enc or dec are wrapped in an *nanoact.Error matching
// nanoact.ErrBadType; a panic in enc or dec is recovered and returned as an
// *nanoact.Error matching nanoact.ErrInternal that carries the stack.
func (h *Hooks) Codec(base Codec) Codec {
	return h.inner().Codec(base) // a nil base stays a nil interface: CBOR
}
