package rpc

import (
	"context"
	"runtime"
	"sync"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/aio"
	"github.com/nanoact/nanoact/internal/tracing"
	"github.com/nanoact/nanoact/sockets"
)

// Client calls a Server (or any rep peer) from many goroutines at once.
// It owns one req socket and a pool of its contexts: each call borrows a
// context, so concurrent calls run side by side and each reply reaches its
// caller. It must be Closed.
type Client struct {
	sock *sockets.Socket
	idle chan *sockets.Context

	mu     sync.Mutex
	closed bool
}

// NewClient opens a req socket with the given options (usually
// sockets.Dial(url) — a Sync dial fails at once if nobody listens; an
// Async one connects when the server comes) and returns a client on it.
// A Sync dial blocks for its connection and handshake; bound it with
// sockets.StartContext(ctx):
//
//	c, err := rpc.NewClient(sockets.Dial(url, sockets.Sync, sockets.StartContext(ctx)))
//
// Idle contexts are kept up to four per CPU; more are opened as needed.
func NewClient(opts ...sockets.Option) (*Client, error) {
	s, err := sockets.New(sockets.Req, opts...)
	if err != nil {
		return nil, err
	}
	return &Client{sock: s, idle: make(chan *sockets.Context, 4*runtime.GOMAXPROCS(0))}, nil
}

// Socket returns the client's req socket, for options and statistics.
func (c *Client) Socket() *sockets.Socket { return c.sock }

func (c *Client) get() (*sockets.Context, error) {
	select {
	case rc := <-c.idle:
		return rc, nil
	default:
	}
	return c.sock.Context()
}

func (c *Client) put(rc *sockets.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		select {
		case c.idle <- rc:
			return
		default:
		}
	}
	_ = rc.Close()
}

// Go starts a call and returns its aio at once: Request on a pooled
// context, which goes back to the pool when the aio resolves.
func Go[T any](c *Client, data any, opts ...Option) *aio.Aio[T] {
	rc, err := c.get()
	if err != nil {
		return aio.Go(func(context.Context) (T, error) {
			var zero T
			return zero, err
		})
	}
	a := Request[T](rc, data, opts...)
	a.OnComplete(func(T, error) { c.put(rc) })
	return a
}

// Call sends data and waits for the reply, decoded as T. Ending ctx
// abandons the request (a late reply is dropped) and returns an error
// matching ErrTimedOut or ErrCanceled; an error reply from the server
// returns an error matching ErrRemote.
func Call[T any](ctx context.Context, c *Client, data any, opts ...Option) (T, error) {
	if tracing.Valid(ctx) { // the span in ctx is the request's parent
		opts = append(opts[:len(opts):len(opts)], ParentSpan(ctx))
	}
	a := Go[T](c, data, opts...)
	v, err := a.Value(ctx)
	if err != nil && ctx.Err() != nil {
		a.Stop() // give up the request itself, not just the wait
	}
	return v, err
}

// Close closes the client's socket and contexts; calls in flight end with
// ErrClosed. A second Close returns ErrClosed.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return &nanoact.Error{Code: nanoact.CodeClosed, Op: "rpc: close client"}
	}
	c.closed = true
	c.mu.Unlock()
	return c.sock.Close()
}
