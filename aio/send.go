package aio

import (
	"context"
	"errors"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/codec"
	"github.com/nanoact/nanoact/internal/nngerr"
	"github.com/nanoact/nanoact/sockets"
)

// Send starts sending data on con (a *sockets.Socket, a *sockets.Context,
// or any sockets.Conn) and returns its aio at once, never blocking
// (nanonext's send_aio). data is encoded now, in Serial mode (con's Codec)
// or, with Mode(sockets.Raw), as raw bytes (with no Mode, in con's own
// send mode: see sockets.WithSendMode); a *sockets.Msg is sent as it
// is, and Send takes ownership of it once the aio resolves without error
// (on failure it is left to the caller, as in NNG). Other values are
// copied: the caller may reuse data at once. A *sockets.Stream has no
// serial mode: every send on it is raw, as its own Send is.
//
// Sends on one Socket, Context or Stream go out in the order Send was
// called, as NNG's send aios do: a send that cannot go at once waits in
// the connection's queue (sockets.SendQueue), and later sends join it
// while any wait, however much room has come meanwhile. A Timeout starts
// when Send is called and counts the time spent waiting behind others;
// the connection's send-timeout, which applies without one, starts when
// the send's turn comes. A send stopped or timed out while it waits its
// turn leaves the queue at once and is never sent. Sends on a socket and
// on its contexts are not ordered with each other, nor with the
// connection's own blocking Send.
//
// The aio resolves to struct{}{} once the message is queued for a peer,
// or to an error: ErrTimedOut (see Timeout; Timeout(0) also when earlier
// sends are waiting), ErrCanceled (Stop), ErrClosed (con closed),
// ErrState, ErrNotSupported, ErrBadType (data cannot be encoded),
// ErrInvalid (nil con).
//
// Cost: if no earlier send waits and the message can be queued at once,
// the send completes on the caller's goroutine with no goroutine started
// (the plain send plus one allocation of the aio). Otherwise it waits in
// the connection's queue, whose one goroutine (started while the queue is
// busy, gone once it is empty) makes the waiting sends one after the
// other and resolves their aios, running their callbacks before the next
// send. On a Stream there is no first try. On a Conn that is not a
// Socket, Context or Stream each send has its own goroutine and no order.
//
// On req, rep and respondent sockets and contexts the send changes the
// protocol's state before Send returns, as NNG's send does, even when the
// message has to wait to be queued (sockets.StageSend): a req's request is
// registered, so that a Recv started next waits for its reply, and a later
// Send cancels it (ErrCanceled), as a new request does; a rep's reply
// takes the request it answers, so that a Recv started next takes a new
// one. The aio itself may resolve after others started later: a reply can
// resolve its Recv before the request's Send aio has (wait for the latter
// with Value or Wait, not Result).
func Send(con sockets.Conn, data any, opts ...Option) *SendAio {
	a, cfg := newAio[struct{}](opts)
	if con == nil {
		a.resolve(struct{}{}, errNilConn("aio: send"), 0)
		return a
	}
	if d, ok := con.(interface{ SendMode() sockets.Mode }); ok && !hasMode(opts) {
		cfg.mode = d.SendMode() // the socket's default (sockets.WithSendMode)
	}
	msg, isMsg := data.(*sockets.Msg)
	var sq *sockets.SendQueue
	switch c := con.(type) { // concrete types first: cheaper than an interface assertion
	case *sockets.Socket:
		sq = c.SendQueue()
	case *sockets.Context:
		sq = c.SendQueue()
	case *sockets.Stream:
		sq = c.SendQueue()
	case queuer:
		sq = c.SendQueue()
	}
	// Sends waiting their turn: this one joins them, so as not to
	// overtake them.
	waiting := sq != nil && sq.Busy()
	if cfg.hasTimeout && cfg.timeout == 0 {
		var err error = errBehind
		if !waiting {
			err = sendOnce(expiredCtx{}, con, data, msg, isMsg, &cfg)
		}
		a.resolve(struct{}{}, err, 0)
		return a
	}
	st, replier := stagerOf(con)
	if !waiting && canTrySend(con) && !replier && !(isMsg && cfg.pipe != 0) {
		if err := sendOnce(nonBlock, con, data, msg, isMsg, &cfg); !errors.Is(err, nanoact.ErrTryAgain) {
			a.resolve(struct{}{}, err, 0)
			return a
		}
	}
	owned := !isMsg
	if owned {
		var err error
		if msg, err = encode(con, data, cfg.mode); err != nil {
			a.resolve(struct{}{}, err, 0)
			return a
		}
	}
	op := &opState{isSend: true, owned: owned, toPipe: cfg.pipe, con: con, msg: msg}
	if st != nil {
		queue, err := st.StageSend(msg)
		if err == nil && replier && !waiting {
			// The first try, which a rep cannot make by a plain send: a
			// miss there would give up the request it answers.
			err = queue(nonBlock)
			if err == nil {
				a.resolve(struct{}{}, nil, 0)
				return a
			}
			if errors.Is(err, nanoact.ErrTryAgain) {
				err = nil // queued by the goroutine below
			}
		}
		if err != nil {
			if owned {
				msg.Free()
			}
			a.resolve(struct{}{}, err, 0)
			return a
		}
		op.queue = queue
	}
	if sq == nil {
		a.start(&cfg, op)
		go a.runOp()
		return a
	}
	op.sq, op.self = sq, a
	a.start(&cfg, op)
	sq.Push(&op.turn, (*sendTurn)(a))
	if why := a.stopped(); why != running {
		// Stopped or timed out before it was queued, where end could not
		// find it.
		a.leaveQueue(why)
	}
	return a
}

// queuer is a connection that keeps its asynchronous sends in order
// (sockets.Socket, Context and Stream): Send queues behind the sends
// waiting there.
type queuer interface {
	SendQueue() *sockets.SendQueue
}

// errBehind is the error of a Timeout(0) send that cannot go at once
// because earlier sends wait their turn.
var errBehind = &nanoact.Error{Code: nanoact.CodeTimedOut, Op: "aio: send", Err: errors.New("earlier sends are waiting")}

// stagerOf returns con as a sockets.Stager if sends on it change protocol
// state (cooked req, rep and respondent sockets and contexts), nil
// otherwise, and whether con answers requests (rep, respondent).
func stagerOf(con sockets.Conn) (st sockets.Stager, replier bool) {
	var p sockets.Protocol
	switch c := con.(type) {
	case *sockets.Socket:
		if c.Raw() {
			return nil, false
		}
		p, st = c.Protocol(), c
	case *sockets.Context:
		p, st = c.Socket().Protocol(), c
	default:
		return nil, false
	}
	switch p {
	case sockets.Req:
		return st, false
	case sockets.Rep, sockets.Respondent:
		return st, true
	}
	return nil, false
}

// canceledCtx is an ended context, to give up a staged send that was
// stopped before it started. It is never changed.
var canceledCtx = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// sendOnce makes one attempt under ctx, by con's own Send (which encodes
// data) or, for a *sockets.Msg, by SendMsg (which leaves the message to
// the caller on failure).
func sendOnce(ctx context.Context, con sockets.Conn, data any, msg *sockets.Msg, isMsg bool, cfg *config) error {
	if isMsg && cfg.pipe == 0 {
		return con.SendMsg(ctx, msg)
	}
	switch {
	case cfg.pipe != 0:
		return con.Send(ctx, data, cfg.mode, sockets.ToPipe(cfg.pipe))
	case cfg.mode == sockets.Raw:
		return con.Send(ctx, data, rawSend...)
	case cfg.mode != sockets.Serial:
		return con.Send(ctx, data, cfg.mode)
	}
	return con.Send(ctx, data)
}

// rawSend is the option list of a raw send, made once (a variadic list
// passed to an interface method is otherwise allocated on every call). It
// is never changed.
var rawSend = []sockets.SendOption{sockets.Raw}

// encode builds the message of a send that has to wait, so that data is
// captured when Send is called.
func encode(con sockets.Conn, data any, mode sockets.Mode) (*sockets.Msg, error) {
	if s, ok := con.(*sockets.Stream); ok {
		return s.Encode(data) // every send on a stream is raw
	}
	switch mode {
	case sockets.Serial:
		b, err := codec.AppendSerial(nil, con.Codec(), data) // nil Codec: CBOR
		if err != nil {
			return nil, &nanoact.Error{Code: nanoact.CodeBadType, Op: "aio: send", Err: err}
		}
		return &sockets.Msg{Body: b}, nil
	case sockets.Raw:
		if b, ok := data.([]byte); ok {
			return sockets.NewMsg(b), nil
		}
		b, err := codec.AppendRaw(nil, data)
		if err != nil {
			return nil, nngerr.Wrap(err, "aio: send")
		}
		return &sockets.Msg{Body: b}, nil
	}
	return nil, nanoact.Errorf(nanoact.CodeInvalid, "aio: send", "'mode' should be either serial or raw (got %s)", mode)
}

// giveUpSend abandons a send stopped (why) before it started: a staged
// send is given up, a message Send encoded is freed. It returns the
// error to resolve the aio with.
func (c *core) giveUpSend(why uint32) error {
	o := c.opState()
	if o.queue != nil {
		_ = o.queue(canceledCtx) // gives the staged send up
	}
	if o.owned {
		o.msg.Free()
	}
	o.msg = nil
	// (Not FromContext: stop may not be closed yet.)
	if why == expired {
		return &nanoact.Error{Code: nanoact.CodeTimedOut, Op: "aio: send", Err: context.DeadlineExceeded}
	}
	return &nanoact.Error{Code: nanoact.CodeCanceled, Op: "aio: send", Err: context.Canceled}
}

// sendTurn is a send aio seen as its sockets.SendQueue's Turn.
type sendTurn SendAio

// Send makes the send when its turn comes, unless it was stopped before.
func (t *sendTurn) Send() {
	a := (*SendAio)(t)
	if !a.claim() {
		return // (never: only leaveQueue claims a queued send otherwise)
	}
	// The outcome is kept in err, which nobody reads before the aio has
	// resolved: Sent resolves it with the same.
	if why := a.stopped(); why != running {
		a.err = a.giveUpSend(why)
		return
	}
	a.err = a.doSend()
}

// Sent resolves the aio once it has left the queue, with the outcome
// Send kept.
func (t *sendTurn) Sent() {
	a := (*SendAio)(t)
	a.resolve(struct{}{}, a.err, 0)
}

// doSend is the operation of a send that has to wait: the blocking send,
// or the queueing of a staged one.
func (c *core) doSend() error {
	o := c.opState()
	msg := o.msg
	o.msg = nil
	var err error
	switch {
	case o.queue != nil:
		err = o.queue(c.opCtx())
		if err != nil && o.owned {
			msg.Free()
		}
	case o.toPipe != 0:
		err = o.con.Send(c.opCtx(), msg, sockets.ToPipe(o.toPipe)) // consumes msg either way
	default:
		err = o.con.SendMsg(c.opCtx(), msg)
		if err != nil && o.owned {
			msg.Free()
		}
	}
	return err
}

// canTrySend reports whether a send on con can be tried first on the
// caller's goroutine without blocking: on the sockets package's Socket and
// Context (a rep's or respondent's through its staged send, see Send).
func canTrySend(con sockets.Conn) bool {
	switch con.(type) {
	case *sockets.Socket, *sockets.Context:
		return true
	}
	return false
}
