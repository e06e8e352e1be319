package codec

import (
	"reflect"
	"runtime/debug"

	"github.com/fxamacker/cbor/v2"
	"github.com/nanoact/nanoact"
)

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
