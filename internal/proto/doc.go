// Package proto holds nanoact's scalability protocols: bus, pair, poly,
// push, pull, pub, sub, req, rep, surveyor and respondent, cooked and raw,
// with NNG 1.x's behaviour (queue depths, drop policies, req's resend and
// failover, survey expiry, sub's topic filters). mangos v3 supplies only
// its socket core, which plugs a Socket in through mangos.ProtocolBase
// (AddPipe, RemovePipe, Close); nanoact's sockets package drives the data
// path through Send, Recv, RecvAsync and Stage here, never through mangos'
// SendMsg and RecvMsg.
//
// # Why our own protocols
//
// mangos' protocols take their deadlines from socket-wide options
// (OptionRecvDeadline, OptionSendDeadline) rather than from each call, have
// no per-call non-blocking mode (nanonext's default, block = FALSE), and
// park the calling goroutine for every receive that waits. nanoact needs
// a context on each call (NonBlock, a deadline, a cancel), NNG's error
// codes, and receives that wait without a goroutine, so that package aio
// can hold thousands of receives in flight.
//
// # NNG's aio model
//
// The protocols follow NNG's aio model: an operation that has to wait is
// an object queued in the protocol, completed by whoever ends the wait.
//
//   - Every protocol shares an engine (engine.go): the pipe set, one
//     receiver and one sender goroutine per pipe, the socket-wide receive
//     queue and, for the load-balancing protocols (push, pair, poly, req),
//     a shared send queue from which any free pipe takes the next message
//     (sendq.go: send-buffer places plus one per pipe, as an NNG pipe takes
//     a message from the moment it is counted, and a backlog for messages
//     sent again). A sender whose transport can write several messages
//     with one system call (transport.BatchSender: tcp, ipc) writes what
//     queued up while it was busy together, from its own queue and, while
//     it is the socket's only pipe, from the shared one.
//   - The queues are channels whose depth can change while in use
//     (queue.go), as NNG's recv-buffer and send-buffer can: a resize makes
//     a new generation and wakes what waits on the old one.
//   - A blocking Recv waits on the receive queue's channel under its
//     context. An asynchronous receive (RecvAsync) is a Waiter, queued in
//     the engine's or the context's waiter list without a goroutine
//     (async.go). The pipe's receiver goroutine, after the protocol has
//     handled the message it read (a req matching a reply to its context,
//     a sub filtering by topic, a rep splitting the backtrace), either
//     hands the message to the first waiter or queues it; a close, a new
//     request or a survey's expiry completes waiters with an error.
//     Completers run with no lock held, so one may start the next
//     operation on the same socket.
//   - A send whose protocol state must change in program order (req
//     registering its request, rep and respondent binding the reply to
//     the request it answers) can be split: Stage changes the state at
//     once and returns the function that queues the message, NNG's
//     nng_send_aio in two halves.
package proto
