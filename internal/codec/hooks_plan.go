package codec

import (
	"encoding"
	"fmt"
	"math/big"
	"reflect"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/nanoact/nanoact"
)

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
