package runner

// Daemon ids on a dispatcher: the newest authenticated connection under
// an id wins (see the package doc, "Daemon ids").

import (
	"fmt"

	"go.uber.org/zap"

	"github.com/nanoact/nanoact"
)

// connectedAs returns the joined daemon whose id is id, or nil. Ids are
// unique among joined daemons (takeOver keeps them so). It runs on the
// actor; a pass over the daemons.
func (d *Dispatcher) connectedAs(id string) *daemonConn {
	for _, dm := range d.st.daemons {
		if dm.id == id {
			return dm
		}
	}
	return nil
}

// takeOver replaces old, whose id the authenticated hello on pipe names:
// the daemon redialed after a blip while its old connection is still
// half-open here (a NAT time-out), or two daemons were started under one
// id. old leaves at once, as a lost connection does (its running tasks
// re-queued or failed once the reader has taken the results it sent, its
// pinned tasks failed), so that from here on no task goes to it and
// OnDaemon and the interrupt kill find the new connection; its later
// removal event finds nothing left to tear down. old is then sent a
// refusal with code CodeExists and closed like a refused connection
// (turnAway): a live daemon on it stops with ErrReplaced instead of
// redialing and taking the id back, a half-open one never reads it.
// Logged at Warn and counted in Status.Replaced. It runs on the actor.
func (d *Dispatcher) takeOver(old *daemonConn, pipe uint32) {
	d.st.replaced++
	remote := d.sock.PeerAddr(pipe)
	d.log.Warn("daemon id taken over by a new connection: the old one is refused (a redial after a blip, or two daemons under one id)",
		zap.String("daemon", old.id), zap.Uint32("old_pipe", old.pipe), zap.String("old_remote", old.remote.String),
		zap.Uint32("pipe", pipe), zap.String("remote", remote), zap.Int("running", len(old.running)))
	d.onPipeRemoved(old.pipe)
	// After onPipeRemoved, which forgets a refused pipe: the old pipe's
	// own removal event does that.
	d.turnAway(old.pipe, fmt.Sprintf("daemon id %q taken over by a newer connection from %s", old.id, remote), nanoact.CodeExists)
}
