// Package runner is mirai's distributed task runner for nanoact: a
// Dispatcher queues tasks, daemons run them, and each submission is an
// aio. It is built on the sockets and aio packages; request/reply RPC
// (Reply, Request, Client, Server) is package rpc, and the command line
// of a daemon process (Main, MainArgs) is package runner/daemoncmd.
//
// A Dispatcher listens (inproc:// by default; tcp://, tls+tcp://, ws://,
// wss:// for daemons on other machines) on one poly socket. Daemons dial
// it, prove they hold the session's random token by answering a
// challenge, and run tasks: Go
// functions registered by name in a Registry (Register), called with
// Serial-mode (CBOR) arguments and results, never code sent over the wire.
//
//	reg := runner.NewRegistry()
//	square := runner.Register(reg, "square", func(ctx context.Context, n int) (int, error) { return n * n, nil })
//	d, _ := runner.NewDispatcher("", runner.WithRegistry(reg))
//	defer d.Close()
//	d.StartDaemons(ctx, 4)                    // goroutines in this process
//	a := square.Submit(ctx, d, 7)             // an *aio.Aio[int], at once
//	v, err := a.Value(ctx)                    // 49
//	vs, err := square.Map(ctx, d, []int{1, 2, 3}, runner.Progress())
//
// Submitted tasks queue FIFO and go to idle daemons, one at a time per
// daemon unless it offers more (WithConcurrency) or the dispatcher caps it
// (WithPerDaemon). Each submission is an aio: Stop (or the caller's ctx)
// cancels it in the queue or on its daemon, TaskTimeout bounds it, and it
// composes with Collect, Race, aio.Promise and CVs. Go cannot stop a
// goroutine, so a running task that ignores its cancelled ctx keeps
// running, its aio resolved all the same: after WithInterruptGrace (1 s)
// its daemon process, if one of ours (LaunchLocal, LaunchSSH), is killed
// and replaced; an in-process one keeps the slot busy, and Close stops
// waiting for it after the grace and lists it (LeftRunningError). A task that returns an
// error or panics gives a *TaskError (a panic's *rpc.PanicError inside), and
// its daemon lives on. A daemon that dies or disconnects mid-task fails its
// task with ErrConnReset, or re-queues it (Requeue); no other task is lost
// or run twice, and a task whose result arrived before its daemon went is
// never reported lost. A re-queued task runs at least once, not exactly
// once (its lost run may have finished): AttemptFrom gives a task its id
// and attempt number, for idempotency. A cancelled, timed-out or lost
// task's error matches ErrNotStarted if it never reached a daemon (safe
// to submit again) or ErrMayHaveRun if it did.
//
// The queue is bounded (WithMaxQueued, WithMaxQueuedBytes): when it is
// full, Submit waits for room under its ctx and TrySubmit fails at once
// with ErrTryAgain.
//
// Everywhere runs a task once on every daemon (mirai's everywhere():
// load a model, open a connection) and gives each daemon's result by its
// id; a daemon takes no other task until its run has ended, and with
// OnJoin every daemon that joins later (a restarted process too) runs it
// before its first task, until the JoinHandle's Stop. OnDaemon sends one
// task to a chosen daemon. MapAsync is Map returning an aio of the
// results at once, with per-input progress (ProgressFunc) and Stop
// cancelling what has not finished.
//
// Callbacks: a task's aio callbacks (OnComplete, a CV signalled from one)
// run on the dispatcher's resolver goroutine, one at a time in result
// order: a slow one delays the aios resolved after it (results are still
// read and counted, and freed slots refilled), and one that waits for a
// task resolved after it deadlocks (use aio.Promise, or a goroutine).
// WatchTasks hooks run on the goroutine that reads the result's
// connection and must not block. OnJoin reports run on a goroutine of
// their own, ProgressFunc on the map's.
//
// Every task carries a seed derived from the dispatcher's (WithSeed) and
// its place among the submissions (for a Map, the map's place and the
// input's index), never from the daemon that runs it: SeedFrom and
// RandFrom (math/rand/v2, PCG) give a task its reproducible random
// stream, so a Map of random simulations draws the same with 1 daemon or
// 100.
//
// Daemons run in this process (StartDaemons), as child processes of a
// binary whose main calls daemoncmd.Main with the same registry (LaunchLocal, which
// starts "binary daemon --dial URL" and stops it), or on other machines:
// LaunchSSH starts them on a host through the system ssh client, sending
// the token on the session's stdin, reporting (WithOnExit) and replacing
// (WithRestart) daemons whose session dies, optionally through an ssh -R
// tunnel (WithTunnel); LaunchSlurm submits them as Slurm jobs (sbatch),
// watches the jobs (squeue), reports and replaces those that end, and
// cancels them (scancel) on Close; Launch returns the command they run, as a shell
// line, an SSH command, a Slurm, SGE, PBS or LSF script or a Kubernetes Job manifest. Over tls+tcp:// and wss:// the
// dispatcher generates a certificate on the fly and hands it to the daemons
// with the token; a daemon without the token is refused and logged. The
// token never crosses the wire (see "Wire protocol" below), so a captured hello
// is useless to replay; still, plain tcp:// carries tasks and results in
// clear and does not authenticate the dispatcher to its daemons, so use
// tls+tcp:// or wss:// for daemons on other machines.
// Daemons redial after a network blip, may leave when idle (WithIdleExit),
// after a number of tasks (WithMaxTasks) or at a wall time (WithWallTime),
// run a cleanup hook after every task (WithCleanup), and exit when the
// dispatcher says bye or stays unreachable (WithReconnectGrace), cancelling
// their running tasks or letting them finish (WithFinishRunning). Status reports connections,
// queued, executing, completed and failed tasks, per daemon too.
//
// With an OpenTelemetry TracerProvider installed (otel.SetTracerProvider,
// or WithTracerProvider), each task has spans for its submission (from
// Submit to its result, the caller's span its parent), its wait in the
// queue and its run on the daemon, all in the caller's trace: the task
// message carries the W3C trace context to the daemon. Without one,
// nothing is recorded, sent or allocated. See WithTracerProvider.
//
// Options follow the naming rule in package rpc's doc: constructor
// options are WithX (WithRegistry, WithConcurrency, WithExecutable, ...);
// the options of one Submit or Map are named for what they set
// (TaskTimeout, Requeue, Progress, ProgressTo). RunnerOption values
// (WithLogger, WithSystem, WithCodec, WithToken, WithMaxFrame,
// WithSocketOptions) serve a dispatcher and its daemons alike.
//
// The dispatcher's state machine is an actor: daemons joining and leaving
// (from the socket's pipe events, in order), cancellations and status
// requests are messages to it. Its state has a lock that the actor holds
// for each message, so the hot path needs no message: Submit queues its
// task (and sends it, if a daemon is free) under the lock, and one
// goroutine owned by the dispatcher reads the socket and, under the same
// lock, frees the slot of each result and sends the next task, then
// resolves the result's aio.
//
// # Daemon ids
//
// Every daemon has an id (WithDaemonID; launch-N, ssh-N, slurm-N for
// those a dispatcher's launchers start, unique per dispatcher; local-N in
// process), which OnDaemon, Everywhere's results, Status and the
// interrupt kill go by. A daemon keeps its id when it redials. A
// dispatcher holds one connection per id: the newest authenticated one
// wins. When a hello whose mac checks out names an id that is already
// connected, the new connection joins and the old one leaves at once, as
// a lost daemon does (its running tasks fail with ErrConnReset or are
// re-queued, per Requeue, once the results it sent before are taken; its
// queued OnDaemon and Everywhere runs fail with ErrConnReset and
// ErrNotStarted; a result it sends after is ignored), and tasks go to the
// new connection only. The old connection is then sent a refusal (code
// 23, "daemon id X taken over by a newer connection from ADDR") and
// closed as a refused one is: when its peer leaves, or after
// WithHelloTimeout. Each takeover is logged at Warn with both peers'
// addresses and counted in Status.Replaced.
//
// That serves two cases. A daemon that redialed after a network blip or
// a NAT time-out, while the dispatcher had not yet seen its old
// connection close (half-open), joins again: the refusal goes to the
// half-open connection, which nobody reads, and a daemon ignores a
// refusal that comes on a connection other than its current one. Two
// live daemons started with one id (say two daemoncmd processes given
// the same --id): the newer joins and the older stops, its Run returning
// an error that matches ErrReplaced (and nanoact.ErrExists, not
// ErrPeerAuth; daemoncmd exits with status 1), instead of redialing and
// taking the id back on every redial. Give each daemon its own id. A
// daemon older than refusal codes stops all the same, with an error
// matching ErrPeerAuth whose text says why.
//
// # Wire protocol
//
// A dispatcher and its daemons talk over one pair v1 polyamorous (poly)
// connection per daemon: the dispatcher listens, each daemon dials, and the
// dispatcher addresses a daemon by the id of its pipe. Every message is one
// CBOR array (RFC 8949) whose first element is the message kind; the
// arguments and results of tasks travel inside as CBOR byte strings holding
// what the Serial codec (CBOR by default) made of them, so the frames do not
// depend on the codec. Integers are unsigned; "text" is a CBOR text string,
// "bytes" a byte string, "null" the CBOR null (0xf6).
//
//	challenge  dispatcher → daemon, first on every connection:
//	        [8, version=2, nonce: bytes, limit: uint]
//	        nonce is 32 bytes from crypto/rand, fresh per connection;
//	        limit is the dispatcher's frame limit (WithMaxFrame: the
//	        largest result it takes; 0: none).
//	hello   daemon → dispatcher, the answer:
//	        [1, version=2, mac: bytes, id: text, max: uint, tasks: uint]
//	        mac is HMAC-SHA256, keyed by the session token (its UTF-8
//	        bytes), of "nanoact task runner hello v2" and a 0 byte, then
//	        the nonce as a CBOR byte string, then id, max and tasks
//	        encoded as in this hello; so the token never crosses the
//	        wire, a hello is good for its own connection only, and its
//	        id and claims cannot be changed in flight. id names the
//	        daemon (it survives reconnections; at most 1 KiB); max is how
//	        many tasks it runs at once (the dispatcher caps it:
//	        WithPerDaemon); tasks is how many more it will run before it
//	        exits (0: no limit). Version 1's hello carried the token
//	        itself, as text, in place of mac: a dispatcher refuses a hello
//	        of any other version, saying which it wants.
//	task    dispatcher → daemon:
//	        [2, id: uint, name: text, args: bytes, timeout: uint,
//	         task: uint, attempt: uint, seed: uint, trace: [text, text?]]
//	        id is unique per attempt (a re-queued task is sent again under a
//	        new id); timeout is the time left in nanoseconds (0: none);
//	        task is the task's id, the same for every attempt, and attempt
//	        the attempt's number from 1 (AttemptFrom); seed is the task's
//	        seed (SeedFrom; never 0). Dispatchers before attempt ids sent
//	        the first five elements only, those before seeds seven.
//	        trace, sent only by a dispatcher that traces
//	        (WithTracerProvider), is the task span's W3C trace context:
//	        [traceparent] or [traceparent, tracestate].
//	cancel  dispatcher → daemon: [3, id: uint]
//	        cancel the context of task id; its result is still sent.
//	result  daemon → dispatcher:
//	        [4, id: uint, value: bytes | null, err: [code: uint, text] | null,
//	         panic: [value: text, stack: text] | null]
//	        exactly one of value, err, panic is not null.
//	refuse  dispatcher → daemon: [5, reason: text, code: uint]
//	        the daemon stops; reason says why. code is the NNG code of
//	        the daemon's error: 27 (ErrPeerAuth) for a refused hello (bad
//	        token or version), 23 (ErrExists, with ErrReplaced) for a
//	        connection whose id a newer one took over (see "Daemon ids").
//	        Dispatchers before codes sent no code, which reads as 27.
//	leave   daemon → dispatcher: [6]   (idle time-out: send nothing new)
//	bye     dispatcher → daemon: [7]   (nothing is running: exit now)
//
// Until its hello is accepted, a connection may send messages of at most
// 4 KiB (SP header included): a longer one closes it at once, before the
// dispatcher reads it. A message other than hello closes it too, and a
// hello whose mac does not match is refused (refuse "bad token"). A
// connection that says no hello within WithHelloTimeout (10 s by default),
// or that is still there that long after being refused, is closed. Once
// a daemon has joined, its messages may be as long as WithMaxFrame (64 MiB by
// default) plus a few bytes; so may tasks to it. A daemon that wants to exit
// sends leave and waits for bye, which the dispatcher sends once it has no
// task on that daemon, so that no task is in flight when a daemon exits.
// A dispatcher that closes sends bye to every daemon. Messages of other
// kinds, extra trailing elements and results for unknown ids are ignored;
// a daemon whose message does not decode is disconnected (its tasks fail
// with ErrConnReset, or are re-queued).
//
// # Costs
//
// Measured by this package's benchmarks (go test -bench
// 'Throughput|RoundTrip|ProcessDaemons' ./runner) on a 2-CPU AMD EPYC shared
// with other work (load average 4 to 7), three runs each:
//
//	empty tasks, in-process daemons (one task at a time each)
//	  1 daemon      98,000-116,000 tasks/s
//	  4 daemons     85,000-96,000 tasks/s
//	  16 daemons    90,000-95,000 tasks/s
//	  round trip    15-17 µs per task (Submit, run, Value; 1 daemon)
//	4 daemon processes (this test binary re-executed)
//	  ipc, 1 task at a time each     15,000-17,500 tasks/s (latency-bound)
//	  ipc, --max 4                   32,000-41,000 tasks/s
//	  tcp, 1 task at a time each     16,500-21,000 tasks/s
//	  tcp, --max 4                   26,000-38,000 tasks/s
//
// A queued task holds about 190 bytes of heap besides its encoded
// arguments (BenchmarkQueuedTaskHeap): the task and its aio, which the
// caller holds, in one allocation (aio.Owned; 176 bytes for an int
// result), its queue slot and the rounding of its argument block. A
// TaskTimeout, a ctx that can end or a trace add their timer, context
// watch or span and one small record (taskWatch). WithMaxQueued and
// WithMaxQueuedBytes bound the total.
//
// In process the dispatcher and its daemons are CPU-bound at 6 to 8 µs of
// CPU per task over both cores, so more daemons do not add throughput. A
// task costs 9 allocations in all, both ends and the sockets included;
// a daemon costs an actor and two goroutines per connection on each
// side, plus one goroutine per running task. BenchmarkVsMangos measures
// the runner beside a hand-written plain mangos worker pool in the same
// run (see docs/benchmarks.md).
package runner
