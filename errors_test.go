package nanoact_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"go.uber.org/goleak"

	"github.com/nanoact/nanoact"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestCodeText(t *testing.T) {
	cases := []struct {
		c    nanoact.Code
		want string
	}{
		{nanoact.CodeOK, "0 | Hunky dory"},
		{nanoact.CodeTimedOut, "5 | Timed out"},
		{nanoact.CodeTryAgain, "8 | Try again"},
		{nanoact.CodeState, "11 | Incorrect state"},
		{nanoact.CodeCanceled, "20 | Operation canceled"},
		{nanoact.CodePeerAuth, "27 | Peer could not be authenticated"},
		{nanoact.CodeConnShut, "31 | Connection shutdown"},
		{nanoact.CodeInternal, "1000 | Internal error detected"},
		{nanoact.CodeTranErr | 3, "536870915 | Transport error #3"},
		{nanoact.CodeSysErr | 2, "268435458 | System error #2"},
		{77, "77 | Unknown error #77"},
	}
	for _, c := range cases {
		if got := c.c.String(); got != c.want {
			t.Errorf("Code(%d).String() = %q, want %q", int(c.c), got, c.want)
		}
	}
	// Every code 0..31 has NNG's text, not a fallback.
	for c := nanoact.Code(0); c <= 31; c++ {
		if txt := c.Text(); len(txt) == 0 || txt[:4] == "Unkn" {
			t.Errorf("code %d has no text", c)
		}
	}
}

func TestErrorIsAndAs(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", &nanoact.Error{Code: nanoact.CodeTimedOut, Op: "sockets: recv"})
	if !errors.Is(err, nanoact.ErrTimedOut) || errors.Is(err, nanoact.ErrClosed) {
		t.Fatal("errors.Is does not compare codes")
	}
	var ne *nanoact.Error
	if !errors.As(err, &ne) || ne.Code != nanoact.CodeTimedOut || !ne.Timeout() || !ne.Temporary() {
		t.Fatalf("errors.As: %v", ne)
	}
	if got := ne.Error(); got != "sockets: recv: 5 | Timed out" {
		t.Fatalf("Error() = %q", got)
	}
	if nanoact.ErrClosed.Error() != "7 | Object closed" {
		t.Fatalf("sentinel text %q", nanoact.ErrClosed.Error())
	}
	e := nanoact.Errorf(nanoact.CodeInvalid, "op", "bad %s", "thing")
	if e.Error() != "op: 3 | Invalid argument: bad thing" || !errors.Is(e, nanoact.ErrInvalid) {
		t.Fatalf("Errorf: %v", e)
	}
}

func TestFromContext(t *testing.T) {
	if nanoact.FromContext(context.Background(), "x") != nil {
		t.Fatal("live context gave an error")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 0)
	defer cancel()
	<-ctx.Done()
	err := nanoact.FromContext(ctx, "wait")
	if !errors.Is(err, nanoact.ErrTimedOut) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deadline: %v", err)
	}
	cctx, ccancel := context.WithCancel(context.Background())
	ccancel()
	err = nanoact.FromContext(cctx, "wait")
	if !errors.Is(err, nanoact.ErrCanceled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancel: %v", err)
	}
	for _, c := range []struct {
		err  error
		want nanoact.Code
	}{
		{nil, nanoact.CodeOK},
		{err, nanoact.CodeCanceled},
		{context.DeadlineExceeded, nanoact.CodeTimedOut},
		{errors.New("other"), nanoact.CodeInternal},
		{&nanoact.ConvertError{Mode: "double"}, nanoact.CodeInternal},
	} {
		if got := nanoact.CodeOf(c.err); got != c.want {
			t.Errorf("CodeOf(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestConvertError(t *testing.T) {
	var err error = &nanoact.ConvertError{Mode: "double", Data: []byte{1, 2, 3}}
	if !errors.Is(err, nanoact.ErrBadType) {
		t.Fatal("ConvertError does not match ErrBadType")
	}
	if err.Error() != "received data could not be converted to double" {
		t.Fatalf("text %q", err.Error())
	}
	if (&nanoact.ConvertError{Mode: "string"}).Error() != "data could not be converted to a character string" {
		t.Fatal("string text")
	}
}

func ExampleError() {
	err := fmt.Errorf("request failed: %w", &nanoact.Error{Code: nanoact.CodeTimedOut, Op: "sockets: recv"})
	fmt.Println(errors.Is(err, nanoact.ErrTimedOut))
	var ne *nanoact.Error
	if errors.As(err, &ne) {
		fmt.Println(int(ne.Code), ne.Code.Text())
	}
	fmt.Println(err)
	// Output:
	// true
	// 5 Timed out
	// request failed: sockets: recv: 5 | Timed out
}

// TestConvertErrorNamesOpTypeCause checks that a ConvertError says which
// operation failed and which Go type was asked for, and that its cause is
// reachable through errors.As and errors.Is.
func TestConvertErrorNamesOpTypeCause(t *testing.T) {
	cause := &nanoact.Error{Code: nanoact.CodeBadType, Op: "codec: unmarshal", Err: errors.New("cbor: bad")}
	var err error = &nanoact.ConvertError{Mode: "serial", Op: "sockets: recv", Type: "map[string]int", Err: cause}
	want := "sockets: recv: received data could not be unserialized (want map[string]int): codec: unmarshal: 30 | Incorrect type: cbor: bad"
	if err.Error() != want {
		t.Fatalf("text %q, want %q", err.Error(), want)
	}
	var e *nanoact.Error
	if !errors.As(err, &e) || e != cause {
		t.Fatalf("errors.As did not reach the cause: %v", e)
	}
	if errors.Unwrap(err) != cause || !errors.Is(err, nanoact.ErrBadType) {
		t.Fatal("Unwrap or Is")
	}
}
