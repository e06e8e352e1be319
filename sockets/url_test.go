package sockets_test

import (
	"fmt"
	"testing"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/sockets"
)

// TestParseURL checks NNG's URL rules (nanonext's parse_url), including
// nanonext's own test cases.
func TestParseURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want sockets.ParsedURL // Raw is filled in from in
	}{
		{"://", sockets.ParsedURL{}},
		{"wss://use:r@[::1]/path?q=1#name", sockets.ParsedURL{Scheme: "wss", Userinfo: "use:r", Host: "[::1]", Hostname: "::1",
			Port: "443", Path: "/path", Query: "q=1", Fragment: "name", RequestURI: "/path?q=1#name"}},
		{"tcp://127.0.0.1:5555", sockets.ParsedURL{Scheme: "tcp", Host: "127.0.0.1:5555", Hostname: "127.0.0.1", Port: "5555"}},
		{"TCP://LocalHost:5555", sockets.ParsedURL{Scheme: "tcp", Host: "localhost:5555", Hostname: "localhost", Port: "5555"}},
		{"tcp://[::1]:5555", sockets.ParsedURL{Scheme: "tcp", Host: "[::1]:5555", Hostname: "::1", Port: "5555"}},
		{"tcp6://[fe80::1]:0", sockets.ParsedURL{Scheme: "tcp6", Host: "[fe80::1]:0", Hostname: "fe80::1", Port: "0"}},
		{"tcp://*:5555", sockets.ParsedURL{Scheme: "tcp", Host: ":5555", Port: "5555"}},
		{"tcp://127.0.0.1", sockets.ParsedURL{Scheme: "tcp", Host: "127.0.0.1", Hostname: "127.0.0.1"}},
		{"ws://example.org", sockets.ParsedURL{Scheme: "ws", Host: "example.org", Hostname: "example.org", Port: "80"}},
		{"ws4://h/a//b/./c/../d", sockets.ParsedURL{Scheme: "ws4", Host: "h", Hostname: "h", Port: "80", Path: "/a/b/d", RequestURI: "/a/b/d"}},
		{"wss6://h:8443/%7euser/%2f?x", sockets.ParsedURL{Scheme: "wss6", Host: "h:8443", Hostname: "h", Port: "8443",
			Path: "/~user/%2F", Query: "x", RequestURI: "/~user/%2F?x"}},
		{"https://h/", sockets.ParsedURL{Scheme: "https", Host: "h", Hostname: "h", Port: "443", Path: "/", RequestURI: "/"}},
		{"ssh://h", sockets.ParsedURL{Scheme: "ssh", Host: "h", Hostname: "h", Port: "22"}},
		{"ipc:///tmp/My.sock", sockets.ParsedURL{Scheme: "ipc", Path: "/tmp/My.sock"}},
		{"inproc://Any thing@x:1/?#", sockets.ParsedURL{Scheme: "inproc", Path: "Any thing@x:1/?#"}},
		{"abstract://name", sockets.ParsedURL{Scheme: "abstract", Path: "name"}},
		{"foo://h:1", sockets.ParsedURL{Scheme: "foo", Host: "h:1", Hostname: "h", Port: "1"}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := sockets.ParseURL(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			tc.want.Raw = tc.in
			if got != tc.want {
				t.Fatalf("ParseURL(%q) =\n%+v\nwant\n%+v", tc.in, got, tc.want)
			}
			if got.String() != tc.in {
				t.Fatalf("String() = %q", got.String())
			}
		})
	}
	for _, bad := range []string{"", "test", "tcp:/", "tcp:/127.0.0.1:1", "tcp://h:", "tcp://[::1", "tcp://[::1]x",
		"tcp://a@b@h:1", "ws://h/%zz", "ws://h/%ff", "ws://h/%"} {
		t.Run("bad "+bad, func(t *testing.T) {
			u, err := sockets.ParseURL(bad)
			wantCode(t, err, nanoact.ErrInvalid)
			if u != (sockets.ParsedURL{}) {
				t.Fatalf("ParseURL(%q) returned %+v with its error", bad, u)
			}
		})
	}
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"://", "tcp://127.0.0.1:5555", "wss://use:r@[::1]/path?q=1#name", "ws://h/a/../b?c#d", "ipc:///x", "tcp://[::1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := sockets.ParseURL(s)
		if err != nil {
			return
		}
		if u.Raw != s {
			t.Fatalf("Raw %q != %q", u.Raw, s)
		}
		if u.Port != "" && u.Host == "" && u.Hostname == "" {
			// A default port needs a scheme with one, not a host.
			if _, err := sockets.ParseURL(u.Scheme + "://"); err != nil {
				t.Fatalf("scheme %q alone does not parse: %v", u.Scheme, err)
			}
		}
		// Parsing is deterministic and canonical paths are stable.
		again, err := sockets.ParseURL(u.Scheme + "://" + u.Host + u.RequestURI)
		if err == nil && again.Path != u.Path && u.RequestURI != "" {
			t.Fatalf("path %q reparsed as %q", u.Path, again.Path)
		}
	})
}

// ExampleParseURL splits URLs as NNG does.
func ExampleParseURL() {
	for _, s := range []string{"wss://user@[::1]/a//b/../c?q=1#top", "tcp://*:5555", "ipc:///tmp/app.sock"} {
		u, err := sockets.ParseURL(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%s: host %q hostname %q port %q path %q query %q fragment %q\n",
			u.Scheme, u.Host, u.Hostname, u.Port, u.Path, u.Query, u.Fragment)
	}
	_, err := sockets.ParseURL("tcp:/127.0.0.1:5555")
	fmt.Println(err != nil)
	// Output:
	// wss: host "[::1]" hostname "::1" port "443" path "/a/c" query "q=1" fragment "top"
	// tcp: host ":5555" hostname "" port "5555" path "" query "" fragment ""
	// ipc: host "" hostname "" port "" path "/tmp/app.sock" query "" fragment ""
	// true
}
