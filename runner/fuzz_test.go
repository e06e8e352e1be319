package runner

import (
	"bytes"
	"math"
	"reflect"
	"testing"
)

// The fuzz targets below cover every decoder of the runner's wire
// messages, one per message a peer sends: the dispatcher decodes hello,
// result, leave (and anything an unauthenticated peer makes up); a
// daemon decodes challenge, task, cancel, refuse and bye. Each checks
// that decoding never panics and that what decodes encodes back to a
// message that decodes the same. Seeds: testdata/fuzz/<name>/ and the
// wire cases.

// seedKinds adds the wire cases of the given kinds.
func seedKinds(f *testing.F, kinds ...uint64) {
	for _, c := range wireCases() {
		for _, k := range kinds {
			if c.want.kind == k {
				f.Add(c.body)
			}
		}
	}
}

// roundTrip decodes b and, if it decodes as kind, re-encodes it and
// checks the result decodes the same.
func roundTrip(t *testing.T, b []byte, kind uint64, encode func(fr frame) ([]byte, bool)) {
	fr, err := decodeFrame(b)
	if err != nil || fr.kind != kind {
		return
	}
	re, ok := encode(fr)
	if !ok {
		return
	}
	fr2, err := decodeFrame(re)
	if err != nil {
		t.Fatalf("re-encoded %+v does not decode: %v", fr, err)
	}
	if !reflect.DeepEqual(fr, fr2) {
		t.Fatalf("round trip: %+v vs %+v", fr, fr2)
	}
}

// FuzzDecodeHello: hellos of every version, as an unauthenticated peer
// sends them to a dispatcher; a decoded one also gets its MAC checked,
// which must not panic either and never matches a made-up one.
func FuzzDecodeHello(f *testing.F) {
	seedKinds(f, kindHello)
	f.Fuzz(func(t *testing.T, b []byte) {
		roundTrip(t, b, kindHello, func(fr frame) ([]byte, bool) {
			if fr.version != wireVersion {
				return nil, false // only the version of others is read
			}
			return appendHello(nil, fr.mac, fr.daemon, fr.max, fr.tasks), true
		})
		if fr, err := decodeFrame(b); err == nil && fr.kind == kindHello && fr.version == wireVersion {
			if bytes.Equal(fr.mac, helloMAC("another token", testNonce, fr.daemon, fr.max, fr.tasks)) {
				t.Fatal("a made-up MAC matched")
			}
		}
	})
}

// FuzzDecodeChallenge: challenges, as a daemon reads them from whatever
// it dialed.
func FuzzDecodeChallenge(f *testing.F) {
	seedKinds(f, kindChallenge)
	f.Fuzz(func(t *testing.T, b []byte) {
		roundTrip(t, b, kindChallenge, func(fr frame) ([]byte, bool) {
			if fr.version != wireVersion {
				return nil, false
			}
			return appendChallenge(nil, fr.nonce, fr.limit), true
		})
	})
}

// FuzzDecodeTask: tasks, as a daemon reads them.
func FuzzDecodeTask(f *testing.F) {
	seedKinds(f, kindTask)
	f.Fuzz(func(t *testing.T, b []byte) {
		roundTrip(t, b, kindTask, func(fr frame) ([]byte, bool) {
			return appendTask(nil, fr.id, fr.name, fr.args, fr.timeout, fr.task, fr.attempt, fr.seed, fr.trace), true
		})
	})
}

// FuzzDecodeResult: results, as a dispatcher reads them from a daemon.
func FuzzDecodeResult(f *testing.F) {
	seedKinds(f, kindResult)
	f.Fuzz(func(t *testing.T, b []byte) {
		roundTrip(t, b, kindResult, func(fr frame) ([]byte, bool) {
			if fr.hasErr && fr.code == 0 {
				return nil, false // an error with code 0 is only made by a peer
			}
			return appendResult(nil, fr.id, fr.value, fr.code, fr.text, fr.panic, fr.stack), true
		})
	})
}

// FuzzDecodeFrame: any message (cancel, refuse, leave, bye, unknown
// kinds, and the others), as either side reads it.
func FuzzDecodeFrame(f *testing.F) {
	seedKinds(f, kindCancel, kindRefuse, kindLeave, kindBye, kindHello, kindChallenge, kindTask, kindResult)
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := decodeFrame(b)
		if err != nil {
			return
		}
		var re []byte
		switch fr.kind {
		case kindCancel:
			re = appendCancel(nil, fr.id)
		case kindRefuse:
			re = appendRefuse(nil, fr.text, fr.code)
		case kindLeave, kindBye:
			re = appendSimple(nil, fr.kind)
		case kindHello:
			if fr.version != wireVersion || fr.max > math.MaxInt64 {
				return
			}
			re = appendHello(nil, fr.mac, fr.daemon, fr.max, fr.tasks)
		default:
			return
		}
		fr2, err := decodeFrame(re)
		if err != nil || !reflect.DeepEqual(fr, fr2) {
			t.Fatalf("round trip: %+v vs %+v (%v)", fr, fr2, err)
		}
	})
}
