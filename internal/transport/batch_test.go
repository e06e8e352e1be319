package transport_test

import (
	"bytes"
	"fmt"
	"testing"

	"go.nanomsg.org/mangos/v3"

	"github.com/nanoact/nanoact/internal/transport"
)

// SendBatch puts each message on the wire as Send would, in order: a
// length (after 0x01 on ipc), the header, the body; empty headers and
// bodies and a body larger than the read buffer included.
func TestSendBatchFraming(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			c, srv := connPair(t, network)
			defer srv.Close()

			type frame struct{ hdr, body []byte }
			want := []frame{
				{nil, []byte("one")},
				{[]byte{0x80, 0, 0, 7}, []byte("two")},
				{nil, nil},
				{[]byte{0x80, 0, 0, 9}, nil},
				{nil, pattern(100 << 10)},
				{[]byte{1, 2, 3, 4}, pattern(40 << 10)},
			}
			ms := make([]*mangos.Message, len(want))
			for i, f := range want {
				m := mangos.NewMessage(len(f.body))
				m.Header = append(m.Header, f.hdr...)
				m.Body = append(m.Body, f.body...)
				ms[i] = m
			}
			ipc := network == "unix"
			done := make(chan error, 1)
			go func() {
				err := transport.SendBatch(c, ipc, ms)
				_ = c.Close() // ends RecvFrames
				done <- err
			}()
			got, err := transport.RecvFrames(srv, ipc, mangos.ProtoPair, 0, false)
			must(t, <-done)
			if len(got) != len(want) {
				t.Fatalf("read %d frames (then %v), want %d", len(got), err, len(want))
			}
			for i, f := range want {
				if w := append(append([]byte{}, f.hdr...), f.body...); !bytes.Equal(got[i], w) {
					t.Fatalf("frame %d: %d bytes, want %d (%q...)", i, len(got[i]), len(w), fmt.Sprintf("%.8x", w))
				}
			}
		})
	}
}
