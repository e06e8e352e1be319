package transport_test

import (
	"bytes"
	"encoding/binary"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nanoact/nanoact/internal/transport"
)

// Messages of every size around the read buffer's (32 KiB), the short
// read-ahead's after a large body (4 KiB) and the first body chunk's
// (64 KiB), sent back to back so that the bytes after a large body arrive
// with it, are received whole and in order. The pipe they came on offers
// a BatchSender (through mangos' core, as the engine asks).
func TestRecvSizesBackToBack(t *testing.T) {
	sizes := []int{0, 1, 8, 32<<10 - 9, 32 << 10, 32<<10 + 1, 64<<10 - 4, 64 << 10, 4<<10 - 9, 64<<10 + 1,
		4 << 10, 100 << 10, 4<<10 + 1, 300 << 10, 5, 64 << 10, 64 << 10, 16 << 10}
	const rounds = 10
	for _, tc := range matrix(t) {
		t.Run(tc.name, func(t *testing.T) {
			srv, cli := newSock(t), newSock(t)
			_, du := listen(t, srv, tc.url, nil)
			must(t, cli.Dial(du))
			errc := make(chan error, 1)
			go func() {
				for i := range rounds * len(sizes) {
					if err := cli.Send(pattern(sizes[i%len(sizes)])); err != nil {
						errc <- err
						return
					}
				}
				errc <- nil
			}()
			for i := range rounds * len(sizes) {
				m, err := srv.RecvMsg()
				must(t, err)
				if want := pattern(sizes[i%len(sizes)]); !bytes.Equal(m.Body, want) {
					t.Fatalf("message %d: %d bytes, want %d, or garbled", i, len(m.Body), len(want))
				}
				if i == 0 {
					v, err := m.Pipe.GetOption(transport.OptionBatchSender)
					must(t, err)
					if _, ok := v.(transport.BatchSender); !ok {
						t.Fatalf("OptionBatchSender gave %T", v)
					}
				}
				m.Free()
			}
			must(t, <-errc)
		})
	}
}

// A peer that stalls in the middle of a large body (where the pipe reads
// straight into the message) is closed by the idle time-out too.
func TestIdleTimeoutMidBody(t *testing.T) {
	const idle = 300 * time.Millisecond
	dir := t.TempDir()
	for _, url := range []string{"tcp://127.0.0.1:0", "ipc://" + filepath.Join(dir, "m.sock")} {
		t.Run(strings.Split(url, ":")[0], func(t *testing.T) {
			rec := newRecorder()
			srv := newSock(t)
			l, _ := listen(t, srv, url, map[string]any{transport.OptionEvents: rec, transport.OptionIdleTimeout: idle})
			c := rawHandshake(t, l)
			var frame []byte
			if strings.HasPrefix(url, "ipc") {
				frame = append(frame, 1)
			}
			frame = binary.BigEndian.AppendUint64(frame, 200<<10)
			frame = append(frame, pattern(100<<10)...)
			_, err := c.Write(frame)
			must(t, err)
			e := wait(t, rec.idle, "OnIdle event")
			if e.url != l.Address() {
				t.Errorf("event %+v", e)
			}
		})
	}
}
