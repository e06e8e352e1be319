package ncurl

import (
	"context"
	"sync"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/promises"
)

// Call is an HTTP transaction in flight, started by DoAsync (nanonext's
// ncurlAio). It completes exactly once, with a *Response or an error; its
// methods are safe for concurrent use. Its shape is that of an aio (Done,
// Value, Stop, Resolved), so that it can be adapted to the aio package.
//
// A Call owns one goroutine while its request runs; that goroutine ends
// when the request completes, fails, times out or is stopped, whether or
// not anyone waits for the result.
type Call struct {
	done   chan struct{}
	cancel context.CancelFunc
	resp   *Response // written before done is closed
	err    error

	mu      sync.Mutex
	settled bool
	promise *promises.Promise[*Response]
	resolve func(*Response)
	reject  func(error)
}

// DoAsync starts the transaction Do would perform and returns at once
// (nanonext's ncurl_aio, which also takes Follow here). Invalid options or
// URL give a Call that is already complete with the error. The request is
// bounded only by the Timeout option and Stop; no ctx governs it, since
// ending a wait never cancels the operation.
func DoAsync(url string, opts ...Option) *Call {
	c := &Call{done: make(chan struct{})}
	r, err := newRequest(url, opts)
	if err != nil {
		c.cancel = func() {}
		c.complete(nil, err)
		return c
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go func() {
		resp, err := r.do(ctx)
		c.complete(resp, err)
	}()
	return c
}

// complete records the outcome, wakes every waiter and settles the promise
// if one was made.
func (c *Call) complete(resp *Response, err error) {
	c.resp, c.err = resp, err
	c.mu.Lock()
	c.settled = true
	resolve, reject := c.resolve, c.reject
	c.resolve, c.reject = nil, nil
	c.mu.Unlock()
	close(c.done)
	c.cancel()
	if resolve != nil {
		settle(resp, err, resolve, reject)
	}
}

// Done returns a channel that is closed when the call completes.
func (c *Call) Done() <-chan struct{} { return c.done }

// Resolved reports whether the call has completed. It never blocks
// (nanonext's unresolved, negated).
func (c *Call) Resolved() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// Value blocks until the call completes and returns its response, or its
// error (see the package doc; Stop gives ErrCanceled). Any status is a
// Response, not an error. If ctx ends first, Value returns ErrTimedOut or
// ErrCanceled wrapping ctx.Err(); that abandons the wait only, and the
// request goes on (use Stop to cancel it). Every waiter gets the same
// *Response.
func (c *Call) Value(ctx context.Context) (*Response, error) {
	select {
	case <-c.done:
		return c.resp, c.err
	default:
	}
	select {
	case <-c.done:
		return c.resp, c.err
	case <-ctx.Done():
		return nil, nanoact.FromContext(ctx, "ncurl: wait")
	}
}

// Stop cancels the request and blocks until the call has completed: a
// request still in flight completes with ErrCanceled (nanonext's
// stop_aio); one already complete keeps its outcome. It may be called any
// number of times, from any goroutine.
func (c *Call) Stop() {
	c.cancel()
	<-c.done
}

// Promise returns a promise, on promises.Default(), that settles when the
// call completes, following nanonext's rule for ncurl aios: status 200
// fulfils it with the *Response; any other status (201 and 3xx included)
// rejects it with a *StatusError, and a failed call with the call's error.
// It does not block; the first call makes the promise (three small
// allocations) and later calls return the same one.
func (c *Call) Promise() *promises.Promise[*Response] {
	c.mu.Lock()
	if c.promise != nil {
		p := c.promise
		c.mu.Unlock()
		return p
	}
	p, resolve, reject := promises.NewResolver[*Response](nil)
	c.promise = p
	settled := c.settled
	if !settled {
		c.resolve, c.reject = resolve, reject
	}
	c.mu.Unlock()
	if settled {
		settle(c.resp, c.err, resolve, reject)
	}
	return p
}

func settle(resp *Response, err error, resolve func(*Response), reject func(error)) {
	switch {
	case err != nil:
		reject(err)
	case resp.Status != 200:
		reject(&StatusError{Response: resp})
	default:
		resolve(resp)
	}
}
