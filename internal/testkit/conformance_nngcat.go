package testkit

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/sockets"
)

// The conformance cases C NNG can take part in: nngcat (NNG 1.5.2 in
// Debian's nng-utils) is the peer, over the transports it speaks, and
// the checks are those of ConfCases that a peer can see: the first
// non-blocking send after a synchronous dial, state errors beside a C
// peer, ordering and exact bytes (NULs and 0xff included) both ways.

// nngProcLimit bounds every nngcat process: it is killed when it runs out.
const nngProcLimit = 20 * time.Second

// NngLink is a Link whose peer is nngcat.
type NngLink struct {
	*Link
	bin string
	// cert and key are the Link's TLS certificate and key in files, for
	// nngcat's --cacert, --cert and --key (TLS only).
	cert, key string
}

// NngCase is one conformance case with nngcat as the peer.
type NngCase struct {
	// Name is "<protocols>/<who dials>/<what>".
	Name string
	Run  func(t *testing.T, n *NngLink)
}

// NngTransports returns the transports of ConfTransports that nngcat
// speaks: ipc, tcp, ws, tls+tcp and wss.
func NngTransports() []ConfTransport {
	var trs []ConfTransport
	for _, tr := range ConfTransports() {
		if tr.Name != "inproc" && tr.Name != "abstract" {
			trs = append(trs, tr)
		}
	}
	return trs
}

// RunNngcatConformance runs every case of NngCases over every transport of
// NngTransports, as subtests "<transport>/<case>"; transports run in
// parallel. Without nngcat it skips, or fails under CI (see Nngcat).
func RunNngcatConformance(t *testing.T) {
	bin := Nngcat(t)
	for _, tr := range NngTransports() {
		t.Run(tr.Name, func(t *testing.T) {
			t.Parallel()
			for _, c := range NngCases() {
				t.Run(c.Name, func(t *testing.T) { c.Run(t, newNngLink(t, tr, bin)) })
			}
		})
	}
}

func newNngLink(t *testing.T, tr ConfTransport, bin string) *NngLink {
	t.Helper()
	n := &NngLink{Link: NewLink(t, tr), bin: bin}
	if tr.TLS {
		dir := t.TempDir()
		n.cert, n.key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		if err := os.WriteFile(n.cert, n.certPEM, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(n.key, n.keyPEM, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// NngDials makes s listen and returns nngcat's arguments to dial it.
func (n *NngLink) NngDials(s *sockets.Socket) []string {
	n.t.Helper()
	args := []string{"--dial", n.Listen(s)}
	if n.tr.TLS {
		args = append(args, "--cacert", n.cert)
	}
	return args
}

// NngListens returns nngcat's arguments to listen on a fresh URL, and
// that URL for our side to dial (see DialNngcat).
func (n *NngLink) NngListens() (args []string, url string) {
	n.t.Helper()
	switch n.tr.Name {
	case "ipc":
		url = "ipc://" + IPCPath(n.t)
	case "tcp", "tls+tcp":
		url = n.tr.Name + "://127.0.0.1:" + FreePort(n.t)
	default: // ws, wss
		url = n.tr.Name + "://127.0.0.1:" + FreePort(n.t) + "/conf"
	}
	args = []string{"--listen", url}
	if n.tr.TLS {
		args = append(args, "--cert", n.cert, "--key", n.key)
	}
	return args, url
}

// DialNngcat dials url, where nngcat cat is starting to listen, from s
// synchronously: it retries every 10 ms while the dial fails and cat
// runs (nngcat says nothing once it listens, so there is no event to
// wait for), up to confLimit.
func (n *NngLink) DialNngcat(s *sockets.Socket, url string, cat *Proc) {
	n.t.Helper()
	opts := n.endpointOpts(sockets.Sync)
	deadline := time.Now().Add(confLimit)
	for {
		_, err := s.Dial(url, opts...)
		if err == nil {
			return
		}
		if cat.Exited() || time.Now().After(deadline) {
			n.t.Fatalf("%s dial %s: %v; nngcat %s", s.Protocol(), url, err, cat.State())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Nng starts nngcat with args; it is killed after nngProcLimit and at
// cleanup.
func (n *NngLink) Nng(args ...string) *Proc {
	n.t.Helper()
	return Exec(n.t, nngProcLimit, nil, n.bin, args...)
}

// File writes b to a file for nngcat's --file (--data cannot carry a NUL)
// and returns its path.
func (n *NngLink) File(b []byte) string {
	n.t.Helper()
	p := filepath.Join(n.t.TempDir(), "data.bin")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		n.t.Fatal(err)
	}
	return p
}

// nngOutput waits for cat to exit with status 0 and returns its output.
func nngOutput(t *testing.T, cat *Proc) []byte {
	t.Helper()
	if _, err := cat.Wait(t, nngProcLimit+5*time.Second); err != nil {
		t.Fatalf("nngcat %s: %v; %s", cat, err, cat.State())
	}
	return cat.Out.Bytes()
}

// wantOutput fails the test unless got is want, byte for byte.
func wantOutput(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: got %q, want %q", what, got, want)
	}
}

// seqRun is messages 0..n-1 of seqMsg, and their concatenation as nngcat
// --raw prints them.
func seqRun(n int) (msgs [][]byte, printed []byte) {
	for i := range n {
		msgs = append(msgs, seqMsg(i))
	}
	return msgs, bytes.Join(msgs, nil)
}

// sendSeq sends msgs on s in raw mode: the first without blocking (it
// must succeed right after a synchronous dial, as in C NNG), the rest
// blocking.
func sendSeq(t *testing.T, s *sockets.Socket, msgs [][]byte) {
	t.Helper()
	ctx := CtxT(t)
	for i, m := range msgs {
		c := ctx
		if i == 0 {
			c = sockets.NonBlock(ctx)
		}
		if err := s.Send(c, m, sockets.Raw); err != nil {
			t.Fatalf("%s send %d (non-blocking: %v): %v", s.Protocol(), i, i == 0, err)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// exotic is a payload with the bytes a text path would mangle.
var exotic = []byte("q\x00\x01\xfe\xff\x00end")

// NngCases returns the nngcat conformance table.
func NngCases() []NngCase {
	const n = 10
	cs := []NngCase{
		{"push-pull/go-dials/first-send-and-order", func(t *testing.T, k *NngLink) {
			args, url := k.NngListens()
			cat := k.Nng(slices.Concat([]string{"--pull0"}, args, []string{"--raw", "--count", itoa(n), "--recv-timeout", "10"})...)
			push := k.Open(sockets.Push)
			k.DialNngcat(push, url, cat)
			msgs, want := seqRun(n)
			sendSeq(t, push, msgs)
			wantOutput(t, "nngcat pull printed", nngOutput(t, cat), want)
		}},
		{"push-pull/nngcat-dials/exact-bytes", func(t *testing.T, k *NngLink) {
			pull := k.Open(sockets.Pull)
			cat := k.Nng(slices.Concat([]string{"--push0"}, k.NngDials(pull), []string{"--file", k.File(exotic), "--count", "3"})...)
			ctx := CtxT(t)
			for range 3 {
				WantBody(t, ctx, pull, exotic)
			}
			nngOutput(t, cat)
			_, err := pull.Recv(sockets.NonBlock(ctx))
			WantCode(t, "pull receive once nngcat's three are taken", err, nanoact.ErrTryAgain)
		}},
		{"req-rep/go-dials/first-send-state-and-order", func(t *testing.T, k *NngLink) {
			const reqs = 5
			args, url := k.NngListens()
			cat := k.Nng(slices.Concat([]string{"--rep0"}, args, []string{"--raw", "--data", "pong", "--count", itoa(reqs)})...)
			req := k.Open(sockets.Req)
			k.DialNngcat(req, url, cat)
			ctx := CtxT(t)
			_, err := req.Recv(sockets.NonBlock(ctx))
			WantCode(t, "req receive before any request", err, nanoact.ErrState)
			msgs, want := seqRun(reqs)
			for i, m := range msgs {
				sendSeq(t, req, [][]byte{m})
				WantBody(t, ctx, req, []byte("pong"))
				_, err := req.Recv(sockets.NonBlock(ctx))
				WantCode(t, "req receive after reply "+itoa(i), err, nanoact.ErrState)
			}
			wantOutput(t, "requests nngcat rep printed", nngOutput(t, cat), want)
		}},
		{"req-rep/nngcat-dials/state-and-exact-bytes", func(t *testing.T, k *NngLink) {
			rep := k.Open(sockets.Rep)
			ctx := CtxT(t)
			WantCode(t, "rep send before any request", rep.Send(sockets.NonBlock(ctx), []byte("x"), sockets.Raw), nanoact.ErrState)
			cat := k.Nng(slices.Concat([]string{"--req0"}, k.NngDials(rep), []string{"--file", k.File(exotic), "--raw", "--recv-timeout", "10"})...)
			WantBody(t, ctx, rep, exotic)
			answer := append([]byte("a\x00\xff"), bytes.Repeat([]byte{0, 1, 0xff}, 3000)...)
			if err := rep.Send(sockets.NonBlock(ctx), answer, sockets.Raw); err != nil {
				t.Fatalf("rep reply: %v", err)
			}
			WantCode(t, "rep second reply", rep.Send(sockets.NonBlock(ctx), []byte("x"), sockets.Raw), nanoact.ErrState)
			wantOutput(t, "reply nngcat req printed", nngOutput(t, cat), answer)
		}},
		{"req-rep/nngcat-dials/resend", func(t *testing.T, k *NngLink) {
			// nngcat's rep without --data prints requests and never
			// answers: our req sends the same request again every
			// resend time, byte for byte.
			req := k.Open(sockets.Req)
			if err := sockets.Set(req, sockets.ResendTime, 50*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			cat := k.Nng(slices.Concat([]string{"--rep0"}, k.NngDials(req), []string{"--raw"})...)
			WaitPipes(t, req, 1)
			MustSend(t, CtxT(t), req, exotic)
			want := bytes.Repeat(exotic, 3)
			wantOutput(t, "requests nngcat rep printed", cat.WaitOutput(t, len(want), confLimit)[:len(want)], want)
		}},
		{"req-rep/nngcat-dials/failover-to-later-peer", func(t *testing.T, k *NngLink) {
			// The first rep (nngcat printing, never answering) is
			// killed with our request; the second, started afterwards,
			// gets it at once (the resend time, 1 min, plays no part)
			// and answers.
			req := k.Open(sockets.Req)
			dial := k.NngDials(req)
			silent := k.Nng(slices.Concat([]string{"--rep0"}, dial, []string{"--raw"})...)
			WaitPipes(t, req, 1)
			ctx := CtxT(t)
			MustSend(t, ctx, req, exotic)
			silent.WaitOutput(t, len(exotic), confLimit)
			silent.Stop()
			WaitPipes(t, req, 0)
			answering := k.Nng(slices.Concat([]string{"--rep0"}, dial, []string{"--raw", "--data", "pong", "--count", "1"})...)
			WantBody(t, ctx, req, []byte("pong"))
			wantOutput(t, "request the second nngcat rep printed", nngOutput(t, answering), exotic)
		}},
		{"pub-sub/go-dials/first-sends-and-order", func(t *testing.T, k *NngLink) {
			args, url := k.NngListens()
			cat := k.Nng(slices.Concat([]string{"--sub0"}, args, []string{"--subscribe", "m", "--raw", "--count", itoa(n), "--recv-timeout", "10"})...)
			pub := k.Open(sockets.Pub)
			k.DialNngcat(pub, url, cat)
			msgs, want := seqRun(n)
			// n is below a subscriber's queue (16): nothing is dropped.
			sendSeq(t, pub, append([][]byte{[]byte("not the topic")}, msgs...))
			wantOutput(t, "nngcat sub printed", nngOutput(t, cat), want)
		}},
		{"pub-sub/nngcat-dials/order", func(t *testing.T, k *NngLink) {
			pub := k.Open(sockets.Pub)
			cat := k.Nng(slices.Concat([]string{"--sub0"}, k.NngDials(pub), []string{"--subscribe", "m", "--raw", "--count", itoa(n), "--recv-timeout", "10"})...)
			WaitPipes(t, pub, 1)
			msgs, want := seqRun(n)
			sendSeq(t, pub, msgs)
			wantOutput(t, "nngcat sub printed", nngOutput(t, cat), want)
		}},
		{"surveyor-respondent/go-dials/state-first-send-and-bytes", func(t *testing.T, k *NngLink) {
			args, url := k.NngListens()
			cat := k.Nng(slices.Concat([]string{"--respondent0"}, args, []string{"--raw", "--data", "present", "--count", "1"})...)
			sv := k.Open(sockets.Surveyor)
			if err := sv.SetSurveyTime(confLimit); err != nil {
				t.Fatal(err)
			}
			ctx := CtxT(t)
			_, err := sv.Recv(sockets.NonBlock(ctx))
			WantCode(t, "surveyor receive with no survey", err, nanoact.ErrState)
			k.DialNngcat(sv, url, cat)
			sendSeq(t, sv, [][]byte{exotic})
			WantBody(t, ctx, sv, []byte("present"))
			wantOutput(t, "survey nngcat respondent printed", nngOutput(t, cat), exotic)
		}},
		{"surveyor-respondent/nngcat-dials/state-and-exact-bytes", func(t *testing.T, k *NngLink) {
			resp := k.Open(sockets.Respondent)
			ctx := CtxT(t)
			WantCode(t, "respondent send before any survey", resp.Send(sockets.NonBlock(ctx), []byte("x"), sockets.Raw), nanoact.ErrState)
			// One survey, open 10 s: nngcat prints the answer, then
			// waits for more until the survey ends; it is stopped.
			cat := k.Nng(slices.Concat([]string{"--surveyor0"}, k.NngDials(resp), []string{"--file", k.File(exotic), "--raw", "--count", "1", "--interval", "10"})...)
			WantBody(t, ctx, resp, exotic)
			answer := []byte("here\x00\xff")
			if err := resp.Send(sockets.NonBlock(ctx), answer, sockets.Raw); err != nil {
				t.Fatalf("respondent answer: %v", err)
			}
			WantCode(t, "respondent second answer", resp.Send(sockets.NonBlock(ctx), []byte("x"), sockets.Raw), nanoact.ErrState)
			wantOutput(t, "answer nngcat surveyor printed", cat.WaitOutput(t, len(answer), confLimit), answer)
		}},
	}
	for _, pp := range []struct {
		proto sockets.Protocol
		flag  string
	}{{sockets.Pair, "--pair0"}, {sockets.Poly, "--pair1"}} {
		name := pp.proto.String() + "-" + strings.TrimPrefix(pp.flag, "--")
		cs = append(cs, NngCase{name + "/go-dials/first-send-and-order", func(t *testing.T, k *NngLink) {
			args, url := k.NngListens()
			cat := k.Nng(slices.Concat([]string{pp.flag}, args, []string{"--raw", "--recv-timeout", "10"})...)
			s := k.Open(pp.proto)
			k.DialNngcat(s, url, cat)
			msgs, want := seqRun(n)
			sendSeq(t, s, msgs)
			wantOutput(t, "nngcat "+pp.flag+" printed", cat.WaitOutput(t, len(want), confLimit), want)
		}})
		cs = append(cs, NngCase{name + "/nngcat-dials/first-send-and-exact-bytes", func(t *testing.T, k *NngLink) {
			s := k.Open(pp.proto)
			cat := k.Nng(slices.Concat([]string{pp.flag}, k.NngDials(s), []string{"--file", k.File(exotic), "--raw", "--recv-timeout", "10"})...)
			ctx := CtxT(t)
			WantBody(t, ctx, s, exotic)
			msgs, want := seqRun(n)
			sendSeq(t, s, msgs)
			wantOutput(t, "nngcat "+pp.flag+" printed", cat.WaitOutput(t, len(want), confLimit), want)
		}})
	}
	return cs
}
