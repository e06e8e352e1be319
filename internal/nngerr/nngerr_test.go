package nngerr_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	mangoserr "go.nanomsg.org/mangos/v3/errors"
	"go.uber.org/goleak"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/nngerr"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestCode(t *testing.T) {
	cases := []struct {
		err  error
		want nanoact.Code
	}{
		{nil, nanoact.CodeOK},
		{nanoact.ErrTimedOut, nanoact.CodeTimedOut},
		{mangoserr.ErrClosed, nanoact.CodeClosed},
		{fmt.Errorf("wrapped: %w", mangoserr.ErrProtoState), nanoact.CodeState},
		{mangoserr.ErrTooLong, nanoact.CodeMsgSize},
		{&net.OpError{Op: "dial", Err: &net.AddrError{Err: "x"}}, nanoact.CodeAddrInvalid},
		{&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, nanoact.CodeConnRefused},
		{syscall.EADDRINUSE, nanoact.CodeAddrInUse},
		{syscall.Errno(200), nanoact.CodeSysErr | 200},
		{context.DeadlineExceeded, nanoact.CodeTimedOut},
		{context.Canceled, nanoact.CodeCanceled},
		{net.ErrClosed, nanoact.CodeClosed},
		{io.EOF, nanoact.CodeConnShut},
		{errors.New("something else"), nanoact.CodeInternal},
	}
	for _, c := range cases {
		if got := nngerr.Code(c.err); got != c.want {
			t.Errorf("Code(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestWrap(t *testing.T) {
	if nngerr.Wrap(nil, "op") != nil {
		t.Fatal("nil wrapped")
	}
	err := nngerr.Wrap(mangoserr.ErrClosed, "sockets: send")
	if err.Error() != "sockets: send: 7 | Object closed" || !errors.Is(err, nanoact.ErrClosed) {
		t.Fatalf("mangos error: %v", err)
	}
	err = nngerr.Wrap(syscall.ECONNREFUSED, "dial")
	if !errors.Is(err, nanoact.ErrConnRefused) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("cause lost: %v", err)
	}
	// An *Error keeps its code and gets the op it lacked.
	err = nngerr.Wrap(&nanoact.Error{Code: nanoact.CodeState}, "recv")
	if err.Error() != "recv: 11 | Incorrect state" {
		t.Fatalf("%v", err)
	}
	orig := &nanoact.Error{Code: nanoact.CodeState, Op: "inner"}
	if nngerr.Wrap(orig, "outer") != error(orig) {
		t.Fatal("an error with an op was rewrapped")
	}
}
