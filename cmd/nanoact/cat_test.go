package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nanoact/nanoact/internal/testkit"
	"github.com/nanoact/nanoact/sockets"
)

func TestCatArgs(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []catArg
		err  string
	}{
		{"prefixes", []string{"--req", "--surv", "--respondent", "--bus", "--push", "--pul"},
			[]catArg{{opt: catReq0}, {opt: catSurvey0}, {opt: catRespond0}, {opt: catBus0}, {opt: catPush0}, {opt: catPull0}}, ""},
		{"exact names win over prefixes", []string{"--sub", "--pair", "--dial", "u", "--key", "k"},
			[]catArg{{opt: catSub0}, {opt: catPair}, {catDial, "u"}, {catKeyFile, "k"}}, ""},
		{"value forms", []string{"--data=a=b", "--listen:ipc:///x", "--connect", "tcp://h:1", "-Dxyz", "-D", "", "--bind", "b"},
			[]catArg{{catData, "a=b"}, {catListen, "ipc:///x"}, {catDial, "tcp://h:1"}, {catData, "xyz"}, {catData, ""}, {catListen, "b"}}, ""},
		{"aliases", []string{"-L", "1", "-l", "2", "-X", "p", "-x", "q", "-C", "3", "-i", "1", "-d", "2", "-Z", "9", "-q", "-v", "-A", "-Q", "-k", "-E", "c", "-F", "f", "-V", "-h"},
			[]catArg{{catListenLocal, "1"}, {catDialLocal, "2"}, {catListenIPC, "p"}, {catDialIPC, "q"}, {catCount, "3"}, {catInterval, "1"},
				{catDelay, "2"}, {catRecvMaxSz, "9"}, {opt: catSilent}, {opt: catVerbose}, {opt: catASCII}, {opt: catQuoted},
				{opt: catInsecure}, {catCertFile, "c"}, {catFile, "f"}, {opt: catVersion}, {opt: catHelp}}, ""},
		{"parsing stops at a non-option", []string{"--pull", "extra", "--ascii"}, []catArg{{opt: catPull0}}, ""},
		{"parsing stops at -", []string{"--pull", "-", "--ascii"}, []catArg{{opt: catPull0}}, ""},
		{"ambiguous", []string{"--re"}, nil, "option --re is ambiguous (specify in full)"},
		{"double dash alone is ambiguous", []string{"--"}, nil, "option -- is ambiguous"},
		{"unknown", []string{"--frobnicate"}, nil, "option --frobnicate is invalid"},
		{"unknown short", []string{"-z"}, nil, "option -z is invalid"},
		{"value on a flag", []string{"--ascii=yes"}, nil, "option --ascii=yes is invalid"},
		{"no clustering", []string{"-Av"}, nil, "option -Av is invalid"},
		{"missing value", []string{"--data"}, nil, "option --data requires argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseCatArgs(tc.args)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestCatConfig(t *testing.T) {
	cfg, err := parseCatConfig([]string{"--pair", "-l", "5555", "-X", "/tmp/x.ipc", "--bind", "ws://h:1/p",
		"-d", "0.25", "-i", "2", "--recv-timeout", ".5", "--send-timeout", "3.", "-Z", "0", "--format", "serial", "-D", "hi"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := &catConfig{
		proto: catPair1,
		addrs: []catAddr{{false, "tcp://127.0.0.1:5555"}, {true, "ipc:////tmp/x.ipc"}, {true, "ws://h:1/p"}},
		delay: 250 * time.Millisecond, interval: 2 * time.Second, recvTimeout: 500 * time.Millisecond, sendTimeout: 3 * time.Second,
		recvMaxSz: 1<<31 - 1, format: formatSerial, data: []byte("hi"), hasData: true,
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("got %+v\nwant %+v", cfg, want)
	}
	cfg, err = parseCatConfig([]string{"--pair", "--compat", "--connect", "u"}, nil)
	if err != nil || cfg.proto != catPair0 || !cfg.async {
		t.Fatalf("--pair --compat: %+v, %v; want pair0, async", cfg, err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "data")
	if err := os.WriteFile(file, []byte("from\x00file"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err = parseCatConfig([]string{"--push", "--dial", "u", "-F", file}, nil)
	if err != nil || string(cfg.data) != "from\x00file" {
		t.Fatalf("--file: %q, %v", cfg.data, err)
	}
	cfg, err = parseCatConfig([]string{"--push", "--dial", "u", "--file", "-"}, strings.NewReader("from stdin\n"))
	if err != nil || string(cfg.data) != "from stdin\n" {
		t.Fatalf("--file -: %q, %v", cfg.data, err)
	}
	cfg, err = parseCatConfig([]string{"--sub", "--dial", "u"}, nil)
	if err != nil || cfg.format != formatUnset || cfg.interval >= 0 || cfg.recvMaxSz >= 0 || cfg.hasTopics {
		t.Fatalf("defaults: %+v, %v", cfg, err)
	}
}

// TestCatUsageErrors checks nngcat's refusals, in nngcat's words, with
// exit status 2 and nothing on standard output.
func TestCatUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--req0", "--data", "x"}, "no address specified"},
		{[]string{"--dial", "tcp://127.0.0.1:1"}, "no protocol specified"},
		{[]string{"--req0", "--rep0", "--dial", "u"}, "only one protocol may be specified"},
		{[]string{"--pull", "--ascii", "--quoted", "--dial", "u"}, "format may be specified only once"},
		{[]string{"--pull", "--format", "yaml", "--dial", "u"}, "invalid format specified"},
		{[]string{"--push", "--data", "a", "--data", "b", "--dial", "u"}, "may be specified only once"},
		{[]string{"--pull", "--data", "a", "--dial", "u"}, "protocol does not support --file or --data"},
		{[]string{"--sub", "--interval", "1", "--dial", "u"}, "protocol does not support --interval"},
		{[]string{"--rep", "--interval", "1", "--dial", "u"}, "protocol does not support --interval"},
		{[]string{"--push", "--data", "a", "--ascii", "--dial", "u"}, "protocol does not support --format options"},
		{[]string{"--pub", "--dial", "u"}, "protocol requires either --file or --data"},
		{[]string{"--req", "--dial", "u"}, "protocol requires either --file or --data"},
		{[]string{"--surveyor", "--dial", "u"}, "protocol requires either --file or --data"},
		{[]string{"--bus", "--interval", "1", "--dial", "u"}, "option --interval requires either --file or --data"},
		{[]string{"--req", "--data", "a", "--subscribe", "oops", "--dial", "u"}, "protocol does not support --subscribe"},
		{[]string{"--compat", "--async", "--pair0", "--dial", "u"}, "options --async and --compat are incompatible"},
		{[]string{"--compat", "--count=1", "--pair0", "--dial", "u"}, "options --count and --compat are incompatible"},
		{[]string{"--compat", "--pair1", "--dial", "u"}, "protocol does not support --compat"},
		{[]string{"--count=xyz", "--pair0", "--dial", "u"}, "integer argument expected"},
		{[]string{"--count=", "--pair0", "--dial", "u"}, "empty integer argument"},
		{[]string{"-l", "70000", "--pair0"}, "integer argument too large"},
		{[]string{"--delay", "1e3", "--pair0", "--dial", "u"}, "number of seconds expected"},
		{[]string{"--interval", "86400.5", "--pair0", "--dial", "u"}, "too large"},
		{[]string{"--re", "--dial", "u"}, "option --re is ambiguous (specify in full)"},
		{[]string{"--req0", "--zzz"}, "option --zzz is invalid"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, out, errOut := execCat(t, nil, tc.args...)
			if code != 2 || out != "" || !strings.HasPrefix(errOut, "nanoact: cat: ") || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 2, nothing, %q", code, out, errOut, tc.want)
			}
		})
	}
}

// TestCatRunErrors checks failures of the work asked for: exit status 1
// with the reason on standard error.
func TestCatRunErrors(t *testing.T) {
	closed := "tcp://" + catFreePort(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"connection refused", []string{"--req0", "--dial", closed, "-D", "x"}, []string{"dial " + closed, "6 | Connection refused"}},
		{"unknown transport", []string{"--pull", "--dial", "carrier-pigeon://x"}, []string{"9 | Not supported"}},
		{"address in use", []string{"--pull", "--listen", "tcp://127.0.0.1:0", "--listen", "tcp://" + busy.Addr().String()}, []string{"listen tcp://" + busy.Addr().String(), "10 | Address in use"}},
		{"missing file", []string{"--push", "--dial", "u", "--file", "/no/such/file"}, []string{"cannot open file /no/such/file"}},
		{"tls listener without a certificate", []string{"--pull", "--listen", "tls+tcp://127.0.0.1:0"}, []string{"unable to configure TLS", "needs a certificate", "--cert FILE", "--key FILE"}},
		{"wss listener without a certificate", []string{"--pull", "--listen", "wss://127.0.0.1:0/x"}, []string{"needs a certificate", "--cert FILE"}},
		{"bad CA file", []string{"--req", "-D", "x", "--cacert", "/dev/null", "--dial", "tls+tcp://127.0.0.1:1"}, []string{"unable to configure TLS"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := execCat(t, nil, tc.args...)
			if code != 1 || out != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 1", code, out, errOut)
			}
			if strings.Contains(errOut, "TLSCert") {
				t.Errorf("stderr %q names the Go API, not the flags", errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr %q lacks %q", errOut, w)
				}
			}
		})
	}
}

func TestCatFormats(t *testing.T) {
	body := []byte("a\tb\n\x01\xff\"\\ \x7f\r")
	for _, tc := range []struct {
		f    catFormat
		want string
	}{
		// As nngcat 1.5.2 prints body (checked by running it).
		{formatUnset, ""},
		{formatNo, ""},
		{formatRaw, string(body)},
		{formatASCII, "a.b...\"\\ .."},
		{formatQuoted, `"a\tb\n\x01\xff\"\\ \x7f\r"` + "\n"},
		{formatHex, `"\x61\x09\x62\x0a\x01\xff\x22\x5c\x20\x7f\x0d"` + "\n"},
		{formatMsgpack, "\xc4\x0b" + string(body)},
	} {
		if got := string(appendCatFormat(nil, tc.f, body)); got != tc.want {
			t.Errorf("format %d: got %q, want %q", tc.f, got, tc.want)
		}
	}
	for _, tc := range []struct {
		n    int
		want string
	}{{0, "\xc4\x00"}, {255, "\xc4\xff"}, {256, "\xc5\x01\x00"}, {65535, "\xc5\xff\xff"}, {65536, "\xc6\x00\x01\x00\x00"}} {
		got := appendCatFormat(nil, formatMsgpack, make([]byte, tc.n))
		if string(got[:len(tc.want)]) != tc.want || len(got) != len(tc.want)+tc.n {
			t.Errorf("msgpack of %d bytes: header % x, length %d", got[:len(tc.want)], tc.n, len(got))
		}
	}
	if got := string(appendCatFormat(nil, formatQuoted, nil)); got != "\"\"\n" {
		t.Errorf("quoted empty message: %q", got)
	}
}

// listenCat starts cat listening on a fresh URL of transport tr ("tcp"
// or "ipc") with --verbose and returns it with the URL it listens at.
func listenCat(t *testing.T, tr string, args ...string) (*catProc, string) {
	t.Helper()
	url := "tcp://127.0.0.1:0"
	if tr == "ipc" {
		url = "ipc://" + testkit.IPCPath(t)
	}
	p := startCat(t, nil, append(args, "--listen", url, "--verbose")...)
	line := p.firstLine(t)
	if !strings.HasPrefix(line, "Listening at: ") {
		t.Fatalf("%s: first line %q", p, line)
	}
	return p, strings.TrimSuffix(strings.TrimPrefix(line, "Listening at: "), "\n")
}

// outputAfterVerbose returns p's output after its verbose first line.
func outputAfterVerbose(t *testing.T, p *catProc) string {
	t.Helper()
	out := p.waitOK(t)
	_, rest, _ := strings.Cut(out, "\n")
	return rest
}

func TestCatReqRep(t *testing.T) {
	for _, tr := range []string{"tcp", "ipc"} {
		t.Run(tr, func(t *testing.T) {
			t.Parallel()
			rep, url := listenCat(t, tr, "--rep", "--data", "pong", "-Q", "--count", "2")
			if code, out, errOut := execCat(t, nil, "--req", "--dial", url, "-D", "ping 1", "-Q"); code != 0 || out != "\"pong\"\n" {
				t.Fatalf("req 1: exit %d, %q, %q", code, out, errOut)
			}
			// --interval (fractional) with --count: the reply ends the
			// request, and the count the command.
			code, out, errOut := execCat(t, nil, "--req", "--dial", url, "-D", "ping 2", "-A", "--interval", "1.5", "--count", "1")
			if code != 0 || out != "pong" {
				t.Fatalf("req 2: exit %d, %q, %q", code, out, errOut)
			}
			if got := outputAfterVerbose(t, rep); got != "\"ping 1\"\n\"ping 2\"\n" {
				t.Fatalf("rep printed %q", got)
			}
		})
	}
}

// TestCatPubSub is nngcat's own pub/sub test: a subscriber to "one" and
// "two" gets three of five publications, in order.
func TestCatPubSub(t *testing.T) {
	sub, url := listenCat(t, "ipc", "--sub0", "--subscribe=one", "--subscribe=two", "--count=3", "--recv-timeout=20", "--quoted")
	for _, d := range []string{"xyz", "none swam", "one flew", "twofer test", "one more"} {
		if code, _, errOut := execCat(t, nil, "--connect", url, "--pub0", "--data", d); code != 0 {
			t.Fatalf("pub %q: exit %d, %s", d, code, errOut)
		}
	}
	if got := outputAfterVerbose(t, sub); got != "\"one flew\"\n\"twofer test\"\n\"one more\"\n" {
		t.Fatalf("sub printed %q", got)
	}
}

// TestCatRecvMaxSize is nngcat's own receive size test: messages over
// --recv-maxsz are dropped (with their connection).
func TestCatRecvMaxSize(t *testing.T) {
	pull, url := listenCat(t, "ipc", "--count=3", "--recv-maxsz=5", "--pull0", "--quoted")
	for _, d := range []string{"one", "55555", "666666", "7777777", "88888"} {
		if code, _, errOut := execCat(t, nil, "--connect", url, "--push0", "--data", d); code != 0 {
			t.Fatalf("push %q: exit %d, %s", d, code, errOut)
		}
	}
	if got := outputAfterVerbose(t, pull); got != "\"one\"\n\"55555\"\n\"88888\"\n" {
		t.Fatalf("pull printed %q", got)
	}
}

// TestCatStdin sends standard input (--file -) and a large file in raw
// format, nngcat's stdin and unlimited-size tests.
func TestCatStdin(t *testing.T) {
	pull, url := listenCat(t, "tcp", "--pull0", "--raw", "--count", "2", "-Z", "0")
	if code, _, errOut := execCat(t, []byte("hello world\n"), "--push0", "--dial", url, "--file", "-"); code != 0 {
		t.Fatalf("push stdin: exit %d, %s", code, errOut)
	}
	big := make([]byte, 4<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	file := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(file, big, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := execCat(t, nil, "--push0", "--dial", url, "-F", file); code != 0 {
		t.Fatalf("push file: exit %d, %s", code, errOut)
	}
	if got := outputAfterVerbose(t, pull); got != "hello world\n"+string(big) {
		t.Fatalf("pull printed %d bytes, want %d", len(got), len("hello world\n")+len(big))
	}
}

// TestCatSurvey: a surveyor that dials two respondents collects both
// answers before the survey expires.
func TestCatSurvey(t *testing.T) {
	t.Parallel()
	args := []string{"--surveyor", "-D", "who?", "-Q"}
	var resp []*catProc
	for _, name := range []string{"r1", "r2"} {
		r, url := listenCat(t, "ipc", "--respondent", "-D", name, "--count", "1", "-Q")
		resp = append(resp, r)
		args = append(args, "--dial", url)
	}
	code, out, errOut := execCat(t, nil, args...)
	if code != 0 || (out != "\"r1\"\n\"r2\"\n" && out != "\"r2\"\n\"r1\"\n") {
		t.Fatalf("surveyor: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	for _, r := range resp {
		if got := outputAfterVerbose(t, r); got != "\"who?\"\n" {
			t.Fatalf("%s printed %q", r, got)
		}
	}
}

// TestCatAsyncDial is nngcat's async test: a dialer started before its
// listener connects once the listener is up. The respondent-style rep
// with --recv-timeout and data then fails its next receive, as nngcat's.
func TestCatAsyncDial(t *testing.T) {
	t.Parallel()
	url := "ipc://" + testkit.IPCPath(t)
	req := startCat(t, nil, "--async", "-d", "0.2", "--connect", url, "--req0", "-D", "ping", "--ascii")
	code, out, errOut := execCat(t, nil, "--rep0", "--recv-timeout=3", "--listen", url, "-D", "pong", "--ascii")
	if code != 1 || out != "ping" || !strings.Contains(errOut, "receive error") || !strings.Contains(errOut, "Timed out") {
		t.Fatalf("rep: exit %d, stdout %q, stderr %q; want 1, ping, a receive time-out", code, out, errOut)
	}
	if got := req.waitOK(t); got != "pong" {
		t.Fatalf("req printed %q", got)
	}
}

// TestCatPushInterval checks --interval and --count on a sender: four
// messages, a fraction of a second apart.
func TestCatPushInterval(t *testing.T) {
	pull, url := listenCat(t, "tcp", "--pull", "-C", "4", "-A")
	start := time.Now()
	if code, _, errOut := execCat(t, nil, "--push", "-l", strings.TrimPrefix(url, "tcp://127.0.0.1:"), "-D", "x", "-i", "0.05", "-C", "4"); code != 0 {
		t.Fatalf("push: exit %d, %s", code, errOut)
	}
	if el := time.Since(start); el < 150*time.Millisecond {
		t.Errorf("4 messages 50 ms apart took %v", el)
	}
	if got := outputAfterVerbose(t, pull); got != "xxxx" {
		t.Fatalf("pull printed %q", got)
	}
}

// TestCatSerialFormat prints serial messages from a nanoact socket with
// Go's %v, a line each, and skips a message that is not CBOR and one that
// is CBOR (42) but was not sent in serial mode (no marker).
func TestCatSerialFormat(t *testing.T) {
	pull, url := listenCat(t, "tcp", "--pull", "--format", "serial", "--count", "4")
	push, err := sockets.New(sockets.Push, sockets.Dial(url, sockets.Sync))
	if err != nil {
		t.Fatal(err)
	}
	defer push.Close()
	ctx, cancel := context.WithTimeout(context.Background(), catWaitLimit)
	defer cancel()
	for _, v := range []any{[]any{1, "a", 2.5}, "not cbor\xff", "\x18\x2a", map[string]int{"x": 1}} {
		mode := sockets.Serial
		if s, ok := v.(string); ok {
			v, mode = []byte(s), sockets.Raw
		}
		if err := push.Send(ctx, v, mode); err != nil {
			t.Fatal(err)
		}
	}
	code, out := pull.wait(t)
	if _, rest, _ := strings.Cut(out, "\n"); code != 0 || rest != "[1 a 2.5]\nmap[x:1]\n" {
		t.Fatalf("exit %d, printed %q", code, out)
	}
	if errOut := pull.ErrOut.String(); !strings.Contains(errOut, "skipped a message of 9 bytes: not serial (CBOR) data") ||
		!strings.Contains(errOut, "skipped a message of 2 bytes: not serial (CBOR) data: no serial marker") {
		t.Fatalf("stderr %q", pull.ErrOut)
	}
}

// TestCatIPCAliases runs pair0 over -X/-x (nngcat's ipc:/// + path).
func TestCatIPCAliases(t *testing.T) {
	path := testkit.IPCPath(t)
	a := startCat(t, nil, "--pair0", "-X", path, "-D", "a", "-Q", "--recv-timeout", "0.5")
	waitListening(t, "ipc://"+path, a)
	if code, out, errOut := execCat(t, nil, "--pair0", "-x", path, "-D", "b", "-Q", "--recv-timeout", "0.5"); code != 0 || out != "\"a\"\n" {
		t.Fatalf("-x: exit %d, %q, %q", code, out, errOut)
	}
	if got := a.waitOK(t); got != "\"b\"\n" {
		t.Fatalf("-X printed %q", got)
	}
}

func TestCatInterrupt(t *testing.T) {
	p := startCat(t, nil, "--pull", "--listen", "tcp://127.0.0.1:0", "-v")
	p.firstLine(t)
	p.Stop()
	code, _ := p.wait(t)
	if code != 1 || !strings.Contains(p.ErrOut.String(), "interrupted") {
		t.Fatalf("exit %d, stderr %q", code, p.ErrOut)
	}
}

func TestCatHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"--pull", "--help"}} {
		code, out, errOut := execCat(t, nil, args...)
		if code != 0 || !strings.Contains(out, "--connect-local <port>") || !strings.Contains(out, "serial") || errOut != "" {
			t.Fatalf("%v: exit %d, stderr %q, stdout %q", args, code, errOut, out)
		}
	}
	code, out, _ := execCat(t, nil, "--version")
	if code != 0 || !strings.Contains(out, "nngcat 1.5.2") {
		t.Fatalf("--version: exit %d, %q", code, out)
	}
}
