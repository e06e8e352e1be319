package transport_test

import (
	"fmt"
	"strings"
	"testing"

	"go.nanomsg.org/mangos/v3/protocol"
	"go.nanomsg.org/mangos/v3/protocol/pair"
)

// BenchmarkSecureRoundTrip measures one pair0 round trip (client sends,
// server echoes, client receives) over tls+tcp, ws and wss, for this
// package's transports ("nanoact") and mangos' own ("mangos"):
//
//	go test -run '^$' -bench SecureRoundTrip -count 10 ./internal/transport > b.txt
//	benchstat -col /impl b.txt
func BenchmarkSecureRoundTrip(b *testing.B) {
	for _, tc := range secureMatrix() {
		for _, impl := range []string{"nanoact", "mangos"} {
			for _, size := range []int{8, 1 << 10, 64 << 10} {
				name := fmt.Sprintf("%s/%s/impl=%s", tc.name, sizeName(size), impl)
				b.Run(name, func(b *testing.B) { benchSecureRoundTrip(b, tc, impl, size) })
			}
		}
	}
}

func benchSecureRoundTrip(b *testing.B, tc secure, impl string, size int) {
	srv := protocol.MakeSocket(pair.NewProtocol())
	cli := protocol.MakeSocket(pair.NewProtocol())
	var dialURL string
	if impl == "nanoact" {
		_, dialURL = listen(b, srv, tc.url, tc.srvOpts(nil))
	} else {
		l, err := srv.NewListener(strings.TrimSuffix(tc.url, "/"), tc.srvOpts(nil))
		must(b, err)
		must(b, l.Listen())
		dialURL = l.Address()
	}
	must(b, cli.DialOptions(dialURL, tc.cliOpts(nil)))
	benchEcho(b, srv, cli, size)
}
