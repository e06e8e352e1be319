package transport_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"go.nanomsg.org/mangos/v3"
	"go.nanomsg.org/mangos/v3/protocol"
	"go.nanomsg.org/mangos/v3/protocol/pair"
	_ "go.nanomsg.org/mangos/v3/transport/inproc" // mangos' own, for comparison
	_ "go.nanomsg.org/mangos/v3/transport/ipc"
	_ "go.nanomsg.org/mangos/v3/transport/tcp"
)

// BenchmarkRoundTrip measures one pair0 round trip (client sends, server
// echoes, client receives) for 8 B, 1 KiB and 64 KiB payloads over tcp,
// ipc and inproc, for this package's transports ("nanoact") and mangos'
// own ("mangos") in the same run. Compare with
//
//	go test -run '^$' -bench RoundTrip -count 10 ./internal/transport > b.txt
//	benchstat -col /impl b.txt
func BenchmarkRoundTrip(b *testing.B) {
	for _, tr := range []string{"tcp", "ipc", "inproc"} {
		for _, impl := range []string{"nanoact", "mangos"} {
			for _, size := range []int{8, 1 << 10, 64 << 10} {
				name := fmt.Sprintf("%s/%s/impl=%s", tr, sizeName(size), impl)
				b.Run(name, func(b *testing.B) { benchRoundTrip(b, tr, impl, size) })
			}
		}
	}
}

func sizeName(n int) string {
	if n >= 1<<10 {
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

func benchRoundTrip(b *testing.B, tr, impl string, size int) {
	url := "tcp://127.0.0.1:0"
	switch tr {
	case "ipc":
		url = "ipc://" + filepath.Join(b.TempDir(), "bench.sock")
	case "inproc":
		url = inprocURL(b)
	}
	srv := protocol.MakeSocket(pair.NewProtocol())
	cli := protocol.MakeSocket(pair.NewProtocol())
	var dialURL string
	if impl == "nanoact" {
		_, dialURL = listen(b, srv, url, nil)
	} else {
		l, err := srv.NewListener(url, nil)
		must(b, err)
		must(b, l.Listen())
		dialURL = l.Address()
	}
	must(b, cli.Dial(dialURL))
	benchEcho(b, srv, cli, size)
}

// benchEcho times round trips of size-byte messages from cli to srv,
// which echoes them, once cli is connected; both are closed at cleanup.
func benchEcho(b *testing.B, srv, cli mangos.Socket, size int) {
	done := make(chan struct{})
	go func() { // echo; ends when srv closes
		defer close(done)
		for {
			m, err := srv.RecvMsg()
			if err != nil {
				return
			}
			if err := srv.SendMsg(m); err != nil {
				m.Free()
				return
			}
		}
	}()
	b.Cleanup(func() {
		_ = cli.Close()
		_ = srv.Close()
		<-done
	})

	payload := pattern(size)
	roundTrip := func() {
		m := mangos.NewMessage(size)
		m.Body = append(m.Body, payload...)
		if err := cli.SendMsg(m); err != nil {
			b.Fatal(err)
		}
		r, err := cli.RecvMsg()
		if err != nil {
			b.Fatal(err)
		}
		r.Free()
	}
	roundTrip() // connected and warm before timing
	b.ReportAllocs()
	b.SetBytes(int64(2 * size))
	for b.Loop() {
		roundTrip()
	}
}
