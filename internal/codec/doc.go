// Package codec turns Go values into nanonext message payloads and back.
//
// nanonext sends in one of two modes (send's mode argument) and receives
// in one of nine (recv's mode argument). This package holds those encodings as pure
// functions on byte slices, with no I/O, goroutines or global state, so that
// the sockets and aio layers can share them:
//
//   - Mode numbers the receive modes as nanonext does (Serial = 1 ...
//     String = 9); ParseRecvMode and ParseStreamMode apply nanonext's
//     prefix rules for receives ("d" is double, "c" and "s" are ambiguous
//     for sockets), ParseSendMode its rules for sends ("s" is serial, "r"
//     raw, codes 1 and 2).
//   - Raw mode: AppendRaw and EncodeRaw lay out strings, numbers, logicals
//     and complex numbers as R's atomic vectors, little-endian; Topic derives
//     a sub socket's subscription bytes from a value the same way.
//   - Typed receives: Characters, DecodeString, Float64s, Int32s, Bools and
//     Complex128s (and Append forms that reuse a slice) decode a payload,
//     returning *nanoact.ConvertError, which carries the untouched payload,
//     when its length does not divide into the type.
//   - Serial mode: Codec is the pluggable serialiser; CBOR is the default
//     (NewCBOR with other decoding Limits), and Hooks (nanonext's
//     serial_config) registers per-type marshal and unmarshal functions
//     written under a CBOR tag. AppendSerial and UnmarshalSerial frame a
//     codec's bytes as a serial payload: Marker (CBOR's self-describe tag,
//     d9 d9 f7) first, so that a payload not sent in serial mode is
//     refused as a *nanoact.ConvertError instead of decoded by chance.
//   - Limits bound what one payload may decode to (elements, pairs,
//     nesting, and memory relative to the payload's size, estimated by
//     DecodedSize before decoding), so that a small message cannot make
//     the receiver allocate without bound.
//
// Serial mode does not produce R's serialisation format: a Go peer and an R
// peer can exchange raw-mode payloads, but serial payloads only between Go
// peers (or any CBOR reader).
//
// Every function here is safe for concurrent use and never blocks. Errors
// are *nanoact.Error values (or *nanoact.ConvertError) to be matched with
// errors.Is against the root package's sentinels; nothing panics on bad
// input.
package codec
