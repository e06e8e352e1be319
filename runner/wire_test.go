package runner

import (
	"bytes"
	"math"
	"reflect"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/nanoact/nanoact"
)

var (
	testNonce = bytes.Repeat([]byte{0xa5}, nonceSize)
	testMAC   = helloMAC("token", testNonce, "host/1/1", 4, 300)
)

func wireCases() map[string]struct {
	body []byte
	want frame
} {
	task := appendTask(nil, 1<<40, "square", []byte{0x07}, 5e9, 12, 3, 1<<63+5, nil)
	return map[string]struct {
		body []byte
		want frame
	}{
		"hello": {appendHello(nil, testMAC, "host/1/1", 4, 300),
			frame{kind: kindHello, version: wireVersion, mac: testMAC, daemon: "host/1/1", max: 4, tasks: 300}},
		"old hello": {[]byte{0x86, 0x01, 0x01, 0x63, 't', 'o', 'k', 0x61, 'd', 0x01, 0x00},
			frame{kind: kindHello, version: 1}},
		"challenge": {appendChallenge(nil, testNonce, 64<<20),
			frame{kind: kindChallenge, version: wireVersion, nonce: testNonce, limit: 64 << 20}},
		"task": {task, frame{kind: kindTask, id: 1 << 40, name: "square", args: []byte{0x07}, timeout: 5e9, task: 12, attempt: 3, seed: 1<<63 + 5}},
		"task v2.1": {[]byte{0x87, 0x02, 0x01, 0x61, 's', 0x41, 0x07, 0x00, 0x0c, 0x03},
			frame{kind: kindTask, id: 1, name: "s", args: []byte{0x07}, task: 12, attempt: 3}},
		"task v2.0": {[]byte{0x85, 0x02, 0x01, 0x61, 's', 0x41, 0x07, 0x00},
			frame{kind: kindTask, id: 1, name: "s", args: []byte{0x07}}},
		"cancel": {appendCancel(nil, math.MaxUint64),
			frame{kind: kindCancel, id: math.MaxUint64}},
		"value": {appendResult(nil, 9, []byte{0x18, 0x31}, 0, "", false, ""),
			frame{kind: kindResult, id: 9, value: []byte{0x18, 0x31}}},
		"empty value": {appendResult(nil, 9, nil, 0, "", false, ""),
			frame{kind: kindResult, id: 9, value: []byte{}}},
		"error": {appendResult(nil, 10, nil, 5, "timed out", false, ""),
			frame{kind: kindResult, id: 10, hasErr: true, code: 5, text: "timed out"}},
		"panic": {appendResult(nil, 11, nil, 0, "boom", true, "goroutine 1"),
			frame{kind: kindResult, id: 11, panic: true, text: "boom", stack: "goroutine 1"}},
		"refuse": {appendRefuse(nil, "bad token", uint64(nanoact.CodePeerAuth)), frame{kind: kindRefuse, text: "bad token", code: 27}},
		"refuse replaced": {appendRefuse(nil, "taken over", uint64(nanoact.CodeExists)),
			frame{kind: kindRefuse, text: "taken over", code: 23}},
		"refuse v2.0": {[]byte{0x82, 0x05, 0x62, 'n', 'o'}, frame{kind: kindRefuse, text: "no"}},
		"leave":       {appendSimple(nil, kindLeave), frame{kind: kindLeave}},
		"bye":         {appendSimple(nil, kindBye), frame{kind: kindBye}},
	}
}

// Every message round-trips, and is valid CBOR that a general decoder
// reads as the documented array.
func TestWireRoundTrip(t *testing.T) {
	for name, c := range wireCases() {
		t.Run(name, func(t *testing.T) {
			got, err := decodeFrame(c.body)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %+v\nwant %+v", got, c.want)
			}
			var generic []any
			if err := cbor.Unmarshal(c.body, &generic); err != nil {
				t.Fatalf("not CBOR: %v", err)
			}
			if generic[0] != c.want.kind {
				t.Fatalf("kind %v", generic[0])
			}
		})
	}
}

// The documented layout, checked against a general CBOR encoder.
func TestWireLayout(t *testing.T) {
	want, _ := cbor.Marshal([]any{uint64(4), uint64(3), []byte{1}, nil, nil})
	if got := appendResult(nil, 3, []byte{1}, 0, "", false, ""); !bytes.Equal(got, want) {
		t.Fatalf("result % x, want % x", got, want)
	}
	want, _ = cbor.Marshal([]any{uint64(1), uint64(2), []byte("m"), "d", uint64(1), uint64(0)})
	if got := appendHello(nil, []byte("m"), "d", 1, 0); !bytes.Equal(got, want) {
		t.Fatalf("hello % x, want % x", got, want)
	}
	want, _ = cbor.Marshal([]any{uint64(8), uint64(2), []byte("n"), uint64(7)})
	if got := appendChallenge(nil, []byte("n"), 7); !bytes.Equal(got, want) {
		t.Fatalf("challenge % x, want % x", got, want)
	}
	want, _ = cbor.Marshal([]any{uint64(5), "why", uint64(23)})
	if got := appendRefuse(nil, "why", 23); !bytes.Equal(got, want) {
		t.Fatalf("refuse % x, want % x", got, want)
	}
	// Later versions may add elements: they are ignored.
	more, _ := cbor.Marshal([]any{uint64(3), uint64(8), "extra"})
	if f, err := decodeFrame(more); err != nil || f.kind != kindCancel || f.id != 8 {
		t.Fatalf("longer cancel: %+v %v", f, err)
	}
	unknown, _ := cbor.Marshal([]any{uint64(99)})
	if f, err := decodeFrame(unknown); err != nil || f.kind != 99 {
		t.Fatalf("unknown kind: %+v %v", f, err)
	}
}

func TestWireMalformed(t *testing.T) {
	bad := map[string][]byte{
		"empty":         nil,
		"not an array":  {0x01},
		"empty array":   {0x80},
		"short hello":   appendHello(nil, []byte("m"), "d", 1, 0)[:5],
		"hello v2 of 5": {0x85, 0x01, 0x02, 0x41, 'm', 0x61, 'd', 0x01},
		"text mac":      {0x86, 0x01, 0x02, 0x61, 'm', 0x61, 'd', 0x01, 0x00},
		"short chall.":  {0x83, 0x08, 0x02, 0x41, 'n'},
		"text nonce":    {0x84, 0x08, 0x02, 0x61, 'n', 0x00},
		"short task":    {0x82, 0x02, 0x01},
		"huge string":   {0x85, 0x02, 0x01, 0x7b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"bad utf8":      {0x82, 0x05, 0x61, 0xff},
		"text code":     {0x83, 0x05, 0x61, 'x', 0x61, 'y'},
		"two outcomes":  {0x85, 0x04, 0x01, 0x40, 0x82, 0x01, 0x60, 0xf6},
		"no outcome":    {0x85, 0x04, 0x01, 0xf6, 0xf6, 0xf6},
		"indefinite":    {0x9f, 0x07, 0xff},
		"negative kind": {0x81, 0x20},
	}
	for name, b := range bad {
		if f, err := decodeFrame(b); err == nil {
			t.Errorf("%s: decoded %+v", name, f)
		}
	}
}

// taskOverhead bounds every task message's frame beyond its name and
// arguments, with every number at its widest.
func TestTaskOverhead(t *testing.T) {
	name, args := string(make([]byte, 300)), make([]byte, 70000) // 3- and 5-byte heads
	b := appendTask(nil, math.MaxUint64, name, args, math.MaxUint64, math.MaxUint64, math.MaxUint32, math.MaxUint64, nil)
	if extra := len(b) - len(name) - len(args); extra > taskOverhead {
		t.Fatalf("a task message adds %d bytes, taskOverhead says %d", extra, taskOverhead)
	}
}
