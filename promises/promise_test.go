package promises_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/actor"
	"github.com/nanoact/nanoact/promises"
)

func TestReadyOrder(t *testing.T) {
	t.Run("settle order", func(t *testing.T) {
		l := newLoop(t)
		const n = 200
		var order []int // touched only by continuations: no lock, -race checks
		resolvers := make([]func(int), n)
		outs := make([]*promises.Promise[int], n)
		for i := range n {
			p, resolve, _ := promises.NewResolver[int](l)
			resolvers[i] = resolve
			outs[i] = p.Then(func(v int) (int, error) {
				order = append(order, v)
				return v, nil
			})
		}
		perm := rand.Perm(n)
		for _, i := range perm {
			resolvers[i](i)
		}
		await(t, promises.All(outs...))
		if !slices.Equal(order, perm) {
			t.Fatalf("continuations ran in order %v, want the settle order %v", order, perm)
		}
	})

	t.Run("registration order on one promise", func(t *testing.T) {
		for _, settled := range []bool{false, true} {
			l := newLoop(t)
			p, resolve, _ := promises.NewResolver[int](l)
			if settled {
				resolve(0)
			}
			var order []int
			var outs []*promises.Promise[int]
			for i := range 20 {
				outs = append(outs, p.Then(func(int) (int, error) {
					order = append(order, i)
					return i, nil
				}))
			}
			resolve(0)
			await(t, promises.All(outs...))
			want := make([]int, 20)
			for i := range want {
				want[i] = i
			}
			if !slices.Equal(order, want) {
				t.Fatalf("settled=%v: order %v, want %v", settled, order, want)
			}
		}
	})

	t.Run("ready, not registered, order", func(t *testing.T) {
		l := newLoop(t)
		var order []string
		rec := func(s string) func(int) (int, error) {
			return func(int) (int, error) { order = append(order, s); return 0, nil }
		}
		p1, resolve1, _ := promises.NewResolver[int](l)
		a := p1.Then(rec("a")) // registered first, ready second
		b := promises.Resolved(l, 0).Then(rec("b"))
		await(t, b)
		resolve1(1)
		await(t, a)
		if !slices.Equal(order, []string{"b", "a"}) {
			t.Fatalf("order %v, want [b a]", order)
		}
	})

	t.Run("no reentrancy", func(t *testing.T) {
		// A promise resolved by a continuation has its own continuations
		// queued, not run inside the resolving one.
		l := newLoop(t)
		p2, resolve2, _ := promises.NewResolver[int](l)
		returned := false
		b := p2.Then(func(int) (int, error) {
			if !returned {
				return 0, errors.New("ran inside the continuation that resolved its promise")
			}
			return 1, nil
		})
		a := promises.Resolved(l, 0).Then(func(int) (int, error) {
			resolve2(1)
			returned = true
			return 0, nil
		})
		await(t, a)
		await(t, b)
	})
}

func TestNeverOnResolvingGoroutine(t *testing.T) {
	l := newLoop(t)
	me := goid()
	for i := range 50 {
		p, resolve, _ := promises.NewResolver[int](l)
		q := promises.Then(p, func(int) (uint64, error) { return goid(), nil })
		resolver := make(chan uint64, 1)
		go func() {
			resolver <- goid()
			resolve(i)
		}()
		got := await(t, q)
		if r := <-resolver; got == r || got == me {
			t.Fatalf("continuation ran on goroutine %d; resolver %d, test %d", got, r, me)
		}
	}
	// Registered on a settled promise, it still runs on the loop.
	q := promises.Then(promises.Resolved(l, 1), func(int) (uint64, error) { return goid(), nil })
	if got := await(t, q); got == me {
		t.Fatalf("continuation ran on the registering goroutine %d", me)
	}
}

func TestOneAtATime(t *testing.T) {
	l := newLoop(t)
	var active, most atomic.Int32
	plain := 0 // only continuations touch it: -race proves they are ordered
	const workers, per = 8, 200
	outs := make([]*promises.Promise[int], workers*per)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range per {
				p, resolve, _ := promises.NewResolver[int](l)
				outs[w*per+i] = p.Then(func(v int) (int, error) {
					n := active.Add(1)
					for {
						m := most.Load()
						if n <= m || most.CompareAndSwap(m, n) {
							break
						}
					}
					plain++
					runtime.Gosched()
					active.Add(-1)
					return v, nil
				})
				resolve(i)
			}
		})
	}
	wg.Wait()
	await(t, promises.All(outs...))
	if m := most.Load(); m != 1 {
		t.Fatalf("%d continuations ran at once", m)
	}
	if plain != workers*per {
		t.Fatalf("%d continuations ran, want %d", plain, workers*per)
	}
}

func TestLongChainGoroutines(t *testing.T) {
	l := newLoop(t)
	base := runtime.NumGoroutine()
	const n = 100_000
	p, resolve, _ := promises.NewResolver[int](l)
	q := p
	most := 0 // written by continuations only
	for range n {
		q = q.Then(func(v int) (int, error) {
			if v%1000 == 0 {
				most = max(most, runtime.NumGoroutine())
			}
			return v + 1, nil
		})
	}
	if g := runtime.NumGoroutine(); g > base+2 {
		t.Fatalf("%d goroutines with %d pending promises, %d before", g, n, base)
	}
	resolve(0)
	if v := await(t, q); v != n {
		t.Fatalf("chain gave %d, want %d", v, n)
	}
	// One goroutine runs the loop while it is busy; allow a couple of
	// lingering ones from earlier tests.
	if most > base+3 {
		t.Fatalf("up to %d goroutines while the chain ran, %d before", most, base)
	}
	if st := l.Stats(); st.Run != n || st.Queued != 0 {
		t.Fatalf("Stats = %+v, want Run %d, Queued 0", st, n)
	}
}

func TestErrorPropagation(t *testing.T) {
	boom := errors.New("boom")

	t.Run("then skipped until catch", func(t *testing.T) {
		l := newLoop(t)
		ran := 0
		q := promises.Resolved(l, 0)
		for range 50 {
			q = q.Then(func(v int) (int, error) {
				ran++
				if v == 9 {
					return 0, boom
				}
				return v + 1, nil
			})
		}
		if err := awaitErr(t, q); !errors.Is(err, boom) {
			t.Fatalf("chain rejected with %v, want boom", err)
		}
		var caught error
		r := q.Catch(func(err error) (int, error) {
			caught = err
			return -1, nil
		}).Then(func(v int) (int, error) { return v * 2, nil })
		if v := await(t, r); v != -2 {
			t.Fatalf("after Catch: %d, want -2", v)
		}
		if ran != 10 || !errors.Is(caught, boom) {
			t.Fatalf("ran %d Thens (want 10), Catch saw %v", ran, caught)
		}
	})

	t.Run("mapping types", func(t *testing.T) {
		l := newLoop(t)
		p := promises.Then(promises.Resolved(l, "x"), func(s string) (int, error) {
			return 0, fmt.Errorf("parse %q: %w", s, boom)
		})
		s := promises.Then(p, func(int) (string, error) { return "unreachable", nil })
		if err := awaitErr(t, s); !errors.Is(err, boom) {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("catch rethrows and is skipped on success", func(t *testing.T) {
		l := newLoop(t)
		wrapped := promises.Rejected[int](l, boom).Catch(func(err error) (int, error) {
			return 0, fmt.Errorf("again: %w", err)
		})
		err := awaitErr(t, wrapped)
		if !errors.Is(err, boom) || err.Error() != "again: boom" {
			t.Fatalf("rethrown: %v", err)
		}
		called := false
		ok := promises.Resolved(l, 7).Catch(func(error) (int, error) { called = true; return 0, nil })
		if v := await(t, ok); v != 7 || called {
			t.Fatalf("Catch on success: %d, called %v", v, called)
		}
	})

	t.Run("finally on both paths", func(t *testing.T) {
		l := newLoop(t)
		n := 0
		f := func() { n++ }
		if v := await(t, promises.Resolved(l, 3).Finally(f).Then(func(v int) (int, error) { return v + 1, nil })); v != 4 {
			t.Fatalf("Finally on success passed %d, want 4", v)
		}
		if err := awaitErr(t, promises.Rejected[int](l, boom).Finally(f)); !errors.Is(err, boom) {
			t.Fatalf("Finally on failure passed %v", err)
		}
		if n != 2 {
			t.Fatalf("Finally ran %d times, want 2", n)
		}
	})
}

func TestPanics(t *testing.T) {
	core, logs := observer.New(zapcore.ErrorLevel)
	l := newLoop(t, promises.WithLogger(zap.New(core)))
	sentinel := errors.New("sentinel")
	mapped := promises.Then(promises.Resolved(l, 1), func(int) (string, error) { panic("map boom") })
	cases := []struct {
		name string
		err  func() error
		val  any
	}{
		{"then", func() error {
			return awaitErr(t, promises.Resolved(l, 1).Then(func(int) (int, error) { panic("then boom") }))
		}, "then boom"},
		{"then error value", func() error {
			return awaitErr(t, promises.Resolved(l, 1).Then(func(int) (int, error) { panic(sentinel) }))
		}, sentinel},
		{"mapping then", func() error { return awaitErr(t, mapped) }, "map boom"},
		{"catch", func() error {
			return awaitErr(t, promises.Rejected[int](l, sentinel).Catch(func(error) (int, error) { panic("catch boom") }))
		}, "catch boom"},
		{"finally fulfilled", func() error {
			return awaitErr(t, promises.Resolved(l, 1).Finally(func() { panic("finally boom") }))
		}, "finally boom"},
		{"finally rejected", func() error {
			return awaitErr(t, promises.Rejected[int](l, sentinel).Finally(func() { panic("finally 2") }))
		}, "finally 2"},
		{"new", func() error {
			return awaitErr(t, promises.New(l, func(func(int), func(error)) { panic("new boom") }))
		}, "new boom"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.err()
			wantCode(t, err, nanoact.ErrInternal)
			var p *actor.Panic
			if !errors.As(err, &p) {
				t.Fatalf("%v does not wrap an *actor.Panic", err)
			}
			if p.Value != c.val {
				t.Fatalf("panic value %v, want %v", p.Value, c.val)
			}
			if !bytes.Contains(p.Stack, []byte("TestPanics")) {
				t.Fatalf("stack does not show the panicking function:\n%s", p.Stack)
			}
			if e, ok := c.val.(error); ok && !errors.Is(err, e) {
				t.Fatalf("errors.Is(%v, %v) = false through the panic", err, e)
			}
		})
	}
	// The loop carries on.
	if v := await(t, promises.Resolved(l, 20).Then(func(v int) (int, error) { return v + 1, nil })); v != 21 {
		t.Fatalf("after panics: %d", v)
	}
	if st := l.Stats(); st.Panics != 7 {
		t.Fatalf("Stats().Panics = %d, want 7", st.Panics)
	}
	if n := logs.FilterMessage("continuation panicked").Len(); n != 7 {
		t.Fatalf("%d panics logged, want 7", n)
	}
}

func TestClose(t *testing.T) {
	l, err := promises.NewLoop()
	if err != nil {
		t.Fatal(err)
	}
	p, resolve, _ := promises.NewResolver[int](l)
	var ran atomic.Bool
	q := promises.Then(p, func(v int) (int, error) { ran.Store(true); return v, nil })
	watched := q.Done()
	other, _, _ := promises.NewResolver[string](l)

	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case <-watched:
	default:
		t.Fatal("Done of a pending promise not closed by Close")
	}
	select {
	case <-l.Done():
	default:
		t.Fatal("Loop.Done not closed")
	}
	resolve(1) // too late: no effect
	_, err = p.Result()
	wantCode(t, err, nanoact.ErrClosed)
	wantCode(t, awaitErr(t, q), nanoact.ErrClosed)
	<-other.Done()
	_, err = other.Result()
	wantCode(t, err, nanoact.ErrClosed)

	// Promises made after Close are born rejected; their continuations
	// never run.
	wantCode(t, awaitErr(t, promises.Then(promises.Resolved(l, 1), func(v int) (int, error) {
		ran.Store(true)
		return v, nil
	})), nanoact.ErrClosed)
	r, resolve2, _ := promises.NewResolver[int](l)
	resolve2(2)
	wantCode(t, awaitErr(t, r), nanoact.ErrClosed)
	wantCode(t, awaitErr(t, promises.All(r, p)), nanoact.ErrClosed)
	if ran.Load() {
		t.Fatal("a continuation ran on a closed loop")
	}
	wantCode(t, l.Close(), nanoact.ErrClosed)
}

func TestCloseBusy(t *testing.T) {
	l, err := promises.NewLoop()
	if err != nil {
		t.Fatal(err)
	}
	started, release := make(chan struct{}), make(chan struct{})
	p := promises.Resolved(l, 0)
	first := p.Then(func(int) (int, error) {
		close(started)
		<-release
		return 1, nil
	})
	var ran atomic.Int32
	var rest []*promises.Promise[int]
	for range 10 {
		rest = append(rest, p.Then(func(v int) (int, error) { ran.Add(1); return v, nil }))
	}
	<-started
	if st := l.Stats(); st.Queued != 10 || st.Run != 1 {
		t.Fatalf("Stats while blocked = %+v, want Queued 10, Run 1 (running)", st)
	}
	closed := make(chan error, 1)
	go func() { closed <- l.Close() }()
	<-l.Done()
	// Close has rejected what was pending but waits for the running
	// continuation, whose late result is ignored.
	wantCode(t, awaitErr(t, first), nanoact.ErrClosed)
	select {
	case err := <-closed:
		t.Fatalf("Close returned %v while a continuation was running", err)
	default:
	}
	close(release)
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	wantCode(t, awaitErr(t, first), nanoact.ErrClosed)
	for _, q := range rest {
		wantCode(t, awaitErr(t, q), nanoact.ErrClosed)
	}
	if n := ran.Load(); n != 0 {
		t.Fatalf("%d queued continuations ran after Close", n)
	}
	if st := l.Stats(); st.Queued != 0 || st.Run != 1 {
		t.Fatalf("Stats after Close = %+v, want Queued 0, Run 1", st)
	}
}

func TestStats(t *testing.T) {
	l := newLoop(t)
	if st := l.Stats(); st != (promises.Stats{}) {
		t.Fatalf("Stats of a new loop = %+v, want zero", st)
	}
	started, release := make(chan struct{}), make(chan struct{})
	blocker := promises.Resolved(l, 0).Then(func(v int) (int, error) {
		close(started)
		<-release
		return v, nil
	})
	<-started
	p, resolve, _ := promises.NewResolver[int](l)
	var outs []*promises.Promise[int]
	for range 5 {
		outs = append(outs, p.Then(func(v int) (int, error) { return v, nil }))
	}
	if st := l.Stats(); st.Queued != 0 || st.Run != 1 {
		t.Fatalf("Stats before resolve = %+v, want Queued 0, Run 1", st)
	}
	resolve(1)
	if st := l.Stats(); st.Queued != 5 || st.Run != 1 {
		t.Fatalf("Stats after resolve = %+v, want Queued 5, Run 1", st)
	}
	close(release)
	await(t, blocker)
	for _, q := range outs {
		await(t, q)
	}
	if st := l.Stats(); st.Queued != 0 || st.Run != 6 {
		t.Fatalf("Stats after = %+v, want Queued 0, Run 6", st)
	}
}

func TestResolveOnce(t *testing.T) {
	l := newLoop(t)
	boom := errors.New("boom")

	p, resolve, reject := promises.NewResolver[int](l)
	resolve(1)
	resolve(2)
	reject(boom)
	if v := await(t, p); v != 1 {
		t.Fatalf("got %d, want the first value 1", v)
	}

	p, resolve, reject = promises.NewResolver[int](l)
	reject(boom)
	resolve(3)
	if err := awaitErr(t, p); !errors.Is(err, boom) {
		t.Fatalf("got %v, want boom", err)
	}

	p, _, reject = promises.NewResolver[int](l)
	reject(nil)
	wantCode(t, awaitErr(t, p), nanoact.ErrInvalid)

	// Racing resolvers: one wins, and each continuation runs once.
	for range 20 {
		p, resolve, _ := promises.NewResolver[int](l)
		var runs atomic.Int32
		q := p.Then(func(v int) (int, error) { runs.Add(1); return v, nil })
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() { resolve(i) })
		}
		wg.Wait()
		v := await(t, q)
		if w, _ := p.Result(); v != w || runs.Load() != 1 {
			t.Fatalf("continuation saw %d, promise holds %d, ran %d times", v, w, runs.Load())
		}
	}
}

func TestAwaitAndResult(t *testing.T) {
	l := newLoop(t)
	p, resolve, _ := promises.NewResolver[int](l)

	_, err := p.Result()
	wantCode(t, err, nanoact.ErrTryAgain)
	select {
	case <-p.Done():
		t.Fatal("Done closed before settling")
	default:
	}

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = p.Await(cancelled)
	wantCode(t, err, nanoact.ErrCanceled)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("%v does not match context.Canceled", err)
	}
	expired, cancel2 := context.WithTimeout(context.Background(), 0)
	defer cancel2()
	_, err = p.Await(expired)
	wantCode(t, err, nanoact.ErrTimedOut)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%v does not match context.DeadlineExceeded", err)
	}

	// Abandoning the waits did not touch the promise.
	go resolve(5)
	if v := await(t, p); v != 5 {
		t.Fatalf("Await = %d, want 5", v)
	}
	<-p.Done()
	if v, err := p.Result(); v != 5 || err != nil {
		t.Fatalf("Result = %d, %v", v, err)
	}
	// A settled promise answers even under an ended context.
	if v, err := p.Await(cancelled); v != 5 || err != nil {
		t.Fatalf("Await(cancelled) on a settled promise = %d, %v", v, err)
	}
	if p.Loop() != l {
		t.Fatal("Loop() is not the promise's loop")
	}
}

func TestNew(t *testing.T) {
	l := newLoop(t)
	called := false
	resolved := make(chan func(string), 1)
	p := promises.New(l, func(resolve func(string), _ func(error)) {
		called = true
		resolved <- resolve
	})
	if !called {
		t.Fatal("New did not call fn before returning")
	}
	go (<-resolved)("later")
	if v := await(t, p); v != "later" {
		t.Fatalf("got %q", v)
	}
	wantCode(t, awaitErr(t, promises.New[int](l, nil)), nanoact.ErrInvalid)
	boom := errors.New("boom")
	if err := awaitErr(t, promises.New(l, func(_ func(int), reject func(error)) { reject(boom) })); !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
}

func TestNilArguments(t *testing.T) {
	l := newLoop(t)
	p := promises.Resolved(l, 1)
	var nilp *promises.Promise[int]
	for name, q := range map[string]*promises.Promise[int]{
		"Then nil promise":   promises.Then(nilp, func(v int) (int, error) { return v, nil }),
		"Then nil f":         promises.Then[int, int](p, nil),
		"Catch nil f":        p.Catch(nil),
		"Finally nil f":      p.Finally(nil),
		"ThenPromise nil f":  promises.ThenPromise[int, int](p, nil),
		"WithContext nil p":  promises.WithContext(context.Background(), nilp),
		"All nil input":      promises.Then(promises.All(p, nil), func([]int) (int, error) { return 0, nil }),
		"Race of nothing":    promises.Race[int](),
		"Rejected nil error": promises.Rejected[int](l, nil),
	} {
		t.Run(name, func(t *testing.T) { wantCode(t, awaitErr(t, q), nanoact.ErrInvalid) })
	}
}

func TestWithContext(t *testing.T) {
	l := newLoop(t)

	t.Run("cancel first", func(t *testing.T) {
		p, resolve, _ := promises.NewResolver[int](l)
		ctx, cancel := context.WithCancel(context.Background())
		skipped := true
		q := promises.WithContext(ctx, p).Then(func(v int) (int, error) { skipped = false; return v, nil })
		cancel()
		err := awaitErr(t, q)
		wantCode(t, err, nanoact.ErrCanceled)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("%v does not match context.Canceled", err)
		}
		resolve(1) // the operation still completes
		if v := await(t, p); v != 1 {
			t.Fatalf("p = %d", v)
		}
		if err := awaitErr(t, q); !errors.Is(err, context.Canceled) || !skipped {
			t.Fatalf("after p settled: %v, skipped %v", err, skipped)
		}
	})

	t.Run("deadline", func(t *testing.T) {
		p, _, _ := promises.NewResolver[int](l)
		ctx, cancel := context.WithTimeout(context.Background(), 0)
		defer cancel()
		err := awaitErr(t, promises.WithContext(ctx, p))
		wantCode(t, err, nanoact.ErrTimedOut)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%v does not match context.DeadlineExceeded", err)
		}
	})

	t.Run("deadline passes while pending", func(t *testing.T) {
		p, _, _ := promises.NewResolver[int](l)
		ctx, cancel := context.WithTimeout(context.Background(), 5e6) // 5 ms
		defer cancel()
		wantCode(t, awaitErr(t, promises.WithContext(ctx, p)), nanoact.ErrTimedOut)
	})

	t.Run("settles first", func(t *testing.T) {
		p, resolve, _ := promises.NewResolver[int](l)
		ctx, cancel := context.WithCancel(context.Background())
		q := promises.WithContext(ctx, p)
		resolve(7)
		if v := await(t, q); v != 7 {
			t.Fatalf("got %d", v)
		}
		cancel()
		if v, err := q.Result(); v != 7 || err != nil {
			t.Fatalf("after cancel: %d, %v", v, err)
		}
	})

	t.Run("background", func(t *testing.T) {
		q := promises.WithContext(context.Background(), promises.Rejected[int](l, nanoact.ErrBusy))
		wantCode(t, awaitErr(t, q), nanoact.ErrBusy)
	})
}

func TestThenPromise(t *testing.T) {
	l := newLoop(t)
	other := newLoop(t)
	boom := errors.New("boom")

	var resolveInner func(string)
	q := promises.ThenPromise(promises.Resolved(l, 2), func(v int) (*promises.Promise[string], error) {
		p, resolve, _ := promises.NewResolver[string](other)
		resolveInner = resolve
		return p, nil
	})
	await(t, promises.Resolved(l, 0).Then(func(v int) (int, error) { return v, nil })) // the loop has run f
	go resolveInner("inner")
	if v := await(t, q); v != "inner" {
		t.Fatalf("got %q", v)
	}
	if q.Loop() != l {
		t.Fatal("ThenPromise's result left p's loop")
	}

	e := promises.ThenPromise(promises.Resolved(l, 2), func(int) (*promises.Promise[int], error) { return nil, boom })
	if err := awaitErr(t, e); !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
	n := promises.ThenPromise(promises.Resolved(l, 2), func(int) (*promises.Promise[int], error) { return nil, nil })
	wantCode(t, awaitErr(t, n), nanoact.ErrInvalid)
	s := promises.ThenPromise(promises.Rejected[int](l, boom), func(int) (*promises.Promise[int], error) {
		t.Error("f ran on a rejection")
		return nil, nil
	})
	if err := awaitErr(t, s); !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
	r := promises.ThenPromise(promises.Resolved(l, 2), func(int) (*promises.Promise[int], error) {
		return promises.Rejected[int](other, boom), nil
	})
	if err := awaitErr(t, r); !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
}

func TestDefault(t *testing.T) {
	d := promises.Default()
	if d != promises.Default() {
		t.Fatal("Default is not one loop")
	}
	wantCode(t, d.Close(), nanoact.ErrInvalid)
	q := promises.Then(promises.Resolved(nil, 20), func(v int) (string, error) { return fmt.Sprint(v + 1), nil })
	if v := await(t, q); v != "21" {
		t.Fatalf("got %q", v)
	}
	if q.Loop() != d {
		t.Fatal("a nil loop is not Default")
	}
}

func TestSystemClosed(t *testing.T) {
	sys := actor.NewSystem()
	l, err := promises.NewLoop(promises.WithSystem(sys))
	if err != nil {
		t.Fatal(err)
	}
	p, _, _ := promises.NewResolver[int](l)
	done := p.Done()
	q := p.Then(func(v int) (int, error) { return v, nil })
	if err := sys.Close(); err != nil {
		t.Fatal(err)
	}
	<-done
	_, err = p.Result()
	wantCode(t, err, nanoact.ErrClosed)
	wantCode(t, awaitErr(t, q), nanoact.ErrClosed)
	wantCode(t, l.Close(), nanoact.ErrClosed)
	if _, err := promises.NewLoop(promises.WithSystem(sys)); !errors.Is(err, nanoact.ErrClosed) {
		t.Fatalf("NewLoop on a closed system: %v", err)
	}
}

func TestNilPromise(t *testing.T) {
	var p *promises.Promise[int]
	_, err := p.Await(context.Background())
	wantCode(t, err, nanoact.ErrInvalid)
	_, err = p.Result()
	wantCode(t, err, nanoact.ErrInvalid)
	<-p.Done()
	if p.Loop() != nil {
		t.Fatal("nil promise has a loop")
	}
}
