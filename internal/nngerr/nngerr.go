// Package nngerr maps the errors of mangos, the operating system, the
// network stack and crypto/tls onto NNG's codes, so that every error a
// nanoact caller sees is a *nanoact.Error.
package nngerr

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"syscall"

	mangoserr "go.nanomsg.org/mangos/v3/errors"

	"github.com/nanoact/nanoact"
)

// mangosCodes maps mangos' sentinel errors.
var mangosCodes = map[error]nanoact.Code{
	mangoserr.ErrBadAddr:     nanoact.CodeAddrInvalid,
	mangoserr.ErrBadHeader:   nanoact.CodeProtocol,
	mangoserr.ErrBadVersion:  nanoact.CodeProtocol,
	mangoserr.ErrTooShort:    nanoact.CodeProtocol,
	mangoserr.ErrTooLong:     nanoact.CodeMsgSize,
	mangoserr.ErrClosed:      nanoact.CodeClosed,
	mangoserr.ErrConnRefused: nanoact.CodeConnRefused,
	mangoserr.ErrSendTimeout: nanoact.CodeTimedOut,
	mangoserr.ErrRecvTimeout: nanoact.CodeTimedOut,
	mangoserr.ErrProtoState:  nanoact.CodeState,
	mangoserr.ErrProtoOp:     nanoact.CodeNotSupported,
	mangoserr.ErrBadTran:     nanoact.CodeNotSupported,
	mangoserr.ErrBadProto:    nanoact.CodeNotSupported,
	mangoserr.ErrBadOption:   nanoact.CodeNotSupported,
	mangoserr.ErrBadValue:    nanoact.CodeInvalid,
	mangoserr.ErrGarbled:     nanoact.CodeProtocol,
	mangoserr.ErrAddrInUse:   nanoact.CodeAddrInUse,
	mangoserr.ErrBadProperty: nanoact.CodeNotSupported,
	mangoserr.ErrTLSNoConfig: nanoact.CodeInvalid,
	mangoserr.ErrTLSNoCert:   nanoact.CodeCrypto,
	mangoserr.ErrNotRaw:      nanoact.CodeNotSupported,
	mangoserr.ErrCanceled:    nanoact.CodeCanceled,
	mangoserr.ErrNoContext:   nanoact.CodeNotSupported,
	mangoserr.ErrNoPeers:     nanoact.CodeTryAgain,
}

var errnoCodes = map[syscall.Errno]nanoact.Code{
	syscall.ECONNREFUSED:  nanoact.CodeConnRefused,
	syscall.ENOENT:        nanoact.CodeConnRefused, // ipc path with no listener, as NNG
	syscall.EADDRINUSE:    nanoact.CodeAddrInUse,
	syscall.EADDRNOTAVAIL: nanoact.CodeAddrInvalid,
	syscall.ECONNRESET:    nanoact.CodeConnReset,
	syscall.ECONNABORTED:  nanoact.CodeConnAborted,
	syscall.EPIPE:         nanoact.CodeConnShut,
	syscall.EACCES:        nanoact.CodePermission,
	syscall.EPERM:         nanoact.CodePermission,
	syscall.ETIMEDOUT:     nanoact.CodeTimedOut,
	syscall.EHOSTUNREACH:  nanoact.CodeUnreachable,
	syscall.ENETUNREACH:   nanoact.CodeUnreachable,
	syscall.EMFILE:        nanoact.CodeNoFiles,
	syscall.ENFILE:        nanoact.CodeNoFiles,
	syscall.ENOSPC:        nanoact.CodeNoSpace,
	syscall.ENOMEM:        nanoact.CodeNoMemory,
	syscall.EINTR:         nanoact.CodeInterrupted,
	syscall.EINVAL:        nanoact.CodeInvalid,
}

// Code returns the NNG code for err (CodeOK for nil).
func Code(err error) nanoact.Code {
	if err == nil {
		return nanoact.CodeOK
	}
	var ne *nanoact.Error
	if errors.As(err, &ne) {
		return ne.Code
	}
	if c, ok := mangosCode(err); ok {
		return c
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if c, ok := errnoCodes[errno]; ok {
			return c
		}
		return nanoact.CodeSysErr | nanoact.Code(errno)
	}
	var (
		dnsErr   *net.DNSError
		addrErr  *net.AddrError
		certErr  *tls.CertificateVerificationError
		unkAuth  x509.UnknownAuthorityError
		hostErr  x509.HostnameError
		invalid  x509.CertificateInvalidError
		recErr   tls.RecordHeaderError
		alertErr tls.AlertError
		opErr    *net.OpError
		netErr   net.Error
	)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return nanoact.CodeTimedOut
	case errors.Is(err, context.Canceled):
		return nanoact.CodeCanceled
	case errors.Is(err, net.ErrClosed):
		return nanoact.CodeClosed
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return nanoact.CodeConnShut
	case errors.As(err, &certErr), errors.As(err, &unkAuth), errors.As(err, &hostErr), errors.As(err, &invalid):
		return nanoact.CodePeerAuth
	case errors.As(err, &recErr), errors.As(err, &alertErr):
		return nanoact.CodeCrypto
	case errors.As(err, &opErr) && (opErr.Op == "remote error" || opErr.Op == "local error"):
		// A TLS alert received from the peer (it refused our certificate,
		// say) or sent to it: crypto/tls wraps its unexported alert type
		// in a net.OpError with one of these two Ops. NNG (Mbed TLS)
		// reports a fatal alert as a cryptographic error.
		return nanoact.CodeCrypto
	case errors.As(err, &dnsErr), errors.As(err, &addrErr):
		return nanoact.CodeAddrInvalid
	case errors.As(err, &netErr) && netErr.Timeout():
		return nanoact.CodeTimedOut
	}
	return nanoact.CodeInternal
}

// Wrap returns err as a *nanoact.Error carrying its NNG code and op. An
// error that already is a *nanoact.Error keeps its code; op is added when
// it has none. nil stays nil.
func Wrap(err error, op string) error {
	if err == nil {
		return nil
	}
	var ne *nanoact.Error
	if errors.As(err, &ne) {
		if ne.Op != "" || op == "" {
			return err
		}
		return &nanoact.Error{Code: ne.Code, Op: op, Err: ne.Err}
	}
	c := Code(err)
	if _, mangosErr := mangosCode(err); mangosErr && errors.Unwrap(err) == nil {
		// mangos' text adds nothing to the NNG text.
		return &nanoact.Error{Code: c, Op: op}
	}
	return &nanoact.Error{Code: c, Op: op, Err: err}
}

// mangosCode finds a mangos sentinel in err's chain. It compares with
// errors.Is rather than indexing the map with err, whose dynamic type may
// not be comparable.
func mangosCode(err error) (nanoact.Code, bool) {
	for sentinel, c := range mangosCodes {
		if errors.Is(err, sentinel) {
			return c, true
		}
	}
	return 0, false
}
