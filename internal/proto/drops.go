package proto

// Drop is a reason a protocol drops a message; Counters counts each.
type Drop int

// The reasons for dropping a message.
const (
	// DropPubFull: pub dropped a subscriber's oldest queued message to
	// make room for a new one, as NNG does for a slow subscriber.
	DropPubFull Drop = iota
	// DropSendFull: bus or surveyor did not queue a message for a peer
	// whose queue was full (best effort).
	DropSendFull
	// DropRecvFull: a receive queue was full (sub, a survey's answers):
	// sub drops its oldest message (sub:prefnew) or the new one.
	DropRecvFull
	// DropStaleReply: req got a reply to no outstanding request (stale,
	// duplicate after a resend, or for an abandoned request).
	DropStaleReply
	// DropLateAnswer: surveyor got an answer to a survey that is over.
	DropLateAnswer
	// DropPipeGone: a message queued for one pipe only (a reply, a
	// broadcast copy, a directed send) whose pipe closed before sending.
	DropPipeGone
	// DropBad: a message with a malformed protocol header, or one that
	// has travelled more hops than the TTL allows.
	DropBad
	// DropResent counts requests req sent again (timer or failover), each
	// a copy sent because the first may have been lost.
	DropResent
	// NumDrops is the number of reasons.
	NumDrops
)

// String returns the statistic name of reason r, e.g. "drop_pub_full".
func (r Drop) String() string {
	switch r {
	case DropPubFull:
		return "drop_pub_full"
	case DropSendFull:
		return "drop_send_full"
	case DropRecvFull:
		return "drop_recv_full"
	case DropStaleReply:
		return "drop_stale_reply"
	case DropLateAnswer:
		return "drop_late_answer"
	case DropPipeGone:
		return "drop_pipe_gone"
	case DropBad:
		return "drop_bad"
	case DropResent:
		return "req_resent"
	}
	return "unknown"
}

// dropped counts one message dropped for reason r.
func (e *engine) dropped(r Drop) { e.drops[r].Add(1) }
