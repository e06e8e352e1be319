package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/sockets"
)

// catProtocol returns the protocol of one of cat's protocol options.
// pair1 is poly: NNG's pair v1, whose monogamous mode nngcat uses, is the
// same wire protocol.
func catProtocol(o catOpt) sockets.Protocol {
	switch o {
	case catReq0:
		return sockets.Req
	case catRep0:
		return sockets.Rep
	case catPub0:
		return sockets.Pub
	case catSub0:
		return sockets.Sub
	case catPush0:
		return sockets.Push
	case catPull0:
		return sockets.Pull
	case catSurvey0:
		return sockets.Surveyor
	case catRespond0:
		return sockets.Respondent
	case catPair0:
		return sockets.Pair
	case catPair1:
		return sockets.Poly
	}
	return sockets.Bus
}

// catFlushLimit bounds the wait, before exiting, for messages still
// queued to be written; catDrainWait is nngcat's pause after its send and
// reply loops.
const (
	catFlushLimit = time.Second
	catDrainWait  = 200 * time.Millisecond
)

// runCat opens the socket cfg describes, starts its endpoints in
// command-line order and runs nngcat's loop for the protocol, printing to
// out. It returns when the loop ends (count reached, receive time-out, a
// survey or request finished), on a send or receive error, or when ctx
// ends, and closes the socket before returning.
func runCat(ctx context.Context, cfg *catConfig, out, errOut io.Writer) error {
	s, err := sockets.New(catProtocol(cfg.proto))
	if err != nil {
		return fmt.Errorf("unable to open socket: %w", err)
	}
	defer s.Close()
	if err := cfg.setup(s, out); err != nil {
		return err
	}
	r := &catRunner{cfg: cfg, s: s, p: &catPrinter{format: cfg.format, out: out, errOut: errOut}}
	switch cfg.proto {
	case catSub0, catPull0:
		err = r.recvLoop(ctx, cfg.count)
	case catRep0, catRespond0:
		if cfg.hasData {
			err = r.respLoop(ctx)
		} else {
			err = r.recvLoop(ctx, cfg.count)
		}
	case catPush0, catPub0:
		err = r.sendLoop(ctx)
	case catBus0, catPair0, catPair1:
		if cfg.hasData {
			err = r.sendRecv(ctx)
		} else {
			err = r.recvLoop(ctx, cfg.count)
		}
	case catReq0, catSurvey0:
		err = r.sendRecv(ctx)
	}
	if err != nil {
		return err
	}
	fctx, cancel := context.WithTimeout(ctx, catFlushLimit)
	_ = s.Flush(fctx) // best effort: what was sent is written before Close
	cancel()
	if cfg.proto == catPush0 || cfg.proto == catPub0 || ((cfg.proto == catRep0 || cfg.proto == catRespond0) && cfg.hasData) {
		// nngcat's sendloop and resploop then wait 200 ms "to give
		// queues a chance to drain": a script that runs senders one
		// after another relies on it to see their messages in order,
		// since each connection is read on its own.
		return catSleep(ctx, catDrainWait)
	}
	return nil
}

// setup sets the socket's options and starts its endpoints, printing each
// in verbose mode as nngcat does.
func (c *catConfig) setup(s *sockets.Socket, out io.Writer) error {
	for _, t := range c.topics {
		if err := s.Subscribe(t); err != nil {
			return fmt.Errorf("unable to subscribe to topic %s: %w", t, err)
		}
	}
	if c.proto == catSub0 && !c.hasTopics {
		if err := s.Subscribe(""); err != nil {
			return fmt.Errorf("unable to subscribe: %w", err)
		}
	}
	if c.recvMaxSz >= 0 {
		if err := sockets.Set(s, sockets.RecvSizeMax, c.recvMaxSz); err != nil {
			return fmt.Errorf("unable to set max receive size: %w", err)
		}
	}
	// One TLS config per side, made on first use.
	tlsFor := map[bool]*sockets.TLSConfig{}
	endpointOpts := func(url string, listen bool) ([]sockets.EndpointOption, error) {
		if !strings.HasPrefix(url, "tls+") && !strings.HasPrefix(url, "wss") {
			return nil, nil
		}
		if tlsFor[listen] == nil {
			cfg, err := c.tlsConfig(listen)
			if err != nil {
				return nil, err
			}
			tlsFor[listen] = cfg
		}
		return []sockets.EndpointOption{sockets.TLS(tlsFor[listen])}, nil
	}
	for _, a := range c.addrs {
		opts, err := endpointOpts(a.url, a.listen)
		if err != nil {
			return err
		}
		if !a.listen {
			mode := sockets.Sync
			if c.async {
				mode = sockets.Async
			}
			d, err := s.Dial(a.url, append(opts, mode)...)
			if err != nil {
				return err
			}
			if c.verbose {
				fmt.Fprintf(out, "Connected to: %s\n", d.URL())
			}
			continue
		}
		l, err := s.Listen(a.url, opts...)
		if err != nil {
			return err
		}
		if c.verbose {
			fmt.Fprintf(out, "Listening at: %s\n", l.URL())
		}
	}
	return nil
}

// tlsConfig builds the TLS config of dialers (server false) or listeners
// as nngcat's configtls: --insecure turns off verification, --cert (with
// --key, or the key in the cert file) is the endpoint's own certificate,
// --cacert the roots. Like NNG, a server does not ask for client
// certificates, and a client verifies the server unless --insecure.
func (c *catConfig) tlsConfig(server bool) (*sockets.TLSConfig, error) {
	if server && !c.hasCert {
		// Name the flags: the Go API's TLSCert means nothing here.
		return nil, errors.New("unable to configure TLS: a tls+tcp:// or wss:// listener needs a certificate: give --cert FILE (and --key FILE unless the cert file holds the key)")
	}
	var opts []sockets.TLSOption
	if c.hasCert {
		opts = append(opts, sockets.TLSCert(c.cert, c.key))
	}
	if c.hasCA {
		opts = append(opts, sockets.TLSCA(c.caCert))
	}
	var (
		cfg *sockets.TLSConfig
		err error
	)
	if server {
		cfg, err = sockets.NewTLSServer(append(opts, sockets.TLSAuth(sockets.TLSAuthNone))...)
	} else {
		if c.insecure {
			opts = append(opts, sockets.TLSAuth(sockets.TLSAuthNone))
		}
		cfg, err = sockets.NewTLSClient(opts...)
	}
	if err != nil {
		return nil, fmt.Errorf("unable to configure TLS: %w", err)
	}
	return cfg, nil
}

// catRunner runs one of nngcat's loops on its socket.
type catRunner struct {
	cfg *catConfig
	s   *sockets.Socket
	p   *catPrinter
}

// catRecvDone reports whether a receive error ends a receive loop normally: a
// time-out, a finished request or survey (NNG's ESTATE), or nothing to
// read at once after a deadline that had already passed.
func catRecvDone(err error) bool {
	return errors.Is(err, nanoact.ErrTimedOut) || errors.Is(err, nanoact.ErrState) || errors.Is(err, nanoact.ErrTryAgain)
}

// catInterrupted returns the error that ends a loop whose ctx ended.
func catInterrupted(ctx context.Context) error {
	if err := context.Cause(ctx); err != nil {
		return fmt.Errorf("interrupted: %w", err)
	}
	return nil
}

// recvLoop prints what arrives until a receive times out (the socket's
// --recv-timeout) or fails with ErrState, or count messages (0: no limit).
func (r *catRunner) recvLoop(ctx context.Context, count int) error {
	for iters := 0; count == 0 || iters < count; iters++ {
		m, err := r.recv(ctx)
		if ctx.Err() != nil {
			return catInterrupted(ctx)
		}
		if catRecvDone(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("receive error: %w", err)
		}
		err = r.p.print(m)
		m.Free()
		if err != nil {
			return err
		}
	}
	return nil
}

// respLoop answers each request with the data after printing it, count
// times (0: until an error, including a receive time-out, as nngcat).
func (r *catRunner) respLoop(ctx context.Context) error {
	for iters := 0; ; {
		m, err := r.recv(ctx)
		if ctx.Err() != nil {
			return catInterrupted(ctx)
		}
		if err != nil {
			return fmt.Errorf("receive error: %w", err)
		}
		err = r.p.print(m)
		m.Free()
		if err != nil {
			return err
		}
		if err := r.send(ctx); err != nil {
			return err
		}
		iters++
		if r.cfg.count > 0 && iters >= r.cfg.count {
			return nil
		}
	}
}

// recv receives one message within --recv-timeout, if given.
func (r *catRunner) recv(ctx context.Context) (*sockets.Msg, error) {
	if r.cfg.recvTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.cfg.recvTimeout)
		defer cancel()
	}
	return r.s.Recv(ctx)
}

// send sends the data once, within --send-timeout, if given.
func (r *catRunner) send(ctx context.Context) error {
	sctx := ctx
	if r.cfg.sendTimeout > 0 {
		var cancel context.CancelFunc
		sctx, cancel = context.WithTimeout(ctx, r.cfg.sendTimeout)
		defer cancel()
	}
	m := sockets.NewMsg(r.cfg.data)
	if err := r.s.SendMsg(sctx, m); err != nil {
		m.Free()
		if ctx.Err() != nil {
			return catInterrupted(ctx)
		}
		return fmt.Errorf("send error: %w", err)
	}
	return nil
}

// catSleep waits d or until ctx ends.
func catSleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return catInterrupted(ctx)
	}
}

// sendLoop sends the data after the delay: once, or every interval
// (accounting for the time a send took), count times (0: no limit).
func (r *catRunner) sendLoop(ctx context.Context) error {
	if err := catSleep(ctx, r.cfg.delay); err != nil {
		return err
	}
	for iters := 0; ; {
		start := time.Now()
		if err := r.send(ctx); err != nil {
			return err
		}
		delta := time.Since(start)
		iters++
		if (r.cfg.interval < 0 && r.cfg.count == 0) || (r.cfg.count > 0 && iters >= r.cfg.count) {
			return nil
		}
		if err := catSleep(ctx, r.cfg.interval-delta); err != nil {
			return err
		}
	}
}

// sendRecv sends the data after the delay and prints what arrives until
// the interval ends (or --recv-timeout, if shorter, passes with nothing
// received, or the request or survey completes), then sends again, count
// times (0: no limit). With neither --interval nor --count it sends once
// and receives as recvLoop.
func (r *catRunner) sendRecv(ctx context.Context) error {
	if err := catSleep(ctx, r.cfg.delay); err != nil {
		return err
	}
	for iters := 0; ; {
		start := time.Now()
		if err := r.send(ctx); err != nil {
			return err
		}
		if r.cfg.interval < 0 && r.cfg.count == 0 {
			return r.recvLoop(ctx, 0)
		}
		for {
			m, err := r.recvWithin(ctx, start)
			if ctx.Err() != nil {
				return catInterrupted(ctx)
			}
			if catRecvDone(err) {
				break
			}
			if err != nil {
				return fmt.Errorf("cannot receive: %w", err)
			}
			err = r.p.print(m)
			m.Free()
			if err != nil {
				return err
			}
		}
		delta := time.Since(start)
		iters++
		if r.cfg.count > 0 && iters >= r.cfg.count {
			return nil
		}
		if err := catSleep(ctx, r.cfg.interval-delta); err != nil {
			return err
		}
	}
}

// recvWithin receives one message in sendRecv's inner loop: within what
// is left of the interval that began at start, or of --recv-timeout if
// that is shorter; with no interval, as the socket's time-out says.
func (r *catRunner) recvWithin(ctx context.Context, start time.Time) (*sockets.Msg, error) {
	if r.cfg.interval < 0 {
		return r.recv(ctx)
	}
	expire := r.cfg.interval - time.Since(start)
	if r.cfg.recvTimeout > 0 && expire > r.cfg.recvTimeout {
		expire = r.cfg.recvTimeout
	}
	if expire <= 0 {
		return r.s.Recv(sockets.NonBlock(ctx))
	}
	rctx, cancel := context.WithTimeout(ctx, expire)
	defer cancel()
	return r.s.Recv(rctx)
}
