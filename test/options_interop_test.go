package test

import (
	"bytes"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/testkit"
	"github.com/nanoact/nanoact/sockets"
)

// recv-size-max against nngcat: an oversize message from nngcat closes
// that connection only and is counted; a small one gets through.
func TestRecvSizeMaxInterop(t *testing.T) {
	testkit.Nngcat(t)
	t.Parallel()
	pull := open(t, sockets.Pull, sockets.WithRecvSizeMax(100))
	l, err := pull.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	big := startNngcat(t, nil, args("--push", "--dial", l.URL(), "--data", string(bytes.Repeat([]byte("x"), 200)), "--count", 1)...)
	eventually(t, "oversize counted", func() bool {
		n, _ := pull.Stat("oversize")
		return n == 1
	})
	big.Stop()
	small := startNngcat(t, nil, args("--push", "--dial", l.URL(), "--data", "small", "--count", 1)...)
	ctx := ctxT(t)
	wantBytes(t, "small message", recvFrom(t, ctx, pull, small), []byte("small"))
	if _, err := pull.Recv(sockets.NonBlock(ctx)); err == nil {
		t.Fatal("the oversize message was delivered")
	}
}

// surveyor:survey-time against an nngcat respondent: its answer arrives
// within the survey, then the survey times out.
func TestSurveyTimeInterop(t *testing.T) {
	testkit.Nngcat(t)
	t.Parallel()
	sur := open(t, sockets.Surveyor)
	if err := sockets.Set(sur, sockets.SurveyTime, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	l, err := sur.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cat := startNngcat(t, nil, args("--respondent", "--dial", l.URL(), "--raw", "--data", "here")...)
	waitPipes(t, sur, 1)
	ctx := ctxT(t)
	if err := sur.Send(ctx, "roll call", sockets.Raw); err != nil {
		t.Fatal(err)
	}
	wantBytes(t, "answer", recvFrom(t, ctx, sur, cat), []byte("here"))
	start := time.Now()
	_, err = sur.Recv(ctx)
	wantCode(t, err, nanoact.ErrTimedOut)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("survey ended after %v", d)
	}
}
