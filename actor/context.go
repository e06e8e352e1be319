package actor

import (
	"runtime/debug"
	"sync"

	pa "github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"

	"github.com/nanoact/nanoact"
)

// Receiver is the behaviour of an actor. Receive is called on the actor's
// goroutine with one message at a time, never concurrently, so the
// Receiver's state needs no lock. Besides user messages it receives
// Started, Stopping, Stopped, Restarting, ChildFailed and ChildStopped.
//
// On restart the same Receiver value receives Restarting, then Started:
// reset state there if it may be corrupt.
type Receiver interface {
	Receive(c *Context)
}

// A Receiver that is also a sync.Locker shares its state with code
// outside the actor that takes the same lock (a hot path that cannot
// afford a message): the actor then holds the lock around each message it
// hands to Receive and each Call's function, lifecycle messages included.

// ReceiveFunc adapts a function to a Receiver.
type ReceiveFunc func(c *Context)

// Receive calls f(c).
func (f ReceiveFunc) Receive(c *Context) { f(c) }

// Context is what a Receiver sees of its actor while it handles one
// message. It is valid only during that Receive call and only on that
// goroutine: do not keep it or pass it to another goroutine.
type Context struct {
	ref *Ref
	msg any
	req *request // unanswered Request or Call, if the message is one
}

// Message returns the message being handled: a user message, or one of the
// lifecycle values Started, Stopping, Stopped, Restarting, ChildFailed and
// ChildStopped.
func (c *Context) Message() any { return c.msg }

// Self returns the actor's own Ref.
func (c *Context) Self() *Ref { return c.ref }

// Parent returns the Ref of the actor that spawned this one, or nil for a
// top-level actor.
func (c *Context) Parent() *Ref { return c.ref.parent }

// Respond answers the Request being handled: Request returns (v, nil). Only
// the first answer counts. For a message sent with Send, Respond does
// nothing. It does not block.
func (c *Context) Respond(v any) {
	if c.req != nil {
		c.req.complete(v, nil)
		c.req = nil
	}
}

// RespondError answers the Request being handled with an error: Request
// returns (nil, err). Only the first answer counts.
func (c *Context) RespondError(err error) {
	if c.req != nil {
		c.req.complete(nil, err)
		c.req = nil
	}
}

// Spawn starts a child actor supervised by this one with the Strategy given
// to this actor's WithSupervisor. Its id is this actor's id, "/" and name
// (generated if empty). Like System.Spawn it does not block. It returns
// ErrClosed once this actor is stopping, ErrExists for a name in use and
// ErrInvalid for a nil r.
func (c *Context) Spawn(name string, r Receiver, opts ...SpawnOption) (*Ref, error) {
	if c.ref.stopped || c.ref.isStopping() {
		return nil, nanoact.Errorf(nanoact.CodeClosed, "actor: spawn "+c.ref.pid.Id+"/"+name, "")
	}
	return c.ref.sys.spawn(c.ref, c.ref.pc, name, r, opts)
}

// Stop asks r (a child, this actor itself, or any other actor) to stop and
// returns at once. The parent sees ChildStopped when it is done; use
// Ref.Done or Ref.Stop from outside the actor tree to wait.
func (c *Context) Stop(r *Ref) {
	if r != nil {
		r.stop()
	}
}

// Children returns the actor's live children in no particular order. It
// allocates the slice.
func (c *Context) Children() []*Ref {
	out := make([]*Ref, 0, len(c.ref.children))
	for _, ch := range c.ref.children {
		out = append(out, ch)
	}
	return out
}

// Logger returns the system's logger with an "actor" field naming this
// actor.
func (c *Context) Logger() *zap.Logger { return c.ref.logger() }

func (r *Ref) isStopping() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stopping
}

// cell is the protoactor Actor that runs a Ref's Receiver. Every
// incarnation of the process is the same cell.
type cell Ref

// Receive turns protoactor's messages into nanoact's and calls the
// Receiver.
func (c *cell) Receive(pc pa.Context) {
	r := (*Ref)(c)
	if r.stopped {
		// protoactor revives a stopped context when a Restart follows
		// its Stop; such a zombie is unreachable, keep it silent.
		return
	}
	r.pc = pc
	var msg any
	var req *request
	lifecycle := false
	switch m := pc.Message().(type) {
	case *request:
		req, msg = m, m.msg
	case *restartMsg:
		if !r.isStopping() {
			sup := pc.(pa.Supervisor)
			for _, ch := range m.children {
				if r.children[ch.pid.Id] == ch { // not stopped meanwhile
					ch.restart(sup)
				}
			}
		}
		return
	case *pa.Started:
		msg = Started{}
	case *pa.Stopping:
		r.markStopping()
		r.markChildrenStopping()
		msg, lifecycle = Stopping{}, true
	case *pa.Stopped:
		r.stopped = true
		msg, lifecycle = Stopped{}, true
		defer r.finish()
	case *pa.Restarting:
		r.markChildrenStopping()
		msg = Restarting{}
	case *pa.Terminated:
		ch := r.children[m.Who.Id]
		if ch == nil {
			return
		}
		delete(r.children, m.Who.Id)
		msg = ChildStopped{Child: ch}
	case *pa.ReceiveTimeout:
		return
	default:
		msg = m
	}
	r.invoke(msg, req, lifecycle)
}

// invoke calls the Receiver (or a Call's function) with msg. A panic is
// logged with its stack, fails the pending request with ErrInternal, and is
// re-raised as a *Panic for protoactor's supervision, except during
// Stopping and Stopped, where the actor is going away anyway.
func (r *Ref) invoke(msg any, req *request, lifecycle bool) {
	cx := &r.cx
	cx.ref, cx.msg, cx.req = r, msg, req
	defer func() {
		if v := recover(); v != nil {
			p, ok := v.(*Panic)
			if !ok {
				p = &Panic{Value: v, Stack: debug.Stack()}
				r.logger().Error("actor panicked", zap.Any("panic", v),
					zap.String("message", typeName(msg)), zap.ByteString("stack", p.Stack))
			}
			if cx.req != nil {
				cx.req.complete(nil, &nanoact.Error{Code: nanoact.CodeInternal, Op: cx.req.op(r.pid), Err: p})
			}
			cx.msg, cx.req = nil, nil
			if !lifecycle {
				panic(p)
			}
		}
	}()
	if l, ok := r.recv.(sync.Locker); ok {
		l.Lock()
		defer l.Unlock() // before the recover above: a panic lets go of it
	}
	if req != nil && req.fn != nil {
		req.fn()
		req.complete(nil, nil)
		cx.req = nil
	} else {
		r.recv.Receive(cx)
	}
	if cx.req != nil {
		cx.req.complete(nil, nanoact.Errorf(nanoact.CodeNotSupported, cx.req.op(r.pid), "no answer to %s", typeName(msg)))
	}
	cx.msg, cx.req = nil, nil
}

func (r *Ref) markChildrenStopping() {
	for _, ch := range r.children {
		ch.markStopping()
	}
}

// finish runs after the Receiver has seen Stopped.
func (r *Ref) finish() {
	if r.parent == nil {
		r.sys.tops.CompareAndDelete(r.pid.Id, r)
	}
	close(r.done)
}

// HandleFailure is called by protoactor on this actor's goroutine when a
// child failed: it applies the Strategy and tells the Receiver.
func (c *cell) HandleFailure(_ *pa.ActorSystem, sup pa.Supervisor, child *pa.PID, rs *pa.RestartStatistics, reason, message any) {
	r := (*Ref)(c)
	r.sys.supervise(r.strategy, r, sup, child, rs, reason, message)
}
