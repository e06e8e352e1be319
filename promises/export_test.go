package promises

// NewDirectLoop is NewLoop for a loop that hands each continuation to its
// actor with its own Ref.Send instead of the drained queue: the benchmarks
// compare the two.
func NewDirectLoop(opts ...Option) (*Loop, error) {
	l, err := NewLoop(opts...)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.direct = true
	l.mu.Unlock()
	return l, nil
}
