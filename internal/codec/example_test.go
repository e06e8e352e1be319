package codec_test

import (
	"errors"
	"fmt"
	"math"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/codec"
)

func ExampleEncodeRaw() {
	// A string gets one terminating NUL, as R's send(mode = "raw") does.
	b, _ := codec.EncodeRaw("hi")
	fmt.Printf("% x\n", b)

	// Numbers are little-endian: doubles take 8 bytes, integers and
	// logicals 4.
	b, _ = codec.EncodeRaw([]float64{1, math.Inf(-1)})
	fmt.Printf("% x\n", b)
	b, _ = codec.EncodeRaw([]bool{true, false})
	fmt.Printf("% x\n", b)

	// Other types are refused, as nanonext refuses lists.
	_, err := codec.EncodeRaw(map[string]int{})
	fmt.Println(errors.Is(err, nanoact.ErrBadType))
	// Output:
	// 68 69 00
	// 00 00 00 00 00 00 f0 3f 00 00 00 00 00 00 f0 ff
	// 01 00 00 00 00 00 00 00
	// true
}

func ExampleCharacters() {
	fmt.Printf("%q\n", codec.Characters([]byte("test\x00\x00spec\x00")))
	// Output: ["test" "" "spec"]
}

func ExampleFloat64s() {
	payload, _ := codec.EncodeRaw([]float64{1.5, 2})
	x, err := codec.Float64s(payload)
	fmt.Println(x, err)

	// Twelve bytes are not a whole number of doubles: the payload comes
	// back untouched in the error, as nanonext returns the raw vector.
	_, err = codec.Float64s(payload[:12])
	var ce *nanoact.ConvertError
	if errors.As(err, &ce) {
		fmt.Println(ce, len(ce.Data))
	}
	// Output:
	// [1.5 2] <nil>
	// received data could not be converted to double 12
}

func ExampleParseRecvMode() {
	for _, s := range []string{"d", "ch", "st", "s"} {
		m, err := codec.ParseRecvMode(s)
		fmt.Println(s, m, err != nil)
	}
	// Output:
	// d double false
	// ch character false
	// st string false
	// s Mode(0) true
}

// "s" is serial for a send, and the integer codes differ by direction: 2
// is raw for a send but character for a receive.
func ExampleParseSendMode() {
	for _, s := range []string{"s", "r", "2"} {
		send, _ := codec.ParseSendMode(s)
		recv, err := codec.ParseRecvMode(s)
		fmt.Println(s, send, recv, err != nil)
	}
	// Output:
	// s serial Mode(0) true
	// r raw raw false
	// 2 raw character false
}

func ExampleTopic() {
	t, _ := codec.Topic([]string{"a", "b"})
	fmt.Printf("%q\n", t)
	t, _ = codec.Topic(true)
	fmt.Printf("% x\n", t)
	// Output:
	// "a\x00b"
	// 01 00 00 00
}

type celsiusReading struct {
	Sensor string
	value  float64 // unexported: plain CBOR would drop it
}

func ExampleRegister() {
	hooks := codec.Register(nil, 40100,
		func(r celsiusReading) ([]byte, error) {
			return codec.EncodeRaw([]string{r.Sensor, fmt.Sprint(r.value)})
		},
		func(b []byte) (celsiusReading, error) {
			f := codec.Characters(b)
			if len(f) != 2 {
				return celsiusReading{}, errors.New("bad reading")
			}
			var v float64
			_, err := fmt.Sscan(f[1], &v)
			return celsiusReading{Sensor: f[0], value: v}, err
		})
	c := hooks.Codec(codec.CBOR())

	b, _ := c.Marshal(map[string]any{"latest": celsiusReading{"kitchen", 21.5}})
	var out map[string]any
	if err := c.Unmarshal(b, &out); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%+v\n", out["latest"])
	// Output: {Sensor:kitchen value:21.5}
}
