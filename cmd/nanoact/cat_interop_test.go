package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nanoact/nanoact/internal/testkit"
	"github.com/nanoact/nanoact/sockets"
)

// catRole is one end of an interop case: its options (without address),
// and exactly what it must print.
type catRole struct {
	args []string
	want string
}

// catPeers is a pair of peers that exchange messages, each ending on its
// own (count, receive time-out, a finished request or survey). Peers
// whose sends are broadcasts (pub, surveyor, bus) wait a second
// (--delay 1) so that the dialer is connected when they send.
type catPeers struct {
	name string
	a, b catRole
}

func catInteropPairs() []catPeers {
	return []catPeers{
		{"req-rep",
			catRole{[]string{"--req0", "--data", "ping", "--quoted"}, "\"pong\"\n"},
			catRole{[]string{"--rep0", "--data", "pong", "--quoted", "--count", "1"}, "\"ping\"\n"}},
		{"push-pull",
			catRole{[]string{"--push0", "--data", "a\tb\"c", "--count", "3"}, ""},
			catRole{[]string{"--pull0", "--count", "3", "--hex"}, strings.Repeat(`"\x61\x09\x62\x22\x63"`+"\n", 3)}},
		{"pub-sub",
			catRole{[]string{"--pub0", "--data", "one flew", "--delay", "1", "--count", "2"}, ""},
			catRole{[]string{"--sub0", "--subscribe", "one", "--count", "2", "--quoted"}, "\"one flew\"\n\"one flew\"\n"}},
		{"surveyor-respondent",
			catRole{[]string{"--surveyor0", "--data", "q?", "--delay", "1", "--ascii"}, "yes!"},
			catRole{[]string{"--respondent0", "--data", "yes!", "--count", "1", "--msgpack"}, "\xc4\x02q?"}},
		{"pair0",
			catRole{[]string{"--pair0", "--data", "from a", "--quoted", "--recv-timeout", "1"}, "\"from b\"\n"},
			catRole{[]string{"--pair0", "--data", "from b", "--raw", "--recv-timeout", "1"}, "from a"}},
		{"pair1",
			catRole{[]string{"--pair1", "--data", "from a\n", "--quoted", "--recv-timeout", "1"}, "\"from b\"\n"},
			catRole{[]string{"--pair1", "--data", "from b", "--ascii", "--recv-timeout", "1"}, "from a."}},
		{"bus",
			catRole{[]string{"--bus0", "--data", "from a", "--delay", "1", "--quoted", "--recv-timeout", "1"}, "\"from b\"\n"},
			catRole{[]string{"--bus0", "--data", "from b", "--delay", "1", "--quoted", "--recv-timeout", "1"}, "\"from a\"\n"}},
	}
}

// TestCatInterop runs cat against nngcat for every protocol pair nngcat
// has, with cat on either end, dialing and listening, over tcp and ipc,
// and checks both outputs byte for byte.
func TestCatInterop(t *testing.T) {
	testkit.Nngcat(t)
	for _, pc := range catInteropPairs() {
		for _, oursIsA := range []bool{true, false} {
			for _, oursListens := range []bool{true, false} {
				for _, tr := range []string{"tcp", "ipc"} {
					ours, theirs := pc.a, pc.b
					if !oursIsA {
						ours, theirs = pc.b, pc.a
					}
					dir := "nngcat-dials"
					if !oursListens {
						dir = "nngcat-listens"
					}
					label := strings.TrimLeft(ours.args[0], "-")
					if pc.a.args[0] == pc.b.args[0] {
						label = map[bool]string{true: "a", false: "b"}[oursIsA]
					}
					name := fmt.Sprintf("%s/ours-%s/%s/%s", pc.name, label, dir, tr)
					t.Run(name, func(t *testing.T) {
						t.Parallel()
						runCatInterop(t, ours, theirs, oursListens, tr)
					})
				}
			}
		}
	}
}

// runCatInterop starts the listening end, waits until it listens, starts
// the dialing end, and checks that both end with status 0 and print what
// they must. Our end runs with --verbose, whose line is checked too.
func runCatInterop(t *testing.T, ours, theirs catRole, oursListens bool, tr string) {
	var (
		url      string
		oursP    *catProc
		theirsP  *catProc
		verbLine string
	)
	if oursListens {
		listen := "tcp://127.0.0.1:0"
		if tr == "ipc" {
			listen = "ipc://" + testkit.IPCPath(t)
		}
		oursP = startCat(t, nil, append(append([]string{}, ours.args...), "--listen", listen, "-v")...)
		line := oursP.firstLine(t)
		url = strings.TrimSuffix(strings.TrimPrefix(line, "Listening at: "), "\n")
		if !strings.HasPrefix(line, "Listening at: "+tr+"://") {
			t.Fatalf("verbose line %q, want Listening at: %s://...", line, tr)
		}
		verbLine = line
		theirsP = startNngcat(t, append(append([]string{}, theirs.args...), "--dial", url)...)
	} else {
		url = "tcp://" + catFreePort(t)
		if tr == "ipc" {
			url = "ipc://" + testkit.IPCPath(t)
		}
		theirsP = startNngcat(t, append(append([]string{}, theirs.args...), "--listen", url)...)
		waitListening(t, url, theirsP)
		oursP = startCat(t, nil, append(append([]string{}, ours.args...), "--dial", url, "--verbose")...)
		verbLine = "Connected to: " + url + "\n"
	}
	gotTheirs := theirsP.waitOK(t)
	gotOurs := oursP.waitOK(t)
	if !strings.HasPrefix(gotOurs, verbLine) {
		t.Fatalf("%s: output %q does not start with %q", oursP, gotOurs, verbLine)
	}
	if got := strings.TrimPrefix(gotOurs, verbLine); got != ours.want {
		t.Errorf("%s printed %q, want %q", oursP, got, ours.want)
	}
	if gotTheirs != theirs.want {
		t.Errorf("%s printed %q, want %q", theirsP, gotTheirs, theirs.want)
	}
}

// TestCatInteropPairAlias checks that our --pair is pair1 (nngcat's help
// says so; nngcat 1.5.2 itself ignores --pair and then finds no protocol)
// and --pair --compat pair0, against nngcat's --pair1 and --pair0.
func TestCatInteropPairAlias(t *testing.T) {
	for _, tc := range []struct {
		ours   []string
		theirs string
	}{
		{[]string{"--pair"}, "--pair1"},
		{[]string{"--pair", "--compat"}, "--pair0"},
	} {
		t.Run(strings.Join(tc.ours, ""), func(t *testing.T) {
			testkit.Nngcat(t)
			t.Parallel()
			url := "ipc://" + testkit.IPCPath(t)
			theirs := startNngcat(t, tc.theirs, "--listen", url, "--data", "theirs", "--quoted", "--recv-timeout", "2")
			waitListening(t, url, theirs)
			ours := startCat(t, nil, append(tc.ours, "--dial", url, "--data", "ours", "--quoted", "--recv-timeout", "2")...)
			if got := theirs.waitOK(t); got != "\"ours\"\n" {
				t.Errorf("nngcat printed %q", got)
			}
			if got := ours.waitOK(t); got != "\"theirs\"\n" {
				t.Errorf("cat printed %q", got)
			}
		})
	}
}

// TestCatInteropTLS runs req/rep over tls+tcp with nngcat in both
// directions: a listener with --cert and --key, a dialer that checks it
// with --cacert, or skips the check with --insecure; and a combined
// certificate-and-key file, which --cert alone takes.
func TestCatInteropTLS(t *testing.T) {
	testkit.Nngcat(t)
	certPEM, keyPEM, err := sockets.WriteCert("127.0.0.1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cert, key, both := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "both.pem")
	for p, b := range map[string][]byte{cert: certPEM, key: keyPEM, both: append(append([]byte{}, certPEM...), keyPEM...)} {
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name        string
		listenTLS   []string
		dialTLS     []string
		oursListens bool
	}{
		{"ours-listens-cacert", []string{"--cert", cert, "--key", key}, []string{"--cacert", cert}, true},
		{"ours-listens-combined-insecure", []string{"--cert", both}, []string{"--insecure"}, true},
		{"ours-dials-cacert", []string{"--cert", cert, "--key", key}, []string{"--cacert", cert}, false},
		{"ours-dials-insecure", []string{"-E", both}, []string{"-k"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rep := []string{"--rep0", "--data", "pong", "--quoted", "--count", "1"}
			req := []string{"--req0", "--data", "ping", "--quoted"}
			if tc.oursListens {
				ours := startCat(t, nil, append(append(rep, tc.listenTLS...), "--listen", "tls+tcp://127.0.0.1:0", "-v")...)
				line := ours.firstLine(t)
				url := strings.TrimSuffix(strings.TrimPrefix(line, "Listening at: "), "\n")
				theirs := startNngcat(t, append(append(req, tc.dialTLS...), "--dial", url)...)
				if got := theirs.waitOK(t); got != "\"pong\"\n" {
					t.Errorf("nngcat printed %q", got)
				}
				if got := ours.waitOK(t); got != line+"\"ping\"\n" {
					t.Errorf("cat printed %q", got)
				}
				return
			}
			url := "tls+tcp://" + catFreePort(t)
			theirs := startNngcat(t, append(append(rep, tc.listenTLS...), "--listen", url)...)
			waitListening(t, url, theirs)
			ours := startCat(t, nil, append(append(req, tc.dialTLS...), "--dial", url)...)
			if got := ours.waitOK(t); got != "\"pong\"\n" {
				t.Errorf("cat printed %q", got)
			}
			if got := theirs.waitOK(t); got != "\"ping\"\n" {
				t.Errorf("nngcat printed %q", got)
			}
		})
	}
}
