// Package codec turns Go values into nanonext message payloads and back.
//
// nanonext sends in one of two modes and receives in one of nine
// (reference §2.3 and §2.4). This package holds those encodings as pure
// functions on byte slices, with no I/O, goroutines or global state, so that
// the sockets and aio layers can share them:
//
//   - Mode numbers the receive modes as nanonext does (Serial = 1 ...
//     String = 9); ParseMode and ParseStreamMode apply nanonext's prefix
//     rules ("d" is double, "c" and "s" are ambiguous for sockets).
//   - Raw mode: AppendRaw and EncodeRaw lay out strings, numbers, logicals
//     and complex numbers as R's atomic vectors, little-endian; Topic derives
//     a sub socket's subscription bytes from a value the same way.
//   - Typed receives: Characters, DecodeString, Float64s, Int32s, Bools and
//     Complex128s (and Append forms that reuse a slice) decode a payload,
//     returning *nanoact.ConvertError, which carries the untouched payload,
//     when its length does not divide into the type.
//   - Serial mode: Codec is the pluggable serialiser; CBOR is the default,
//     and Hooks (nanonext's serial_config) registers per-type marshal and
//     unmarshal functions written under a CBOR tag.
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
