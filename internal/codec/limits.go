package codec

import (
	"encoding/binary"
	"math"

	"github.com/nanoact/nanoact"
)

// Limits bounds what the CBOR codec decodes from one payload, so that a
// small message cannot make the receiver allocate without bound (a few
// MiB of empty maps would otherwise decode into GiBs). A zero field takes
// its default; the zero Limits is the default set, which CBOR uses.
//
// A payload over a limit fails to decode with an error matching
// nanoact.ErrBadType (a *nanoact.ConvertError at a socket's receive)
// before anything is allocated for it.
type Limits struct {
	// MaxNestedLevels bounds how deeply arrays, maps and tags nest.
	// Default 32; otherwise 4 to 65535.
	MaxNestedLevels int
	// MaxArrayElements bounds the elements of each array. Default 131072;
	// otherwise 16 to 2147483647.
	MaxArrayElements int
	// MaxMapPairs bounds the key-value pairs of each map. Default 131072;
	// otherwise 16 to 2147483647.
	MaxMapPairs int
	// MaxExpansion bounds the memory the decoded value may take, as a
	// multiple of the payload's size: a payload of n bytes may decode to
	// max(MinBudget, MaxExpansion×n) bytes, as estimated before decoding
	// (see DecodedSize). Default 32; negative means no bound. Typical
	// payloads (numbers, strings, records of several fields) need 2 to
	// 20; a long list of maps holding one small entry each needs about
	// 110, and empty maps 64, which are what decoding bombs are made of.
	MaxExpansion int
}

// Default limits, as fxamacker/cbor's own defaults, and the expansion
// allowed.
const (
	DefaultMaxNestedLevels  = 32
	DefaultMaxArrayElements = 131072
	DefaultMaxMapPairs      = 131072
	DefaultMaxExpansion     = 32
	// MinBudget is the memory any payload may decode to, however small:
	// payloads up to MinBudget/maxPerByte bytes are never estimated.
	MinBudget = 4 << 20
)

// withDefaults returns l with zero fields set to the defaults, or an
// *nanoact.Error matching nanoact.ErrInvalid for a field out of range.
func (l Limits) withDefaults() (Limits, error) {
	fields := []struct {
		name     string
		v        *int
		def, min int
		max      int
	}{
		{"MaxNestedLevels", &l.MaxNestedLevels, DefaultMaxNestedLevels, 4, 65535},
		{"MaxArrayElements", &l.MaxArrayElements, DefaultMaxArrayElements, 16, math.MaxInt32},
		{"MaxMapPairs", &l.MaxMapPairs, DefaultMaxMapPairs, 16, math.MaxInt32},
	}
	for _, f := range fields {
		switch {
		case *f.v == 0:
			*f.v = f.def
		case *f.v < f.min || *f.v > f.max:
			return l, nanoact.Errorf(nanoact.CodeInvalid, "codec: limits",
				"%s %d out of range %d..%d", f.name, *f.v, f.min, f.max)
		}
	}
	if l.MaxExpansion == 0 {
		l.MaxExpansion = DefaultMaxExpansion
	}
	return l, nil
}

// budget returns the estimated decoded size a payload of n bytes may
// reach, or -1 when it need not be estimated: no bound, or a payload too
// small to exceed MinBudget however it is made.
func (l Limits) budget(n int) int {
	if l.MaxExpansion < 0 || n <= MinBudget/maxPerByte {
		return -1
	}
	if n > math.MaxInt/l.MaxExpansion {
		return math.MaxInt
	}
	return max(MinBudget, l.MaxExpansion*n)
}

// The weights of DecodedSize: roughly what decoding into an interface
// costs on a 64-bit Go (go1.26, amd64). Measured with runtime.MemStats
// over lists of 100000 items, bytes allocated per payload byte against
// the estimate: empty maps 72 (estimate 64), maps of one entry {"a": 1}
// 98 (94), one-element arrays 28 (28), empty arrays 40 (40), small
// integers 16 (16), strings "ab" 11 (11), records of three fields 17
// (20), one map of 100000 pairs 7.7 (6.7), float64s 2.7 (2.7).
const (
	slotCost  = 16  // every value: its interface slot in the parent
	boxCost   = 8   // an integer beyond 0..255 or a float, boxed
	strCost   = 16  // a non-empty text string's boxed header
	bytesCost = 24  // a byte string's boxed slice header
	arrCost   = 24  // an array's boxed slice header
	mapCost   = 48  // a map's header
	groupCost = 264 // a map's first group of 8 slots (Go's swiss tables)
	tagCost   = 32  // a tag kept as cbor.Tag or a time.Time
	// maxPerByte bounds the estimate per payload byte: a 3-byte map of
	// one entry costs 2 slots, a header and a group.
	maxPerByte = (3*slotCost + mapCost + groupCost + 2) / 3
)

// DecodedSize estimates the memory, in bytes, that decoding the CBOR
// data item at the start of data into an interface takes, stopping as soon
// as the estimate passes limit (it then returns a value above limit). It
// reads each item's head once, in one pass over data, with no recursion
// and no allocation; it does not validate data: on malformed input it
// returns what it counted so far, and the decoder reports the fault.
//
// Decoding into a typed destination (a []float64, a struct) usually costs
// less; the estimate is meant as an upper bound for an any.
func DecodedSize(data []byte, limit int) int {
	size := 0
	for i := 0; i < len(data) && size <= limit; {
		ib := data[i]
		major, info := ib>>5, ib&0x1f
		i++
		var arg uint64
		switch {
		case info < 24:
			arg = uint64(info)
		case info <= 27:
			n := 1 << (info - 24)
			if len(data)-i < n {
				return size
			}
			switch n {
			case 1:
				arg = uint64(data[i])
			case 2:
				arg = uint64(binary.BigEndian.Uint16(data[i:]))
			case 4:
				arg = uint64(binary.BigEndian.Uint32(data[i:]))
			default:
				arg = binary.BigEndian.Uint64(data[i:])
			}
			i += n
		case info == 31: // indefinite length, or a break
			switch major {
			case 2, 3:
				size += slotCost + bytesCost
			case 4:
				size += slotCost + arrCost
			case 5:
				size += slotCost + mapCost + groupCost
			}
			continue
		default:
			return size // reserved: malformed
		}
		switch major {
		case 0, 1:
			size += slotCost
			if major == 1 || arg > 255 {
				size += boxCost
			}
		case 2, 3:
			if arg > uint64(len(data)-i) {
				return size
			}
			switch {
			case major == 2:
				size += slotCost + bytesCost + int(arg)
			case arg > 0: // "" is not boxed
				size += slotCost + strCost + int(arg)
			default:
				size += slotCost
			}
			i += int(arg)
		case 4:
			size += slotCost + arrCost
		case 5:
			size += slotCost + mapCost
			if arg > 0 {
				size += groupCost
			}
		case 6:
			size += tagCost
		case 7:
			size += slotCost
			if info >= 25 && info <= 27 {
				size += boxCost
			}
		}
	}
	return size
}
