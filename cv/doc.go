// Package cv holds condition variables and their supervisor side, below
// sockets so that every layer can signal them.
//
// A CV is nanonext's cv: a counter plus a broadcast, and a flag. Signal
// adds one and wakes every waiter, Wait takes one (false once the flag is
// raised), Until waits with a time limit, Value reads, Reset clears.
// Forward passes every signal of one CV on to another (nanonext's %~>%).
// Aios signal CVs when they resolve and pipe events when connections come
// and go (package aio, which re-exports CV as aio.CV).
//
// A Broadcaster is the supervisor's side (DESIGN: condition variables are
// supervisor-broadcast signals). A socket, an RPC server and a dispatcher
// each own one; waiters register their CVs with it (Socket.Supervise,
// Server.Register, Dispatcher.Register) and are told of
// every event of the supervisor's children as an Event{Kind, Child, Err}.
// A failure is raised as a failure: Wait returns false and Err gives the
// cause, so a waiter tells a crash from a normal stop:
//
//	c := cv.New()
//	defer srv.Register(c)()
//	if !c.Wait(ctx) && c.Err() != nil {
//		// a worker crashed: c.Err() says why; c.Reset() to go on
//	} else if c.Last().Kind == cv.Closed {
//		// the server closed normally
//	}
//
// Nothing here owns a goroutine. Signal plus a Wait that finds the count
// costs about 15 ns and allocates nothing; a Broadcast costs a lock and a
// signal per registered CV.
package cv
