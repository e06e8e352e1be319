package runner

// deque is a double-ended queue on a ring buffer: push and pop at both
// ends in O(1), amortised allocation-free. The zero value is empty and
// ready to use. It is not safe for concurrent use (the dispatcher's actor
// owns its deques).
type deque[T any] struct {
	buf  []T
	head int
	n    int
}

func (q *deque[T]) grow() {
	if q.n < len(q.buf) {
		return
	}
	size := 2 * len(q.buf)
	if size == 0 {
		size = 16
	}
	buf := make([]T, size)
	for i := range q.n {
		buf[i] = q.buf[(q.head+i)%len(q.buf)]
	}
	q.buf, q.head = buf, 0
}

func (q *deque[T]) pushBack(v T) {
	q.grow()
	q.buf[(q.head+q.n)%len(q.buf)] = v
	q.n++
}

func (q *deque[T]) pushFront(v T) {
	q.grow()
	q.head = (q.head - 1 + len(q.buf)) % len(q.buf)
	q.buf[q.head] = v
	q.n++
}

func (q *deque[T]) popFront() (T, bool) {
	var zero T
	if q.n == 0 {
		return zero, false
	}
	v := q.buf[q.head]
	q.buf[q.head] = zero
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	return v, true
}

// each calls fn for every element, front to back.
func (q *deque[T]) each(fn func(T)) {
	for i := range q.n {
		fn(q.buf[(q.head+i)%len(q.buf)])
	}
}

// clear empties the queue, keeping its buffer.
func (q *deque[T]) clear() {
	var zero T
	for i := range q.n {
		q.buf[(q.head+i)%len(q.buf)] = zero
	}
	q.head, q.n = 0, 0
}

// removeFunc removes the elements for which del is true, keeping the
// order of the others. O(n).
func (q *deque[T]) removeFunc(del func(T) bool) {
	var zero T
	k := 0
	for i := range q.n {
		v := q.buf[(q.head+i)%len(q.buf)]
		if !del(v) {
			q.buf[(q.head+k)%len(q.buf)] = v
			k++
		}
	}
	for i := k; i < q.n; i++ {
		q.buf[(q.head+i)%len(q.buf)] = zero
	}
	q.n = k
}
