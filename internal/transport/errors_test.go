package transport_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/transport"
)

func TestCodeOf(t *testing.T) {
	op := func(err error) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", err)}
	}
	cases := []struct {
		err  error
		want nanoact.Code
	}{
		{op(syscall.ECONNREFUSED), nanoact.CodeConnRefused},
		{op(syscall.EHOSTUNREACH), nanoact.CodeUnreachable},
		{op(syscall.ENETUNREACH), nanoact.CodeUnreachable},
		{op(syscall.EACCES), nanoact.CodePermission},
		{op(syscall.EPERM), nanoact.CodePermission},
		{op(syscall.EADDRINUSE), nanoact.CodeAddrInUse},
		{op(syscall.EADDRNOTAVAIL), nanoact.CodeAddrInvalid},
		{op(syscall.ECONNRESET), nanoact.CodeConnReset},
		{op(syscall.ETIMEDOUT), nanoact.CodeTimedOut},
		{op(syscall.EMFILE), nanoact.CodeNoFiles},
		{op(syscall.ENOENT), nanoact.CodeNotFound},
		{op(syscall.Errno(0x7ff)), nanoact.CodeSysErr | 0x7ff},
		{os.ErrDeadlineExceeded, nanoact.CodeTimedOut},
		{fmt.Errorf("read: %w", io.EOF), nanoact.CodeConnShut},
		{net.ErrClosed, nanoact.CodeClosed},
		{context.Canceled, nanoact.CodeCanceled},
		{&net.DNSError{Err: "no such host", IsNotFound: true}, nanoact.CodeAddrInvalid},
		{&net.DNSError{Err: "server misbehaving", IsTemporary: true}, nanoact.CodeTryAgain},
		{&net.AddrError{Err: "missing port"}, nanoact.CodeAddrInvalid},
		{nanoact.ErrBusy, nanoact.CodeBusy},
	}
	for _, c := range cases {
		if got := transport.CodeOf(c.err); got != c.want {
			t.Errorf("CodeOf(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
