package actor

// Started is the first message an actor receives, and the last one of a
// restart.
type Started struct{}

// Stopping is received when the actor has been asked to stop, before its
// children are stopped. Messages may still arrive until Stopped.
type Stopping struct{}

// Stopped is the last message an actor receives: its children have all
// stopped and it is out of the registry. Ref.Done closes after it.
type Stopped struct{}

// Restarting is received when the supervisor restarts the actor, before its
// children are stopped and Started is delivered again.
type Restarting struct{}

// ChildFailed is received by a supervisor after a child panicked and the
// supervisor's Strategy chose Directive, which has been applied when this
// arrives (Restart after a back-off is only scheduled; a child that was
// already stopping is never restarted). It is the hook for waking waiters
// on failure: broadcast to condition variables here.
type ChildFailed struct {
	// Child is the failed child. After Escalate from below it is the
	// child whose own supervisor escalated.
	Child *Ref
	// Reason is the recovered panic, with its stack.
	Reason *Panic
	// Directive is the Strategy's decision; Restart beyond the budget is
	// reported as Stop.
	Directive Directive
}

// ChildStopped is received by a parent when a child has stopped, whatever
// the cause: Stop, a Stop directive, or the parent's own restart.
type ChildStopped struct {
	Child *Ref
}
