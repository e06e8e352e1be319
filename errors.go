package nanoact

import (
	"context"
	"errors"
	"fmt"
	"strconv"
)

// Code is an NNG error number. Its String form is the one nanonext prints:
// "5 | Timed out". Codes keep NNG's numbering so that a Go program, a C NNG
// program and an R session report the same failure the same way.
type Code int

// The NNG error codes, numbered as in NNG's nng.h.
const (
	CodeOK           Code = 0
	CodeInterrupted  Code = 1
	CodeNoMemory     Code = 2
	CodeInvalid      Code = 3
	CodeBusy         Code = 4
	CodeTimedOut     Code = 5
	CodeConnRefused  Code = 6
	CodeClosed       Code = 7
	CodeTryAgain     Code = 8
	CodeNotSupported Code = 9
	CodeAddrInUse    Code = 10
	CodeState        Code = 11
	CodeNotFound     Code = 12
	CodeProtocol     Code = 13
	CodeUnreachable  Code = 14
	CodeAddrInvalid  Code = 15
	CodePermission   Code = 16
	CodeMsgSize      Code = 17
	CodeConnAborted  Code = 18
	CodeConnReset    Code = 19
	CodeCanceled     Code = 20
	CodeNoFiles      Code = 21
	CodeNoSpace      Code = 22
	CodeExists       Code = 23
	CodeReadOnly     Code = 24
	CodeWriteOnly    Code = 25
	CodeCrypto       Code = 26
	CodePeerAuth     Code = 27
	CodeNoArg        Code = 28
	CodeAmbiguous    Code = 29
	CodeBadType      Code = 30
	CodeConnShut     Code = 31
	CodeInternal     Code = 1000

	// CodeSysErr is or-ed with an operating system errno (NNG_ESYSERR).
	CodeSysErr Code = 0x10000000
	// CodeTranErr is or-ed with a transport error number (NNG_ETRANERR).
	CodeTranErr Code = 0x20000000
)

var codeText = map[Code]string{
	CodeOK:           "Hunky dory",
	CodeInterrupted:  "Interrupted",
	CodeNoMemory:     "Out of memory",
	CodeInvalid:      "Invalid argument",
	CodeBusy:         "Resource busy",
	CodeTimedOut:     "Timed out",
	CodeConnRefused:  "Connection refused",
	CodeClosed:       "Object closed",
	CodeTryAgain:     "Try again",
	CodeNotSupported: "Not supported",
	CodeAddrInUse:    "Address in use",
	CodeState:        "Incorrect state",
	CodeNotFound:     "Entry not found",
	CodeProtocol:     "Protocol error",
	CodeUnreachable:  "Destination unreachable",
	CodeAddrInvalid:  "Address invalid",
	CodePermission:   "Permission denied",
	CodeMsgSize:      "Message too large",
	CodeConnAborted:  "Connection aborted",
	CodeConnReset:    "Connection reset",
	CodeCanceled:     "Operation canceled",
	CodeNoFiles:      "Out of files",
	CodeNoSpace:      "Out of space",
	CodeExists:       "Resource already exists",
	CodeReadOnly:     "Read only resource",
	CodeWriteOnly:    "Write only resource",
	CodeCrypto:       "Cryptographic error",
	CodePeerAuth:     "Peer could not be authenticated",
	CodeNoArg:        "Option requires argument",
	CodeAmbiguous:    "Ambiguous option",
	CodeBadType:      "Incorrect type",
	CodeConnShut:     "Connection shutdown",
	CodeInternal:     "Internal error detected",
}

// Text returns NNG's message for c without the number, e.g. "Timed out".
// System errors give "System error #n" unless built by SysError, transport
// errors "Transport error #n", and unknown codes "Unknown error #n".
func (c Code) Text() string {
	if t, ok := codeText[c]; ok {
		return t
	}
	switch {
	case c&CodeSysErr != 0 && c&CodeTranErr == 0:
		return "System error #" + strconv.Itoa(int(c&^CodeSysErr))
	case c&CodeTranErr != 0 && c&CodeSysErr == 0:
		return "Transport error #" + strconv.Itoa(int(c&^CodeTranErr))
	}
	return "Unknown error #" + strconv.Itoa(int(c))
}

// String returns the code as nanonext prints it: "5 | Timed out".
func (c Code) String() string {
	return strconv.Itoa(int(c)) + " | " + c.Text()
}

// Error is the error type of every nanoact package. It carries an NNG code,
// the operation that failed (for example "sockets: dial tcp://127.0.0.1:5555")
// and, where there is one, the underlying cause.
//
// Two Errors match under errors.Is when their codes are equal, so
// errors.Is(err, nanoact.ErrTimedOut) holds for every time-out whatever its
// Op. Extract the code with errors.As.
type Error struct {
	Code Code
	Op   string
	Err  error
}

// Error formats e as "op: 5 | Timed out: cause", leaving out the parts that
// are empty.
func (e *Error) Error() string {
	s := e.Code.String()
	if e.Op != "" {
		s = e.Op + ": " + s
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying cause, if any.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Timeout reports whether e is a time-out, as net.Error and context do.
func (e *Error) Timeout() bool { return e.Code == CodeTimedOut }

// Temporary reports whether retrying the operation may succeed (try again
// and time-outs).
func (e *Error) Temporary() bool { return e.Code == CodeTryAgain || e.Code == CodeTimedOut }

// Sentinel errors, one per NNG code. Compare with errors.Is, never ==.
var (
	ErrInterrupted  = &Error{Code: CodeInterrupted}
	ErrNoMemory     = &Error{Code: CodeNoMemory}
	ErrInvalid      = &Error{Code: CodeInvalid}
	ErrBusy         = &Error{Code: CodeBusy}
	ErrTimedOut     = &Error{Code: CodeTimedOut}
	ErrConnRefused  = &Error{Code: CodeConnRefused}
	ErrClosed       = &Error{Code: CodeClosed}
	ErrTryAgain     = &Error{Code: CodeTryAgain}
	ErrNotSupported = &Error{Code: CodeNotSupported}
	ErrAddrInUse    = &Error{Code: CodeAddrInUse}
	ErrState        = &Error{Code: CodeState}
	ErrNotFound     = &Error{Code: CodeNotFound}
	ErrProtocol     = &Error{Code: CodeProtocol}
	ErrUnreachable  = &Error{Code: CodeUnreachable}
	ErrAddrInvalid  = &Error{Code: CodeAddrInvalid}
	ErrPermission   = &Error{Code: CodePermission}
	ErrMsgSize      = &Error{Code: CodeMsgSize}
	ErrConnAborted  = &Error{Code: CodeConnAborted}
	ErrConnReset    = &Error{Code: CodeConnReset}
	ErrCanceled     = &Error{Code: CodeCanceled}
	ErrNoFiles      = &Error{Code: CodeNoFiles}
	ErrNoSpace      = &Error{Code: CodeNoSpace}
	ErrExists       = &Error{Code: CodeExists}
	ErrReadOnly     = &Error{Code: CodeReadOnly}
	ErrWriteOnly    = &Error{Code: CodeWriteOnly}
	ErrCrypto       = &Error{Code: CodeCrypto}
	ErrPeerAuth     = &Error{Code: CodePeerAuth}
	ErrNoArg        = &Error{Code: CodeNoArg}
	ErrAmbiguous    = &Error{Code: CodeAmbiguous}
	ErrBadType      = &Error{Code: CodeBadType}
	ErrConnShut     = &Error{Code: CodeConnShut}
	ErrInternal     = &Error{Code: CodeInternal}
)

// Errorf returns an *Error with code c, operation op, and a cause formatted
// from format and args (nil cause when format is empty).
func Errorf(c Code, op, format string, args ...any) *Error {
	var cause error
	if format != "" {
		cause = fmt.Errorf(format, args...)
	}
	return &Error{Code: c, Op: op, Err: cause}
}

// FromContext converts the end of a context wait into an *Error: a passed
// deadline becomes CodeTimedOut and a cancellation CodeCanceled, each
// wrapping ctx.Err() so that errors.Is(err, context.DeadlineExceeded) holds
// as well as errors.Is(err, ErrTimedOut). It returns nil if ctx is not done.
func FromContext(ctx context.Context, op string) error {
	err := ctx.Err()
	switch {
	case err == nil:
		return nil
	case err == context.DeadlineExceeded:
		return &Error{Code: CodeTimedOut, Op: op, Err: err}
	default:
		return &Error{Code: CodeCanceled, Op: op, Err: err}
	}
}

// CodeOf returns the NNG code carried by err: CodeOK for nil, the code of
// the first *Error in err's chain, CodeTimedOut for a context deadline,
// CodeCanceled for a context cancellation and CodeInternal otherwise.
func CodeOf(err error) Code {
	if err == nil {
		return CodeOK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return CodeTimedOut
	case errors.Is(err, context.Canceled):
		return CodeCanceled
	}
	return CodeInternal
}

// ConvertError is returned by a typed receive whose raw payload does not
// divide into the requested type (for example 12 bytes asked for as
// float64s), and by a serial receive whose payload cannot be unserialized
// (it lacks the serial marker, or the codec refuses it). Data holds the
// whole payload, as nanonext returns the raw vector with a warning. Its
// code is CodeBadType; errors.Unwrap gives the codec's cause, if any.
type ConvertError struct {
	// Mode is the receive mode that was asked for, e.g. "double".
	Mode string
	// Data is the message payload, untouched.
	Data []byte
	// Op names the operation that decoded, e.g. "sockets: recv"; may be "".
	Op string
	// Type is the Go type asked for, e.g. "map[string]int"; may be "".
	Type string
	// Err is the cause (the codec's error); may be nil.
	Err error
}

// Error describes the failed conversion in nanonext's words, preceded by
// Op and followed by the Go type asked for and the cause when known, e.g.
// "sockets: recv: received data could not be unserialized (want int): ...".
func (e *ConvertError) Error() string {
	var msg string
	switch e.Mode {
	case "string":
		msg = "data could not be converted to a character string"
	case "serial":
		msg = "received data could not be unserialized"
	default:
		msg = "received data could not be converted to " + e.Mode
	}
	if e.Op != "" {
		msg = e.Op + ": " + msg
	}
	if e.Type != "" {
		msg += " (want " + e.Type + ")"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause, so that errors.As reaches the codec's error.
func (e *ConvertError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrBadType) hold for a ConvertError.
func (e *ConvertError) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == CodeBadType
}
