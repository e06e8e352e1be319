package codec

import (
	"encoding"
	"fmt"
	"math/big"
	"reflect"
	"runtime/debug"
	"sync"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/nanoact/nanoact"
)

// Hooks is a set of serialisation hooks, the analogue of nanonext's
// serial_config (reference §2.4.1): for each registered Go type it holds a
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

// A plan says how values of one Go type are rewritten between their own
// form and the wire form handed to base, in which every registered value is
// a cbor.Tag. wire equals t unless a registered type is statically
// reachable from t, in which case wire is a mirror type built with
// reflect.StructOf, SliceOf and so on.
type plan struct {
	kind   planKind
	t      reflect.Type
	wire   reflect.Type
	hook   *hook      // kindHook
	elem   *plan      // kindPtr, kindSlice, kindArray, kindMap
	fields []fieldMap // kindStruct: the fields to rewrite (all kept fields when wire != t)
	err    error      // kindBad

	building bool // set while the builder is filling the plan
}

type planKind uint8

const (
	kindPass   planKind = iota // nothing registered can be inside
	kindHook                   // a registered type
	kindIface                  // an empty interface: look at the dynamic value
	kindPtr                    // pointer to something needing work
	kindSlice                  // slice of ...
	kindArray                  // array of ...
	kindMap                    // map with values needing work
	kindStruct                 // struct with fields needing work
	kindBad                    // unsupported, see err
)

// fieldMap pairs field src of t with field dst of wire.
type fieldMap struct {
	src, dst int
	p        *plan
	inPlace  bool // embedded struct: rewrite its fields where they are
}

func (p *plan) out(dir direction) reflect.Type {
	if dir == toWire {
		return p.wire
	}
	return p.t
}

type direction bool

const (
	toWire   direction = false
	fromWire direction = true
)

const maxDepth = 1000

var (
	typeTag         = reflect.TypeFor[cbor.Tag]()
	typeTime        = reflect.TypeFor[time.Time]()
	typeBigInt      = reflect.TypeFor[big.Int]()
	typeMarshaler   = reflect.TypeFor[cbor.Marshaler]()
	typeUnmarshaler = reflect.TypeFor[cbor.Unmarshaler]()
	typeBinMarsh    = reflect.TypeFor[encoding.BinaryMarshaler]()
	typeBinUnmarsh  = reflect.TypeFor[encoding.BinaryUnmarshaler]()
)

// opaque reports whether CBOR encodes t by itself or through t's own
// methods, so that nothing inside t can be rewritten.
func opaque(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Interface:
		return false
	}
	if t == typeTime || t == typeBigInt {
		return true
	}
	pt := reflect.PointerTo(t)
	return pt.Implements(typeMarshaler) || pt.Implements(typeUnmarshaler) ||
		pt.Implements(typeBinMarsh) || pt.Implements(typeBinUnmarsh)
}

// visible reports whether CBOR encodes struct field f (cbor/v2's rules:
// exported fields and embedded structs, unless tagged "-").
func visible(f reflect.StructField) bool {
	ft := f.Type
	for ft.Kind() == reflect.Pointer {
		ft = ft.Elem()
	}
	if !f.IsExported() && !(f.Anonymous && ft.Kind() == reflect.Struct) {
		return false
	}
	tag, ok := f.Tag.Lookup("cbor")
	if !ok || tag == "" {
		tag = f.Tag.Get("json")
	}
	return tag != "-"
}

// tagName returns the name part of a field's cbor (or json) tag.
func tagName(f reflect.StructField) string {
	tag := f.Tag.Get("cbor")
	if tag == "" {
		tag = f.Tag.Get("json")
	}
	for i := range len(tag) {
		if tag[i] == ',' {
			return tag[:i]
		}
	}
	return tag
}

func (c *hookCodec) planFor(t reflect.Type) *plan {
	if p, ok := c.plans.Load(t); ok {
		return p.(*plan)
	}
	b := builder{c: c, plans: map[reflect.Type]*plan{}, reach: map[reflect.Type]reach{}}
	p := b.build(t)
	for bt, bp := range b.plans {
		c.plans.LoadOrStore(bt, bp)
	}
	return p
}

type reach struct{ static, dynamic bool }

type builder struct {
	c     *hookCodec
	plans map[reflect.Type]*plan
	reach map[reflect.Type]reach
}

// reachOf reports whether a registered type (static) or an empty interface
// (dynamic) can be reached from t along the paths CBOR encodes.
func (b *builder) reachOf(t reflect.Type) reach {
	if r, ok := b.reach[t]; ok {
		return r
	}
	var r reach
	type node struct {
		t   reflect.Type
		key bool // inside a map key, where interfaces are not rewritten
	}
	seen := map[node]bool{}
	var walk func(reflect.Type, bool)
	walk = func(t reflect.Type, key bool) {
		if seen[node{t, key}] {
			return
		}
		seen[node{t, key}] = true
		if b.c.byType[t] != nil {
			r.static = true
			return
		}
		if opaque(t) {
			return
		}
		switch t.Kind() {
		case reflect.Interface:
			if t.NumMethod() == 0 && !key {
				r.dynamic = true
			}
		case reflect.Map:
			walk(t.Key(), true)
			walk(t.Elem(), key)
		case reflect.Pointer, reflect.Slice, reflect.Array:
			walk(t.Elem(), key)
		case reflect.Struct:
			for i := range t.NumField() {
				if f := t.Field(i); visible(f) {
					walk(f.Type, key)
				}
			}
		}
	}
	walk(t, false)
	b.reach[t] = r
	return r
}

func (b *builder) build(t reflect.Type) *plan {
	if p, ok := b.plans[t]; ok {
		if p.building && b.reachOf(t).static {
			return badPlan(t, "recursive type %s holds a hooked type", t)
		}
		return p
	}
	if p, ok := b.c.plans.Load(t); ok {
		return p.(*plan)
	}
	p := &plan{t: t, wire: t, building: true}
	b.plans[t] = p
	b.fill(p)
	p.building = false
	return p
}

func badPlan(t reflect.Type, format string, args ...any) *plan {
	return &plan{kind: kindBad, t: t, wire: t,
		err: nanoact.Errorf(nanoact.CodeNotSupported, opHooks, format, args...)}
}

func (p *plan) setBad(err error) {
	*p = plan{kind: kindBad, t: p.t, wire: p.t, err: err, building: p.building}
}

func (b *builder) fill(p *plan) {
	t := p.t
	if hk := b.c.byType[t]; hk != nil {
		p.kind, p.hook, p.wire = kindHook, hk, typeTag
		if nilable(t.Kind()) {
			// A nil value is written as CBOR null, without calling enc.
			p.wire = reflect.PointerTo(typeTag)
		}
		return
	}
	r := b.reachOf(t)
	if opaque(t) || (!r.static && !r.dynamic) {
		return // kindPass
	}
	switch t.Kind() {
	case reflect.Interface:
		p.kind = kindIface
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
		b.fillElem(p, r.static)
	case reflect.Struct:
		b.fillStruct(p, r.static)
	}
}

func (b *builder) fillElem(p *plan, static bool) {
	t := p.t
	switch t.Kind() {
	case reflect.Pointer:
		p.kind = kindPtr
	case reflect.Slice:
		p.kind = kindSlice
	case reflect.Array:
		p.kind = kindArray
	case reflect.Map:
		p.kind = kindMap
		if b.reachOf(t.Key()).static {
			p.setBad(nanoact.Errorf(nanoact.CodeNotSupported, opHooks,
				"hooked type in map key of %s", t))
			return
		}
	}
	e := b.build(t.Elem())
	if e.kind == kindBad {
		p.setBad(e.err)
		return
	}
	p.elem = e
	if !static {
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		p.wire = reflect.PointerTo(e.wire)
	case reflect.Slice:
		p.wire = reflect.SliceOf(e.wire)
	case reflect.Array:
		p.wire = reflect.ArrayOf(t.Len(), e.wire)
	case reflect.Map:
		p.wire = reflect.MapOf(t.Key(), e.wire)
	}
}

func (b *builder) fillStruct(p *plan, static bool) {
	t := p.t
	p.kind = kindStruct
	var wireFields []reflect.StructField
	for i := range t.NumField() {
		f := t.Field(i)
		if static && f.Name == "_" {
			// Keep cbor/v2's struct options, such as `cbor:",toarray"`.
			f.Index, f.Offset = nil, 0
			wireFields = append(wireFields, f)
			continue
		}
		if !visible(f) {
			continue
		}
		fp := b.build(f.Type)
		if fp.kind == kindBad {
			p.setBad(fp.err)
			return
		}
		if !static {
			if fp.kind == kindPass {
				continue
			}
			// An embedded struct, exported or not, is rewritten field by
			// field where it sits: its exported fields are settable even
			// when it is not.
			inPlace := f.Anonymous && f.Type.Kind() == reflect.Struct
			if !inPlace && !f.IsExported() {
				p.setBad(nanoact.Errorf(nanoact.CodeNotSupported, opHooks,
					"embedded pointer %s in %s holds interface values", f.Type, t))
				return
			}
			p.fields = append(p.fields, fieldMap{src: i, dst: i, p: fp, inPlace: inPlace})
			continue
		}
		// promoted: CBOR writes the embedded struct's fields as its own.
		promoted := f.Anonymous && derefKind(f.Type) == reflect.Struct && tagName(f) == ""
		wf := reflect.StructField{Name: f.Name, Type: fp.wire, Tag: f.Tag}
		switch {
		case promoted && fp.wire != fp.t:
			p.setBad(nanoact.Errorf(nanoact.CodeNotSupported, opHooks,
				"hooked type inside embedded field %s of %s", f.Name, t))
			return
		case promoted && !contributes(f.Type, 0):
			continue // CBOR writes nothing from it
		case !f.IsExported() || (promoted && !embeddable(f)):
			p.setBad(nanoact.Errorf(nanoact.CodeNotSupported, opHooks,
				"%s holds a hooked type and embeds %s, which cannot be mirrored", t, f.Type))
			return
		case promoted:
			wf.Anonymous = true
		}
		// Other embedded fields are named fields to CBOR and are mirrored
		// as such.
		p.fields = append(p.fields, fieldMap{
			src: i, dst: len(wireFields), p: fp,
			inPlace: promoted && f.Type.Kind() == reflect.Struct,
		})
		wireFields = append(wireFields, wf)
	}
	if !static {
		return
	}
	wire, err := structOf(wireFields)
	if err != nil {
		p.setBad(nanoact.Errorf(nanoact.CodeNotSupported, opHooks, "cannot mirror %s: %v", t, err))
		return
	}
	p.wire = wire
}

func derefKind(t reflect.Type) reflect.Kind {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind()
}

// embeddable reports whether reflect.StructOf accepts f as an embedded
// field: an exported type without methods.
func embeddable(f reflect.StructField) bool {
	if !f.IsExported() {
		return false
	}
	t := f.Type
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.NumMethod() == 0 && reflect.PointerTo(t).NumMethod() == 0
}

// contributes reports whether CBOR writes any field promoted from the
// embedded struct type t.
func contributes(t reflect.Type, depth int) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if depth > 16 {
		return true
	}
	for i := range t.NumField() {
		f := t.Field(i)
		if !visible(f) {
			continue
		}
		if !f.Anonymous || derefKind(f.Type) != reflect.Struct || tagName(f) != "" {
			return true
		}
		if contributes(f.Type, depth+1) {
			return true
		}
	}
	return false
}

// structOf is reflect.StructOf with its panics (on field layouts it does
// not implement) turned into errors; it runs once per type, never on data.
func structOf(fields []reflect.StructField) (t reflect.Type, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return reflect.StructOf(fields), nil
}

// conv rewrites v, of type p.t (toWire) or p.wire (fromWire), into the
// other form. changed is false when v is returned as is; it is always true
// when the two forms have different types. conv never modifies v or what
// it refers to.
func (c *hookCodec) conv(v reflect.Value, p *plan, dir direction, depth int) (out reflect.Value, changed bool, err error) {
	if depth > maxDepth {
		return v, false, nanoact.Errorf(nanoact.CodeInvalid, opFor(dir),
			"value nested more than %d levels deep (cyclic?)", maxDepth)
	}
	switch p.kind {
	case kindPass:
		return v, false, nil
	case kindBad:
		return v, false, p.err
	case kindHook:
		if dir == toWire {
			return c.encode(v, p)
		}
		return c.decodeTag(v, p)
	case kindIface:
		return c.convIface(v, dir, depth)
	case kindPtr:
		return c.convPtr(v, p, dir, depth)
	case kindSlice, kindArray:
		return c.convSeq(v, p, dir, depth)
	case kindMap:
		return c.convMap(v, p, dir, depth)
	case kindStruct:
		return c.convStruct(v, p, dir, depth)
	}
	return v, false, nil
}

func opFor(dir direction) string {
	if dir == toWire {
		return opMarshal
	}
	return opUnmarshal
}

func (c *hookCodec) convIface(v reflect.Value, dir direction, depth int) (reflect.Value, bool, error) {
	if v.IsNil() {
		return v, false, nil
	}
	e := v.Elem()
	var ne reflect.Value
	if hk, ok := c.tagHook(e, dir); ok {
		tg := e.Interface().(cbor.Tag)
		val, err := c.decode(hk, tg.Content)
		if err != nil {
			return v, false, err
		}
		ne = val
	} else {
		et := e.Type()
		if c.byType[et] == nil && isScalarKind(et.Kind()) {
			return v, false, nil
		}
		ep := c.planFor(et)
		if dir == fromWire && ep.wire != ep.t {
			return v, false, nil // not decoded data; leave it alone
		}
		val, changed, err := c.conv(e, ep, dir, depth+1)
		if err != nil || !changed {
			return v, false, err
		}
		ne = val
	}
	res := reflect.New(v.Type()).Elem()
	res.Set(ne)
	return res, true, nil
}

// tagHook returns the hook of e when decoding and e is a cbor.Tag with a
// registered number.
func (c *hookCodec) tagHook(e reflect.Value, dir direction) (*hook, bool) {
	if dir != fromWire || e.Type() != typeTag {
		return nil, false
	}
	hk := c.byTag[e.Interface().(cbor.Tag).Number]
	return hk, hk != nil
}

func isScalarKind(k reflect.Kind) bool {
	switch k {
	case reflect.Interface, reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map, reflect.Struct:
		return false
	}
	return true
}

func (c *hookCodec) convPtr(v reflect.Value, p *plan, dir direction, depth int) (reflect.Value, bool, error) {
	out := p.out(dir)
	if v.IsNil() {
		if out == v.Type() {
			return v, false, nil
		}
		return reflect.Zero(out), true, nil
	}
	e, changed, err := c.conv(v.Elem(), p.elem, dir, depth+1)
	if err != nil || !changed {
		return v, false, err
	}
	n := reflect.New(p.elem.out(dir))
	n.Elem().Set(e)
	return n, true, nil
}

func (c *hookCodec) convSeq(v reflect.Value, p *plan, dir direction, depth int) (reflect.Value, bool, error) {
	out := p.out(dir)
	if p.kind == kindSlice && v.IsNil() {
		if out == v.Type() {
			return v, false, nil
		}
		return reflect.Zero(out), true, nil
	}
	n := v.Len()
	var res reflect.Value
	alloc := func() {
		if p.kind == kindSlice {
			res = reflect.MakeSlice(out, n, n)
			if out == v.Type() {
				reflect.Copy(res, v)
			}
			return
		}
		res = reflect.New(out).Elem()
		if out == v.Type() {
			res.Set(v)
		}
	}
	if out != v.Type() {
		alloc()
	}
	for i := range n {
		e, changed, err := c.conv(v.Index(i), p.elem, dir, depth+1)
		if err != nil {
			return v, false, err
		}
		if !changed {
			continue
		}
		if !res.IsValid() {
			alloc()
		}
		res.Index(i).Set(e)
	}
	if !res.IsValid() {
		return v, false, nil
	}
	return res, true, nil
}

func (c *hookCodec) convMap(v reflect.Value, p *plan, dir direction, depth int) (reflect.Value, bool, error) {
	out := p.out(dir)
	if v.IsNil() {
		if out == v.Type() {
			return v, false, nil
		}
		return reflect.Zero(out), true, nil
	}
	if out != v.Type() {
		res := reflect.MakeMapWithSize(out, v.Len())
		for it := v.MapRange(); it.Next(); {
			e, _, err := c.conv(it.Value(), p.elem, dir, depth+1)
			if err != nil {
				return v, false, err
			}
			res.SetMapIndex(it.Key(), e)
		}
		return res, true, nil
	}
	type kv struct{ k, v reflect.Value }
	var changes []kv
	for it := v.MapRange(); it.Next(); {
		e, changed, err := c.conv(it.Value(), p.elem, dir, depth+1)
		if err != nil {
			return v, false, err
		}
		if changed {
			changes = append(changes, kv{it.Key(), e})
		}
	}
	if len(changes) == 0 {
		return v, false, nil
	}
	res := reflect.MakeMapWithSize(out, v.Len())
	for it := v.MapRange(); it.Next(); {
		res.SetMapIndex(it.Key(), it.Value())
	}
	for _, ch := range changes {
		res.SetMapIndex(ch.k, ch.v)
	}
	return res, true, nil
}

func (c *hookCodec) convStruct(v reflect.Value, p *plan, dir direction, depth int) (reflect.Value, bool, error) {
	if p.wire == p.t {
		res := reflect.New(p.t).Elem()
		res.Set(v)
		changed, err := c.fixStruct(res, p, dir, depth)
		if err != nil || !changed {
			return v, false, err
		}
		return res, true, nil
	}
	res := reflect.New(p.out(dir)).Elem()
	for _, fm := range p.fields {
		from, to := fm.src, fm.dst
		if dir == fromWire {
			from, to = to, from
		}
		f, dst := v.Field(from), res.Field(to)
		if fm.inPlace {
			dst.Set(f)
			if _, err := c.fixStruct(dst, fm.p, dir, depth+1); err != nil {
				return v, false, err
			}
			continue
		}
		e, _, err := c.conv(f, fm.p, dir, depth+1)
		if err != nil {
			return v, false, err
		}
		dst.Set(e)
	}
	return res, true, nil
}

// fixStruct rewrites, in place, the fields of the addressable struct res
// that p lists; res must be a copy the caller owns. p's wire type is its
// own type.
func (c *hookCodec) fixStruct(res reflect.Value, p *plan, dir direction, depth int) (bool, error) {
	if depth > maxDepth {
		return false, nanoact.Errorf(nanoact.CodeInvalid, opFor(dir),
			"value nested more than %d levels deep (cyclic?)", maxDepth)
	}
	if p.kind != kindStruct {
		return false, nil
	}
	changed := false
	for _, fm := range p.fields {
		f := res.Field(fm.src)
		if fm.inPlace {
			ch, err := c.fixStruct(f, fm.p, dir, depth+1)
			if err != nil {
				return false, err
			}
			changed = changed || ch
			continue
		}
		e, ch, err := c.conv(f, fm.p, dir, depth+1)
		if err != nil {
			return false, err
		}
		if ch {
			f.Set(e)
			changed = true
		}
	}
	return changed, nil
}

func nilable(k reflect.Kind) bool {
	switch k {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Chan, reflect.Func:
		return true
	}
	return false
}

// encode turns a registered value into its cbor.Tag (a *cbor.Tag, nil for
// a nil value, when the registered type is a pointer, map or slice type).
func (c *hookCodec) encode(v reflect.Value, p *plan) (reflect.Value, bool, error) {
	hk := p.hook
	if p.wire != typeTag && v.IsNil() {
		return reflect.Zero(p.wire), true, nil
	}
	if !v.CanInterface() {
		return v, false, nanoact.Errorf(nanoact.CodeNotSupported, opMarshal, "%s reached through an unexported field", hk.typ)
	}
	b, err := callEnc(hk, v.Interface())
	if err != nil {
		return v, false, err
	}
	if b == nil {
		b = []byte{}
	}
	tg := cbor.Tag{Number: hk.tag, Content: b}
	if p.wire != typeTag {
		return reflect.ValueOf(&tg), true, nil
	}
	return reflect.ValueOf(tg), true, nil
}

// decodeTag turns the cbor.Tag decoded where a registered type is expected
// back into a value of that type.
func (c *hookCodec) decodeTag(v reflect.Value, p *plan) (reflect.Value, bool, error) {
	hk := p.hook
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return reflect.Zero(hk.typ), true, nil // absent or null
		}
		v = v.Elem()
	}
	tg := v.Interface().(cbor.Tag)
	if tg.Number == 0 && tg.Content == nil {
		return reflect.Zero(hk.typ), true, nil // absent or null
	}
	if tg.Number != hk.tag {
		return v, false, nanoact.Errorf(nanoact.CodeBadType, opUnmarshal,
			"tag %d where %s (tag %d) was expected", tg.Number, hk.typ, hk.tag)
	}
	out, err := c.decode(hk, tg.Content)
	return out, true, err
}

func (c *hookCodec) decode(hk *hook, content any) (reflect.Value, error) {
	var b []byte
	switch x := content.(type) {
	case []byte:
		b = x
	case string:
		b = []byte(x)
	default:
		return reflect.Value{}, nanoact.Errorf(nanoact.CodeBadType, opUnmarshal,
			"content of tag %d is %T, not a byte string", hk.tag, content)
	}
	out, err := callDec(hk, b)
	if err != nil {
		return reflect.Value{}, err
	}
	if out == nil {
		return reflect.Zero(hk.typ), nil
	}
	rv := reflect.ValueOf(out)
	if rv.Type() != hk.typ {
		return reflect.Value{}, nanoact.Errorf(nanoact.CodeBadType, opUnmarshal,
			"hook for %s returned a %s", hk.typ, rv.Type())
	}
	return rv, nil
}

func callEnc(hk *hook, v any) (b []byte, err error) {
	defer recoverHook(&err, hk, opMarshal)
	b, err = hk.enc(v)
	if err != nil {
		return nil, &nanoact.Error{Code: nanoact.CodeBadType, Op: opMarshal + " " + hk.typ.String(), Err: err}
	}
	return b, nil
}

func callDec(hk *hook, b []byte) (v any, err error) {
	defer recoverHook(&err, hk, opUnmarshal)
	v, err = hk.dec(b)
	if err != nil {
		return nil, &nanoact.Error{Code: nanoact.CodeBadType, Op: opUnmarshal + " " + hk.typ.String(), Err: err}
	}
	return v, nil
}

func recoverHook(err *error, hk *hook, op string) {
	if r := recover(); r != nil {
		*err = nanoact.Errorf(nanoact.CodeInternal, op+" "+hk.typ.String(),
			"hook panicked: %v\n%s", r, debug.Stack())
	}
}
