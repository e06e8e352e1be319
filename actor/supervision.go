package actor

import (
	"fmt"
	"strconv"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"
)

// Directive is what a supervisor does with a child that panicked.
type Directive int

// The directives, as in Erlang/OTP and protoactor.
const (
	// Resume keeps the child and its state and goes on with its next
	// message; the message that panicked is lost.
	Resume Directive = iota
	// Restart stops the child's own children, then delivers Restarting and
	// Started to the same Receiver; queued messages are kept.
	Restart
	// Stop stops the child (and its children).
	Stop
	// Escalate fails the supervisor itself with the same reason, so that
	// its own parent decides. At top level it means Stop.
	Escalate
)

// String returns the directive's name in lower case, e.g. "restart".
func (d Directive) String() string {
	switch d {
	case Resume:
		return "resume"
	case Restart:
		return "restart"
	case Stop:
		return "stop"
	case Escalate:
		return "escalate"
	}
	return "directive(" + strconv.Itoa(int(d)) + ")"
}

// Strategy is how an actor supervises its children: which directive a
// failure gets, whether it applies to the failed child only (OneForOne) or
// to all children (AllForOne), how many restarts are allowed, and how long
// to wait before one.
//
// The zero Strategy restarts the failed child at once, at most 10 times in
// 10 s, then stops it (protoactor's default). A Strategy is a small value;
// copy it freely.
type Strategy struct {
	set        bool
	allForOne  bool
	maxRetries int
	within     time.Duration
	decide     func(reason *Panic) Directive
	backoff    time.Duration
	maxBackoff time.Duration
}

// OneForOne returns a Strategy that applies decide's directive to the
// failed child only; reason carries the panic value and stack. A nil decide always
// restarts.
//
// maxRetries bounds the restarts counted within the last within (all
// restarts when within is 0): the failure after the last allowed restart
// stops the child instead. maxRetries 0 never restarts; a negative
// maxRetries never gives up.
func OneForOne(maxRetries int, within time.Duration, decide func(reason *Panic) Directive) Strategy {
	return Strategy{set: true, maxRetries: maxRetries, within: within, decide: decide}
}

// AllForOne is OneForOne for children that depend on one another: Restart
// and Stop apply to every child of the supervisor, not only the failed
// one. Resume and Escalate concern the failed child only.
func AllForOne(maxRetries int, within time.Duration, decide func(reason *Panic) Directive) Strategy {
	s := OneForOne(maxRetries, within, decide)
	s.allForOne = true
	return s
}

// WithBackoff returns s with restarts delayed: the n-th failure within s's
// window waits initial·2^(n-1), at most maxDelay (no cap when maxDelay ≤
// 0), before the restart. The child's mailbox is suspended meanwhile;
// messages wait. The delay is a timer owned by the System (no goroutine
// while it waits), cancelled by Close. initial ≤ 0 means no delay. A
// zero s gets the zero Strategy's budget and decider.
func (s Strategy) WithBackoff(initial, maxDelay time.Duration) Strategy {
	s = s.orDefault()
	s.backoff, s.maxBackoff = initial, maxDelay
	return s
}

func (s Strategy) orDefault() Strategy {
	if !s.set {
		return Strategy{set: true, maxRetries: 10, within: 10 * time.Second}
	}
	return s
}

// giveUp counts a failure in rs and reports whether the restart budget is
// spent (as protoactor's strategies do).
func (s Strategy) giveUp(rs *pa.RestartStatistics) bool {
	if s.maxRetries == 0 {
		return true
	}
	if s.within > 0 && rs.NumberOfFailures(s.within) == 0 {
		rs.Reset() // keep the history from growing for ever
	}
	rs.Fail()
	if s.maxRetries > 0 && rs.NumberOfFailures(s.within) > s.maxRetries {
		rs.Reset()
		return true
	}
	return false
}

func (s Strategy) delay(rs *pa.RestartStatistics) time.Duration {
	if s.backoff <= 0 {
		return 0
	}
	d := s.backoff
	for n := rs.NumberOfFailures(s.within); n > 1; n-- {
		d *= 2
		if s.maxBackoff > 0 && d >= s.maxBackoff {
			return s.maxBackoff
		}
	}
	if s.maxBackoff > 0 && d > s.maxBackoff {
		d = s.maxBackoff
	}
	return d
}

// SpawnOption configures Spawn.
type SpawnOption interface{ applySpawn(*spawnConfig) }

type spawnConfig struct {
	strategy Strategy
}

type spawnOptionFunc func(*spawnConfig)

func (f spawnOptionFunc) applySpawn(c *spawnConfig) { f(c) }

// WithSupervisor sets how the new actor supervises the children it
// spawns. The default is the zero Strategy.
func WithSupervisor(s Strategy) SpawnOption {
	return spawnOptionFunc(func(c *spawnConfig) { c.strategy = s })
}

// Panic is the reason of every failure: a panic recovered from a Receiver
// or a Call's function, with the stack of the goroutine that panicked.
// Requests that were being handled fail with ErrInternal wrapping it.
type Panic struct {
	// Value is what was passed to panic.
	Value any
	// Stack is the panicking goroutine's stack (runtime/debug.Stack).
	Stack []byte
}

// Error returns "actor: panic: " and the panic value.
func (p *Panic) Error() string { return fmt.Sprintf("actor: panic: %v", p.Value) }

// Unwrap returns Value if it is an error, so errors.Is and errors.As see
// through a panic(err).
func (p *Panic) Unwrap() error {
	err, _ := p.Value.(error)
	return err
}

func asPanic(reason any) *Panic {
	if p, ok := reason.(*Panic); ok {
		return p
	}
	return &Panic{Value: reason}
}

// restartMsg asks a supervisor, in its own mailbox, to restart children
// after a back-off delay.
type restartMsg struct{ children []*Ref }

// rootSupervisor supervises the top-level actors of a System with the zero
// Strategy. protoactor calls it on the failed actor's goroutine.
type rootSupervisor struct{ s *System }

func (g *rootSupervisor) HandleFailure(_ *pa.ActorSystem, sup pa.Supervisor, child *pa.PID, rs *pa.RestartStatistics, reason, message any) {
	g.s.supervise(Strategy{}, nil, sup, child, rs, reason, message)
}

// supervise applies st to a failed child of parent (nil for a top-level
// actor, with sup the guardian), then delivers ChildFailed to parent. It
// runs on the parent's goroutine (the child's one at top level).
func (s *System) supervise(st Strategy, parent *Ref, sup pa.Supervisor, child *pa.PID, rs *pa.RestartStatistics, reason, message any) {
	st = st.orDefault()
	p := asPanic(reason)
	var ch *Ref
	if parent != nil {
		ch = parent.children[child.Id]
	} else if v, ok := s.tops.Load(child.Id); ok {
		ch = v.(*Ref)
	}
	d := Restart
	if st.decide != nil {
		d = st.decide(p)
	}
	if d == Escalate && parent == nil {
		d = Stop
	}
	if d == Restart && st.giveUp(rs) {
		d = Stop
	}
	targets := []*Ref{ch}
	if st.allForOne && parent != nil && (d == Restart || d == Stop) {
		targets = targets[:0]
		for _, c := range parent.children {
			targets = append(targets, c)
		}
	}

	l := s.log
	if parent != nil {
		l = parent.logger()
	}
	l.Info("supervisor directive", zap.String("child", child.Id), zap.Stringer("directive", d), zap.Any("reason", p.Value))

	switch {
	case ch == nil: // not ours; cannot happen, but let protoactor's logic apply
		switch d {
		case Resume:
			sup.ResumeChildren(child)
		case Restart:
			sup.RestartChildren(child)
		case Stop:
			sup.StopChildren(child)
		case Escalate:
			sup.EscalateFailure(reason, message)
		}
	case d == Resume:
		sup.ResumeChildren(child)
	case d == Restart:
		if wait := st.delay(rs); wait > 0 && parent != nil {
			m := &restartMsg{children: targets}
			s.after(wait, func() { s.as.Root.Send(parent.pid, m) })
		} else {
			for _, c := range targets {
				c.restart(sup)
			}
		}
	case d == Stop:
		for _, c := range targets {
			c.stop()
		}
	case d == Escalate:
		sup.EscalateFailure(reason, message)
	}

	if parent != nil && ch != nil {
		parent.invoke(ChildFailed{Child: ch, Reason: p, Directive: d}, nil, false)
	}
}
