package transport

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"syscall"

	"github.com/nanoact/nanoact"
)

// errnoCode is NNG's nni_plat_errnos table (posix_debug.c): the NNG code
// for an operating-system error. ok is false for errnos NNG does not list,
// which become CodeSysErr|errno as in NNG.
func errnoCode(e syscall.Errno) (c nanoact.Code, ok bool) {
	switch e {
	case syscall.EINTR:
		return nanoact.CodeInterrupted, true
	case syscall.EINVAL, syscall.ENAMETOOLONG:
		return nanoact.CodeInvalid, true
	case syscall.ENOMEM, syscall.ENOBUFS:
		return nanoact.CodeNoMemory, true
	case syscall.EACCES, syscall.EPERM:
		return nanoact.CodePermission, true
	case syscall.EADDRINUSE:
		return nanoact.CodeAddrInUse, true
	case syscall.EADDRNOTAVAIL:
		return nanoact.CodeAddrInvalid, true
	case syscall.EAFNOSUPPORT, syscall.ENOPROTOOPT, syscall.ENOSYS, syscall.ENOTSUP, syscall.EPROTONOSUPPORT:
		return nanoact.CodeNotSupported, true
	case syscall.EAGAIN:
		return nanoact.CodeTryAgain, true
	case syscall.EBADF, syscall.EPIPE:
		return nanoact.CodeClosed, true
	case syscall.EBUSY:
		return nanoact.CodeBusy, true
	case syscall.ECONNABORTED:
		return nanoact.CodeConnAborted, true
	case syscall.ECONNREFUSED:
		return nanoact.CodeConnRefused, true
	case syscall.ECONNRESET:
		return nanoact.CodeConnReset, true
	case syscall.EHOSTUNREACH, syscall.ENETUNREACH:
		return nanoact.CodeUnreachable, true
	case syscall.ENOENT:
		return nanoact.CodeNotFound, true
	case syscall.EPROTO:
		return nanoact.CodeProtocol, true
	case syscall.ETIMEDOUT:
		return nanoact.CodeTimedOut, true
	case syscall.ENOSPC, syscall.EFBIG, syscall.EDQUOT:
		return nanoact.CodeNoSpace, true
	case syscall.ENFILE, syscall.EMFILE:
		return nanoact.CodeNoFiles, true
	case syscall.EEXIST:
		return nanoact.CodeExists, true
	}
	return 0, false
}

// codeOf maps an error from the net, os or syscall packages to the code
// NNG reports for the same failure.
func codeOf(err error) nanoact.Code {
	var ne *nanoact.Error
	if errors.As(err, &ne) {
		return ne.Code
	}
	switch {
	case errors.Is(err, net.ErrClosed):
		return nanoact.CodeClosed
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return nanoact.CodeTimedOut
	case errors.Is(err, context.Canceled):
		return nanoact.CodeCanceled
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return nanoact.CodeConnShut
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		switch {
		case dns.IsTimeout:
			return nanoact.CodeTimedOut
		case dns.IsTemporary && !dns.IsNotFound:
			return nanoact.CodeTryAgain
		}
		return nanoact.CodeAddrInvalid
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if c, ok := errnoCode(errno); ok {
			return c
		}
		return nanoact.CodeSysErr | nanoact.Code(errno)
	}
	var ae *net.AddrError
	if errors.As(err, &ae) {
		return nanoact.CodeAddrInvalid
	}
	var un net.UnknownNetworkError
	if errors.As(err, &un) {
		return nanoact.CodeNotSupported
	}
	var te interface{ Timeout() bool }
	if errors.As(err, &te) && te.Timeout() {
		return nanoact.CodeTimedOut
	}
	return nanoact.CodeInternal
}

// wrapErr returns err as a *nanoact.Error with operation op, keeping err
// as the cause so that errors.Is(err, syscall.ECONNREFUSED) still holds.
func wrapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if ne, ok := err.(*nanoact.Error); ok {
		return ne // already classified; keep its operation
	}
	return &nanoact.Error{Code: codeOf(err), Op: op, Err: err}
}

func isErrno(err error, e syscall.Errno) bool {
	var errno syscall.Errno
	return errors.As(err, &errno) && errno == e
}

// DialCause returns err for an error whose operation already names the
// URL: a *net.OpError of a dial ("dial tcp 127.0.0.1:1: connect:
// connection refused") then prints only its cause ("connect: connection
// refused"), so that the address is not given twice, while errors.Is and
// errors.As still reach the *net.OpError and what it wraps. Other errors
// are returned as they are.
func DialCause(err error) error {
	if oe, ok := err.(*net.OpError); ok && oe.Op == "dial" && oe.Err != nil {
		return dialCause{oe}
	}
	return err
}

type dialCause struct{ oe *net.OpError }

func (e dialCause) Error() string { return e.oe.Err.Error() }
func (e dialCause) Unwrap() error { return e.oe }
