package sockets_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/nanoact/nanoact/sockets"
)

// point is a type sent with a hook: eight bytes, X then Y, little-endian.
type point struct{ X, Y int32 }

func encodePoint(p point) ([]byte, error) {
	b := binary.LittleEndian.AppendUint32(nil, uint32(p.X))
	return binary.LittleEndian.AppendUint32(b, uint32(p.Y)), nil
}

func decodePoint(b []byte) (point, error) {
	if len(b) != 8 {
		return point{}, errors.New("a point is 8 bytes")
	}
	return point{int32(binary.LittleEndian.Uint32(b)), int32(binary.LittleEndian.Uint32(b[4:]))}, nil
}

// Serialisation hooks (nanonext's serial_config): both peers give their
// sockets a codec that writes point values with the functions above,
// wherever they sit in what is sent, and reads them back as point values.
func ExampleRegisterHook() {
	hooks := sockets.RegisterHook(nil, 40000, encodePoint, decodePoint)
	if err := hooks.Err(); err != nil { // a bad tag or a nil function
		fmt.Println(err)
		return
	}
	cd := hooks.Codec(nil) // CBOR plus the hook; one codec for every socket

	pull, _ := sockets.New(sockets.Pull, sockets.WithCodec(cd), sockets.Listen("inproc://example-hooks"))
	defer pull.Close()
	push, _ := sockets.New(sockets.Push, sockets.WithCodec(cd), sockets.Dial("inproc://example-hooks", sockets.Sync))
	defer push.Close()

	ctx := context.Background()
	_ = push.Send(ctx, map[string]any{"at": point{1, -2}, "n": 3})
	v, err := sockets.RecvAs[map[string]any](ctx, pull)
	fmt.Println(v["at"], v["n"], err)

	_ = push.Send(ctx, []point{{3, 4}, {5, 6}})
	ps, err := sockets.RecvAs[[]point](ctx, pull)
	fmt.Println(ps, err)

	bad := sockets.RegisterHook(hooks, 2, encodePoint, decodePoint) // 2 is CBOR's bignum
	fmt.Println(bad.Err() != nil, hooks.Err())
	// Output:
	// {1 -2} 3 <nil>
	// [{3 4} {5 6}] <nil>
	// true <nil>
}
