package main

import (
	"fmt"
	"sync"

	"go.nanomsg.org/mangos/v3"
	mpull "go.nanomsg.org/mangos/v3/protocol/pull"
	mpush "go.nanomsg.org/mangos/v3/protocol/push"
	mrep "go.nanomsg.org/mangos/v3/protocol/rep"
	mreq "go.nanomsg.org/mangos/v3/protocol/req"

	// Plain mangos' transports, registered in mangos' process-wide table
	// under "inproc", "ipc" and "tcp". nanoact registers its own tcp and
	// ipc under private scheme names, so the two coexist in one process.
	_ "go.nanomsg.org/mangos/v3/transport/inproc"
	_ "go.nanomsg.org/mangos/v3/transport/ipc"
	_ "go.nanomsg.org/mangos/v3/transport/tcp"
)

// mangosImpl opens plain mangos v3 sockets with their defaults, as the
// mangos benchmarks beside nanoact's do: blocking SendMsg/RecvMsg, a
// message from mangos.NewMessage per send, Free after each receive.
type mangosImpl struct{}

func (mangosImpl) name() string { return sysMangos }

func (mangosImpl) reqRep(url string) (reqRep, error) {
	rep, req, err := mangosPair(mrep.NewSocket, mreq.NewSocket, url)
	if err != nil {
		return nil, err
	}
	p := &mangosReqRep{req: req, rep: rep, done: make(chan struct{})}
	go p.echo()
	return p, nil
}

func (mangosImpl) pushPull(url string) (pushPull, error) {
	pull, push, err := mangosPair(mpull.NewSocket, mpush.NewSocket, url)
	if err != nil {
		return nil, err
	}
	return &mangosPushPull{push: push, pull: pull}, nil
}

// mangosPair opens a socket listening at url (tcp on port 0 reports its
// bound address) and one dialled to it.
func mangosPair(listen, dial func() (mangos.Socket, error), url string) (ls, ds mangos.Socket, err error) {
	if ls, err = listen(); err != nil {
		return nil, nil, fmt.Errorf("mangos: %w", err)
	}
	l, err := ls.NewListener(url, nil)
	if err == nil {
		err = l.Listen()
	}
	if err != nil {
		_ = ls.Close()
		return nil, nil, fmt.Errorf("mangos: listen %s: %w", url, err)
	}
	addr := url
	if url == "tcp://127.0.0.1:0" {
		addr = l.Address()
	}
	if ds, err = dial(); err == nil {
		if err = ds.Dial(addr); err != nil {
			_ = ds.Close()
		}
	}
	if err != nil {
		_ = ls.Close()
		return nil, nil, fmt.Errorf("mangos: dial %s: %w", addr, err)
	}
	return ls, ds, nil
}

type mangosReqRep struct {
	req, rep mangos.Socket
	done     chan struct{} // closed when echo returns
	once     sync.Once
}

func (p *mangosReqRep) echo() {
	defer close(p.done)
	for {
		m, err := p.rep.RecvMsg()
		if err != nil {
			return
		}
		if err := p.rep.SendMsg(m); err != nil {
			m.Free()
			return
		}
	}
}

func (p *mangosReqRep) roundTrip(payload []byte) (int, error) {
	m := mangos.NewMessage(len(payload))
	m.Body = append(m.Body, payload...)
	if err := p.req.SendMsg(m); err != nil {
		m.Free()
		return 0, err
	}
	r, err := p.req.RecvMsg()
	if err != nil {
		return 0, err
	}
	n := len(r.Body)
	r.Free()
	return n, nil
}

func (p *mangosReqRep) close() {
	p.once.Do(func() {
		_ = p.req.Close()
		_ = p.rep.Close()
		<-p.done
	})
}

type mangosPushPull struct {
	push, pull mangos.Socket
	once       sync.Once
}

func (p *mangosPushPull) send(payload []byte) error {
	m := mangos.NewMessage(len(payload))
	m.Body = append(m.Body, payload...)
	if err := p.push.SendMsg(m); err != nil {
		m.Free()
		return err
	}
	return nil
}

func (p *mangosPushPull) recv() (int, error) {
	m, err := p.pull.RecvMsg()
	if err != nil {
		return 0, err
	}
	n := len(m.Body)
	m.Free()
	return n, nil
}

func (p *mangosPushPull) close() {
	p.once.Do(func() {
		_ = p.push.Close()
		_ = p.pull.Close()
	})
}
