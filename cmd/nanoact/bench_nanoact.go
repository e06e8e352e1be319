package main

import (
	"context"
	"fmt"
	"sync"

	"github.com/nanoact/nanoact/sockets"
)

// nanoactImpl opens nanoact sockets the way a user would: sockets.New,
// Listen, a Sync dial, SendMsg with a pooled message, Recv and Free.
// Sends and receives block (a context without deadline); the time limit
// is enforced by closing the sockets (goSystem.watch).
type nanoactImpl struct{}

func (nanoactImpl) name() string { return sysNanoact }

func (nanoactImpl) reqRep(url string) (reqRep, error) {
	rep, req, err := nanoactPair(sockets.Rep, sockets.Req, url)
	if err != nil {
		return nil, err
	}
	p := &nanoactReqRep{req: req, rep: rep, done: make(chan struct{})}
	go p.echo()
	return p, nil
}

func (nanoactImpl) pushPull(url string) (pushPull, error) {
	pull, push, err := nanoactPair(sockets.Pull, sockets.Push, url)
	if err != nil {
		return nil, err
	}
	return &nanoactPushPull{push: push, pull: pull}, nil
}

// nanoactPair opens a socket of protocol lp listening at url and one of dp
// dialled to it.
func nanoactPair(lp, dp sockets.Protocol, url string) (ls, ds *sockets.Socket, err error) {
	ls, err = sockets.New(lp)
	if err != nil {
		return nil, nil, fmt.Errorf("nanoact: open %s: %w", lp, err)
	}
	l, err := ls.Listen(url)
	if err != nil {
		_ = ls.Close()
		return nil, nil, fmt.Errorf("nanoact: %w", err)
	}
	ds, err = sockets.New(dp, sockets.Dial(l.URL(), sockets.Sync))
	if err != nil {
		_ = ls.Close()
		return nil, nil, fmt.Errorf("nanoact: %w", err)
	}
	return ls, ds, nil
}

type nanoactReqRep struct {
	req, rep *sockets.Socket
	done     chan struct{} // closed when echo returns
	once     sync.Once
}

// echo answers every request with the request message itself.
func (p *nanoactReqRep) echo() {
	defer close(p.done)
	ctx := context.Background()
	for {
		m, err := p.rep.Recv(ctx)
		if err != nil {
			return
		}
		if err := p.rep.SendMsg(ctx, m); err != nil {
			m.Free()
			return
		}
	}
}

func (p *nanoactReqRep) roundTrip(payload []byte) (int, error) {
	ctx := context.Background()
	m := sockets.NewMsg(payload)
	if err := p.req.SendMsg(ctx, m); err != nil {
		m.Free()
		return 0, err
	}
	r, err := p.req.Recv(ctx)
	if err != nil {
		return 0, err
	}
	n := len(r.Body)
	r.Free()
	return n, nil
}

func (p *nanoactReqRep) close() {
	p.once.Do(func() {
		_ = p.req.Close()
		_ = p.rep.Close()
		<-p.done
	})
}

type nanoactPushPull struct {
	push, pull *sockets.Socket
	once       sync.Once
}

func (p *nanoactPushPull) send(payload []byte) error {
	m := sockets.NewMsg(payload)
	if err := p.push.SendMsg(context.Background(), m); err != nil {
		m.Free()
		return err
	}
	return nil
}

func (p *nanoactPushPull) recv() (int, error) {
	m, err := p.pull.Recv(context.Background())
	if err != nil {
		return 0, err
	}
	n := len(m.Body)
	m.Free()
	return n, nil
}

func (p *nanoactPushPull) close() {
	p.once.Do(func() {
		_ = p.push.Close()
		_ = p.pull.Close()
	})
}
