package proto

import (
	"context"
	"testing"

	"go.nanomsg.org/mangos/v3"
)

// Each pipe counts its own traffic; the socket counts the sum; a gone
// pipe has no counters.
func TestPipeCounters(t *testing.T) {
	bus := open(t, Bus)
	a, b := attach(t, bus), attach(t, bus)
	a.inject(t, 0, false, "12345")
	b.inject(t, 0, false, "12")
	b.inject(t, 0, false, "1")
	eventually(t, func() bool { return bus.Counters().RxMsgs == 3 })
	if err := bus.Send(context.Background(), msg("xyz")); err != nil {
		t.Fatal(err)
	}
	_, _ = a.written(t), b.written(t)
	eventually(t, func() bool { return bus.Counters().TxMsgs == 2 })
	ca, ok := bus.PipeCounters(a.ID())
	cb, okb := bus.PipeCounters(b.ID())
	if !ok || !okb || ca.RxMsgs != 1 || ca.RxBytes != 5 || cb.RxMsgs != 2 || cb.RxBytes != 3 ||
		ca.TxMsgs != 1 || ca.TxBytes != 3 || cb.TxMsgs != 1 {
		t.Fatalf("a %+v b %+v", ca, cb)
	}
	detach(bus, a)
	if _, ok := bus.PipeCounters(a.ID()); ok {
		t.Fatal("a gone pipe has counters")
	}
}

// SetRefuse leaves out the pipes it names: AddPipe succeeds but starts
// nothing, so nothing is read from or sent to them.
func TestSetRefuse(t *testing.T) {
	push := open(t, Push)
	var refused *fakePipe
	push.SetRefuse(func(mp mangos.ProtocolPipe) bool { return refused != nil && mp.ID() == refused.ID() })
	refused = newFakePipe()
	if err := push.AddPipe(refused); err != nil {
		t.Fatal(err)
	}
	if push.Pipes() != 0 || push.Pipe(refused.ID()) != nil {
		t.Fatalf("a refused pipe was added: %d pipes", push.Pipes())
	}
	ok := attach(t, push)
	if err := push.Send(context.Background(), msg("only to ok")); err != nil {
		t.Fatal(err)
	}
	if m := ok.written(t); string(m.Body) != "only to ok" {
		t.Fatalf("written %q", m.Body)
	}
	push.RemovePipe(refused) // mangos removes it when it is closed: a no-op
	if push.Pipes() != 1 {
		t.Fatalf("%d pipes", push.Pipes())
	}
}
