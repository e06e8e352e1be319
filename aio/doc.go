// Package aio is nanonext's asynchronous I/O for nanoact: send and receive
// aios on sockets, contexts and streams, the functions that wait for, collect,
// stop and race them, condition variables, and pipe notifications.
//
// # Aios
//
// Send and Recv start an operation on a sockets.Conn and return at once an
// *Aio: nanonext's send_aio and recv_aio. An aio resolves exactly once, to
// a value (the decoded message; struct{} for a send) or an error, and
// keeps that result: Value waits for it (with a context: cancelling the
// wait never cancels the operation), Result reads it without waiting,
// Done gives a channel to select on, Pipe the connection a message came
// on. Stop cancels the operation (ErrCanceled) and waits until the aio has
// resolved; one that had resolved keeps its result. OnComplete registers
// a callback, Promise turns an aio into a promises.Promise. Go and
// NewPending make aios of other operations: a blocking function run with
// a context that Stop cancels, or a result that its owner delivers (the
// rpc package's requests and tasks); NewOwned is NewPending for an owner
// that is a value (an Owner) and resolves through a one-pointer Resolver,
// and Owned lets such an owner embed its aio, the two in one allocation,
// for owners that make one aio per operation (the task runner keeps one
// per queued task).
//
// Timeout bounds one operation: not given, the connection's send-timeout
// or recv-timeout applies; zero completes at once or times out at once;
// negative waits forever. Mode picks the send mode (Serial, Raw) or the
// receive decoding; ToPipe directs a send on poly and bus sockets; Signal
// makes the aio signal a CV when it resolves, however it resolves.
//
// # Many aios
//
// Unresolved and CountUnresolved look (nanonext's unresolved and
// .unresolved), Wait and WaitAll wait (call_aio), Collect, CollectAll and
// CollectMap wait and return values in order or under their keys
// (collect_aio), Stop stops a list (stop_aio), and Race returns the first
// to resolve (race_aio). Race only watches Done channels: it takes no
// result or wake-up that another waiter needs. Lists mix aios of different
// types through the Resolvable interface.
//
// # Aios as actors
//
// Every aio is an actor process of the actor system, addressable by
// Ref, which registers it with protoactor the first time it is asked
// for: spawning an actor costs as much as a whole inproc round trip, so
// the hot path never does. Until then an aio is a small object completed
// once: its result written, then a flag set and a channel closed. The
// actor answers Query, takes Cancel and Subscribe (one Completed message
// to each subscriber), receives the aio's completion as exactly one
// message, and then stops.
//
// # Condition variables
//
// A CV is a counter plus a broadcast (nanonext's cv): Signal adds one and
// wakes every waiter, Wait takes one (false once the CV's flag is raised),
// Until waits with a time limit, Value reads, Reset clears counter and
// flag. Forward passes every signal of one CV on to another (%~>%).
// PipeNotify signals a CV when connections come and go, optionally
// raising its flag so that Wait returns false when a peer leaves; Monitor
// records +id and -id events. CV and Broadcaster live in package cv
// (aio.CV and aio.Broadcaster are aliases): a Broadcaster is the
// supervisor's side, owned by a socket, an RPC server and a dispatcher;
// the CVs registered with it are signalled when a supervised child stops,
// restarts or joins, and raised (Wait false, Err the cause) when one
// fails, so that waiters wake instead of hanging and tell a crash from a
// normal stop.
//
// # Devices
//
// Device forwards messages between two raw sockets of complementary
// protocols (NNG's nng_device, nanonext's device): a raw rep facing
// clients and a raw req facing workers make a request broker, a raw sub
// and a raw pub a forwarder; one bus, pair or poly socket alone makes a
// reflector. The headers pass intact, so replies find their requesters.
// It returns an aio that resolves when either socket closes (ErrClosed)
// or it is stopped (ErrCanceled, both sockets left open), and forwards
// on the receiving connections' readers: no goroutine per message.
//
// # Goroutines
//
// A receive on a socket or context waits in the protocol's queue without a
// goroutine (sockets.RecvOp, NNG's nng_recv_aio): the goroutine that
// delivers the message (the connection's reader) resolves the aio, and a
// close, a new request or a survey's end resolves it with an error. Stop
// and the time-out take it out of the queue. A send that can be queued at
// once, and any operation with Timeout(0), completes inside Send or Recv.
// A send that has to wait on a socket, context or stream joins the
// connection's queue of sends (sockets.SendQueue), as later sends do while
// it is not empty, so that sends go out in the order they were made (NNG's
// order); the queue's one goroutine, which runs only while sends wait,
// makes them one after the other. Any other operation that has to wait has
// one goroutine. Either calls the connection's blocking Send or RecvMsg
// under a context that Stop and the time-out end (the aio itself: no
// context.WithCancel per aio), resolves the aio and runs its callbacks. A
// waiter that blocks anyway runs an operation of the second kind itself
// if its goroutine has not got to it. No goroutine outlives resolution;
// closing a connection resolves every aio on it (ErrClosed). PipeNotify
// and Monitor own one goroutine each, ended by their stop or Close or by
// the socket closing; so does a Device, ended by its Stop or a socket
// closing. CVs and Broadcasters own none.
//
// On req, rep and respondent connections a send changes the protocol's
// state before Send returns, as NNG's does, even when its message has to
// wait: the sockets package stages it (a req's request registered, a rep's
// reply bound to the request it answers) and the queue's goroutine only
// queues it. So a Recv started next waits for the reply, or takes the next
// request, in program order.
//
// # Costs
//
// Measured by this package's benchmarks (go test -bench . ./aio) on a
// 2-CPU AMD EPYC shared with other work: medians of 3 runs, each beside
// the same exchange with the sockets package's blocking calls and with
// plain mangos, in the same run.
//
//	req/rep round trip          aio Send+Recv   sockets    mangos   aio/mangos
//	  inproc 8 B                     4.2 µs      3.4 µs    3.7 µs     1.15
//	  inproc 1 KiB                   4.6 µs      3.6 µs    8.7 µs     0.53
//	  inproc 64 KiB                   15 µs       16 µs    114 µs     0.13
//	  tcp 8 B                       32.7 µs     28.8 µs   31.8 µs     1.03
//	  tcp 1 KiB                     30.7 µs     31.2 µs   33.0 µs     0.93
//	  tcp 64 KiB                     190 µs      186 µs    227 µs     0.84
//	10,000 receives in flight on one socket, per message
//	  inproc                         2.1 µs      3.7 µs    4.7 µs     0.44
//	  tcp                            5.0 µs      6.2 µs    6.0 µs     0.83
//
// (For sockets and mangos, "in flight" is a goroutine blocked in a plain
// Recv, which cannot be stopped one by one.) An aio round trip adds two
// allocations, the aios (about 80 bytes for a send, 192 for a receive),
// to the blocking calls'. A
// Send that completes at once costs about 2.5 µs with its peer's receive;
// in a burst of sends on one push socket, most of which have to queue
// behind each other (send-burst), about 3.4 µs and 6 allocations per send
// (7.4 µs and 10 when each waiting send had a goroutine of its own);
// a Recv started and stopped about 180 ns; Ref about 6 µs and 32
// allocations, once per aio that asks; a CV Signal plus Wait about 12 ns
// and no allocation.
package aio
