package transport_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/transport"
)

func TestRewrite(t *testing.T) {
	long := strings.Repeat("x", 108)
	cases := []struct {
		in   string
		want string         // mangos URL when err is nil
		err  *nanoact.Error // expected code
	}{
		// Mapped schemes.
		{"tcp://127.0.0.1:5555", "nanoact.tcp://127.0.0.1:5555", nil},
		{"TCP://127.0.0.1:5555", "nanoact.tcp://127.0.0.1:5555", nil},
		{"tcp4://127.0.0.1:5555", "nanoact.tcp4://127.0.0.1:5555", nil},
		{"tcp6://[::1]:5555", "nanoact.tcp6://[::1]:5555", nil},
		{"tcp://[::1]:5555", "nanoact.tcp://[::1]:5555", nil},
		{"tcp://localhost:5555", "nanoact.tcp://localhost:5555", nil},
		{"tcp://*:5555", "nanoact.tcp://*:5555", nil},
		{"tcp://:5555", "nanoact.tcp://:5555", nil},
		{"tcp://127.0.0.1", "nanoact.tcp://127.0.0.1", nil}, // listen: any port
		{"tcp://127.0.0.1:5555/", "nanoact.tcp://127.0.0.1:5555/", nil},
		{"tcp://127.0.0.1:http", "nanoact.tcp://127.0.0.1:http", nil},
		{"tcp://10.0.0.1;127.0.0.1:5555", "nanoact.tcp://10.0.0.1;127.0.0.1:5555", nil},
		{"ipc:///tmp/x.sock", "nanoact.ipc:///tmp/x.sock", nil},
		{"ipc://rel.sock", "nanoact.ipc://rel.sock", nil},
		{"unix:///tmp/x.sock", "nanoact.unix:///tmp/x.sock", nil},
		{"abstract://name", "nanoact.abstract://name", nil},
		{"abstract://a%00b", "nanoact.abstract://a%00b", nil},
		{"abstract://", "nanoact.abstract://", nil}, // listen: kernel picks
		{"tls+tcp://127.0.0.1:5555", "nanoact.tls+tcp://127.0.0.1:5555", nil},
		{"tls+tcp6://[::1]:0", "nanoact.tls+tcp6://[::1]:0", nil},
		{"ws://127.0.0.1:8080/path", "nanoact.ws://127.0.0.1:8080/path", nil},
		{"ws://127.0.0.1", "nanoact.ws://127.0.0.1", nil}, // port 80
		{"ws4://:0", "nanoact.ws4://:0", nil},
		{"wss://host/path?q#f", "nanoact.wss://host/path?q#f", nil},
		{"inproc://anything goes", "nanoact.inproc://anything goes", nil},
		{"INPROC://x", "nanoact.inproc://x", nil},
		{"inproc://", "nanoact.inproc://", nil},
		// NNG_EINVAL from nni_url_parse.
		{"test", "", nanoact.ErrInvalid},
		{"", "", nanoact.ErrInvalid},
		{"tcp:/127.0.0.1:5555", "", nanoact.ErrInvalid},
		{"tcp://127.0.0.1:", "", nanoact.ErrInvalid},
		{"tcp://[::1:5555", "", nanoact.ErrInvalid},
		{"tcp://[::1]x:5555", "", nanoact.ErrInvalid},
		{"tcp://127.0.0.1:5555/%zz", "", nanoact.ErrInvalid},
		{"tcp://127.0.0.1:5555/%ff", "", nanoact.ErrInvalid}, // decodes to invalid UTF-8
		{"tcp://a@b@127.0.0.1:5555", "", nanoact.ErrInvalid},
		{"ws://h/%", "", nanoact.ErrInvalid},
		// NNG_ENOTSUP: no such transport.
		{"foo://bar", "", nanoact.ErrNotSupported},
		{"zt://1234.5678:80", "", nanoact.ErrNotSupported},
		{"nanoact.tcp://127.0.0.1:5555", "", nanoact.ErrNotSupported},
		// NNG_EADDRINVAL from the tcp and ipc transports.
		{"tcp://", "", nanoact.ErrAddrInvalid},
		{"tcp://*", "", nanoact.ErrAddrInvalid},
		{"tcp://127.0.0.1:65536", "", nanoact.ErrAddrInvalid},
		{"tcp://127.0.0.1:99999999999999999999", "", nanoact.ErrAddrInvalid},
		{"tcp://127.0.0.1:-1", "", nanoact.ErrAddrInvalid},
		{"tcp://127.0.0.1:no-such-service-x", "", nanoact.ErrAddrInvalid},
		{"tcp://127.0.0.1:5555/path", "", nanoact.ErrAddrInvalid},
		{"tcp://127.0.0.1:5555?x=1", "", nanoact.ErrAddrInvalid},
		{"tcp://127.0.0.1:5555#frag", "", nanoact.ErrAddrInvalid},
		{"tcp://user@127.0.0.1:5555", "", nanoact.ErrAddrInvalid},
		{"tls+tcp://127.0.0.1:5555/path", "", nanoact.ErrAddrInvalid},
		{"tls+tcp://", "", nanoact.ErrAddrInvalid},
		{"ws://127.0.0.1:65536/x", "", nanoact.ErrAddrInvalid},
		{"ipc://", "", nanoact.ErrAddrInvalid},
		{"unix://", "", nanoact.ErrAddrInvalid},
		{"ipc:///" + long, "", nanoact.ErrAddrInvalid},
		{"abstract://%zz", "", nanoact.ErrAddrInvalid},
		{"abstract://" + long, "", nanoact.ErrAddrInvalid},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := transport.Rewrite(c.in)
			if c.err == nil {
				if err != nil || got != c.want {
					t.Fatalf("Rewrite(%q) = %q, %v; want %q", c.in, got, err, c.want)
				}
				return
			}
			if !errors.Is(err, c.err) {
				t.Fatalf("Rewrite(%q) = %q, %v (code %v); want code %v", c.in, got, err, nanoact.CodeOf(err), c.err.Code)
			}
			var ne *nanoact.Error
			if !errors.As(err, &ne) {
				t.Fatalf("%T is not a *nanoact.Error", err)
			}
		})
	}
}

func ExampleRewrite() {
	u, err := transport.Rewrite("tcp://127.0.0.1:5555")
	fmt.Println(u, err)
	_, err = transport.Rewrite("test")
	fmt.Println(err)
	_, err = transport.Rewrite("tcp://127.0.0.1:5555/path")
	fmt.Println(nanoact.CodeOf(err))
	// Output:
	// nanoact.tcp://127.0.0.1:5555 <nil>
	// transport: url test: 3 | Invalid argument: missing "://"
	// 15 | Address invalid
}

// FuzzRewrite checks that Rewrite never panics, always fails with a
// *nanoact.Error, and is stable: the private URL it returns maps back to
// itself once its prefix is removed.
func FuzzRewrite(f *testing.F) {
	for _, s := range []string{
		"tcp://127.0.0.1:5555", "tcp://[::1]:0/", "ipc:///tmp/a", "abstract://a%00b",
		"inproc://x", "ws://h:80/p?q#f", "tcp://a@b/%41/.././/c", "test", "tcp://127.0.0.1:",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := transport.Rewrite(in)
		if err != nil {
			var ne *nanoact.Error
			if !errors.As(err, &ne) {
				t.Fatalf("error %T %v", err, err)
			}
			return
		}
		back, err := transport.Rewrite(strings.TrimPrefix(out, "nanoact."))
		if err != nil || back != out {
			t.Fatalf("Rewrite(%q) = %q, but again %q, %v", in, out, back, err)
		}
	})
}
