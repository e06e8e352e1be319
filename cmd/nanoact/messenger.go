package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/sockets"
)

// messengerLong is the messenger's help.
const messengerLong = `messenger is nanonext's console chat for two: one pair socket at URL, a
line typed on one side shows on the other with the time it arrived.

The first party to start listens at URL; the second finds the address
taken and dials it (synchronously: with nobody listening it fails). Type a
message and press return to send it; its send time is printed under it
after ">", and an incoming message is printed with its arrival time after
"<". Empty lines are not sent. ":q" (or end of input, Ctrl-D) quits and
tells the peer, which prints "-> peer disconnected". Notices ("| ...") go
to standard error, messages and times to standard output. Times are local,
as YYYY-mm-dd HH:MM:SS.

Authentication (nanonext's protocol, with its bytes): both parties hold a
pre-shared secret (--auth or --auth-file; none at all is also a secret that
matches only none). The party that joins a peer already online sends ":c "
and a NUL; the peer answers with a key of 40 little-endian int32: a random
order of the positions 1 to 20, then the characters of the secret's hash
at those positions. The joining party checks them against its own hash and,
on a mismatch, prints "| authentication failed", sends ":d " and exits with
status 1. Verification is one-way, as in nanonext: the party already
present never checks the newcomer, and each key reveals 20 characters of
the hash. It is a proof of concept, not security.

Differences from nanonext: the secret is bytes hashed with SHA-256 (nanonext
hashes R's serialization of an R object with MD5), so a nanoact messenger
cannot authenticate with an R one even given the same secret; the URL
printed is the one bound (a tcp port 0 shows its port); sends that nanonext
makes without waiting wait up to a second for a connected peer to take the
message; a failed connection or authentication exits with status 1.`

// msgrSendLimit bounds a send to a connected peer (nanonext's sends do
// not wait at all; a connected peer takes a message within microseconds).
const msgrSendLimit = time.Second

// Messenger returns the messenger command: nanonext's messenger().
func (commands) Messenger() *cobra.Command {
	var auth, authFile string
	cmd := &cobra.Command{
		Use:   "messenger URL",
		Short: "Two-party console chat over a pair socket, with nanonext's key check",
		Long:  messengerLong,
		Example: `  nanoact messenger tcp://127.0.0.1:5555 --auth-file ~/.chat-secret   # in one terminal
  nanoact messenger tcp://127.0.0.1:5555 --auth-file ~/.chat-secret   # in another`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{fmt.Errorf("messenger: want one URL, got %d arguments", len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			secret := []byte(auth)
			if authFile != "" {
				if auth != "" {
					return usageError{errors.New("messenger: give --auth or --auth-file, not both")}
				}
				b, err := os.ReadFile(authFile)
				if err != nil {
					return fmt.Errorf("messenger: %w", err)
				}
				secret = b
			}
			var mu sync.Mutex // one lock: stdout and stderr may be one terminal
			m := &messenger{
				url:    args[0],
				lock:   messengerLock(secret),
				in:     cmd.InOrStdin(),
				out:    &msgrWriter{mu: &mu, w: cmd.OutOrStdout()},
				errOut: &msgrWriter{mu: &mu, w: cmd.ErrOrStderr()},
				intro:  32 * time.Millisecond,
			}
			if err := m.run(cmd.Context()); err != nil {
				return fmt.Errorf("messenger: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&auth, "auth", "", "pre-shared secret that both parties give (visible to other users in the process list: prefer --auth-file)")
	cmd.Flags().StringVar(&authFile, "auth-file", "", "read the pre-shared secret from `FILE` (all its bytes)")
	return cmd
}

// msgrWriter serialises writes to standard output and standard error,
// which the receiving goroutine and the input loop both write.
type msgrWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (w *msgrWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

// messenger is one run of the messenger command.
type messenger struct {
	url         string
	lock        []byte
	in          io.Reader
	out, errOut io.Writer
	intro       time.Duration // pause between the letters of the title
}

// msgrStamp returns the time as nanonext prints it (R's format.POSIXct).
func msgrStamp() string { return time.Now().Format("2006-01-02 15:04:05") }

// run runs the chat until ":q", the end of input or ctx ends.
func (m *messenger) run(ctx context.Context) error {
	s, err := sockets.New(sockets.Pair)
	if err != nil {
		return err
	}
	defer s.Close()
	dialer := false
	url := m.url
	l, err := s.Listen(m.url)
	switch c := nanoact.CodeOf(err); {
	case err == nil:
		url = l.URL()
	case c == nanoact.CodeAddrInUse || c == nanoact.CodeAddrInvalid:
		if _, err := s.Dial(m.url, sockets.Sync); err != nil {
			return err
		}
		dialer = true
	default:
		return err
	}

	fmt.Fprint(m.out, "\n")
	const title = "nanonext messenger"
	for i := range len(title) {
		fmt.Fprint(m.out, "\r ", strings.Join(strings.Split(title[:i+1], ""), " "))
		if err := catSleep(ctx, m.intro); err != nil {
			return err
		}
	}
	fmt.Fprintf(m.out, "\n| url: %s\n", url)

	if err := m.sendControl(ctx, s, msgrConnect); err != nil {
		if dialer {
			fmt.Fprint(m.errOut, "| connection error... exiting\n")
			return errors.New("no connection to the peer")
		}
		fmt.Fprintf(m.errOut, "| peer offline: %s\n", msgrStamp())
	} else {
		fmt.Fprintf(m.errOut, "| peer online: %s\n", msgrStamp())
		ok, err := m.awaitKey(ctx, s)
		if err != nil {
			return err
		}
		if !ok {
			fmt.Fprint(m.errOut, "| authentication failed\n")
			m.bye(ctx, s)
			return errors.New("the peer did not prove the shared secret")
		}
		fmt.Fprint(m.errOut, "| authenticated\n")
	}

	var wg sync.WaitGroup
	wg.Go(func() { m.receive(s) })
	err = m.chat(ctx, s)
	m.bye(ctx, s)
	_ = s.Close() // ends receive, which prints "session ended"
	wg.Wait()
	return err
}

// awaitKey receives the peer's answer to our ":c " and checks it. A ":c "
// from the peer meanwhile (both parties started at once, each seeing the
// other online) is answered with our key, so that each checks the other.
func (m *messenger) awaitKey(ctx context.Context, s *sockets.Socket) (bool, error) {
	for {
		msg, err := s.Recv(ctx)
		if err != nil {
			return false, fmt.Errorf("receiving the peer's key: %w", err)
		}
		if bytes.HasPrefix(msg.Body, []byte(msgrConnect[:3])) {
			msg.Free()
			fmt.Fprintf(m.errOut, "| <- peer connected: %s\n", msgrStamp())
			if err := m.send(ctx, s, encodeMessengerKey(messengerKey(m.lock))); err != nil {
				return false, fmt.Errorf("sending our key: %w", err)
			}
			continue
		}
		ok := verifyMessengerKey(m.lock, msg.Body)
		msg.Free()
		return ok, nil
	}
}

// chat sends each line typed until ":q", the end of input or ctx ends
// (Ctrl-C: not an error), printing its send time under it.
func (m *messenger) chat(ctx context.Context, s *sockets.Socket) error {
	fmt.Fprint(m.out, "type your message:\n")
	lines := newMsgrLines(m.in)
	defer lines.stop()
	for {
		line, ok, err := lines.next(ctx)
		if ctx.Err() != nil {
			return nil // Ctrl-C leaves as ":q" does
		}
		if err != nil || !ok || line == ":q" {
			return err
		}
		if line == "" {
			continue
		}
		pad := strings.Repeat(" ", utf8.RuneCountInString(line))
		if err := m.send(ctx, s, append([]byte(line), 0)); err != nil {
			fmt.Fprintf(m.errOut, "%s > not sent: peer offline: %s\n", pad, msgrStamp())
		} else {
			fmt.Fprintf(m.out, "%s > %s\n", pad, msgrStamp())
		}
	}
}

// send sends body to the peer: at once if there is none (ErrTryAgain),
// else waiting up to msgrSendLimit for the connection to take it.
func (m *messenger) send(ctx context.Context, s *sockets.Socket, body []byte) error {
	if s.Pipes() == 0 {
		return nanoact.ErrTryAgain
	}
	sctx, cancel := context.WithTimeout(ctx, msgrSendLimit)
	defer cancel()
	msg := sockets.NewMsg(body)
	if err := s.SendMsg(sctx, msg); err != nil {
		msg.Free()
		return err
	}
	return nil
}

// sendControl sends ":c " or ":d ".
func (m *messenger) sendControl(ctx context.Context, s *sockets.Socket, control string) error {
	return m.send(ctx, s, []byte(control))
}

// bye tells the peer we leave, and waits (briefly) for the message to be
// written before the socket closes.
func (m *messenger) bye(ctx context.Context, s *sockets.Socket) {
	if m.sendControl(context.WithoutCancel(ctx), s, msgrDisconnect) == nil {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), msgrSendLimit)
		_ = s.Flush(fctx)
		cancel()
	}
}

// receive prints what the peer sends until the socket closes: notices for
// ":c " (answered with a fresh key) and ":d ", and each message with its
// arrival time under it, as nanonext's messenger thread.
func (m *messenger) receive(s *sockets.Socket) {
	ctx := context.Background() // the socket's Close ends the wait
	for {
		msg, err := s.Recv(ctx)
		ts := msgrStamp()
		if err != nil {
			fmt.Fprintf(m.errOut, "| messenger session ended: %s\n", ts)
			return
		}
		body := msg.Body
		switch {
		case bytes.HasPrefix(body, []byte(msgrConnect[:3])):
			fmt.Fprintf(m.errOut, "| <- peer connected: %s\n", ts)
			if err := m.send(ctx, s, encodeMessengerKey(messengerKey(m.lock))); err != nil {
				fmt.Fprintf(m.errOut, "| messenger session ended: %s\n", ts)
				msg.Free()
				return
			}
		case bytes.HasPrefix(body, []byte(msgrDisconnect[:3])):
			fmt.Fprintf(m.errOut, "| -> peer disconnected: %s\n", ts)
		default:
			text, _, _ := bytes.Cut(body, []byte{0}) // C's %s stops at the NUL
			pad := strings.Repeat(" ", utf8.RuneCount(text)+1)
			fmt.Fprintf(m.out, "%s\n%s< %s\n", text, pad, ts)
		}
		msg.Free()
	}
}

// msgrLines reads lines of input on its own goroutine, one line per
// request, so that the chat loop can also watch its context. A read that
// has begun cannot be abandoned (a terminal read does not time out): stop
// ends the goroutine at once when it waits for a request, or else after
// that read returns.
type msgrLines struct {
	want chan struct{}
	got  chan msgrLine
	quit chan struct{}
}

type msgrLine struct {
	line string
	err  error // io.EOF at the end of input
}

func newMsgrLines(r io.Reader) *msgrLines {
	lr := &msgrLines{want: make(chan struct{}), got: make(chan msgrLine, 1), quit: make(chan struct{})}
	go func() {
		br := bufio.NewReader(r)
		for {
			select {
			case <-lr.want:
			case <-lr.quit:
				return
			}
			line, err := br.ReadString('\n')
			if err == nil || (err == io.EOF && line != "") {
				err = nil
			}
			lr.got <- msgrLine{strings.TrimRight(line, "\r\n"), err}
		}
	}()
	return lr
}

// next returns the next line, ok false at the end of input, or the
// context's error.
func (lr *msgrLines) next(ctx context.Context) (string, bool, error) {
	select {
	case lr.want <- struct{}{}:
	case <-ctx.Done():
		return "", false, catInterrupted(ctx)
	}
	select {
	case r := <-lr.got:
		if r.err == io.EOF {
			return "", false, nil
		}
		if r.err != nil {
			return "", false, fmt.Errorf("reading input: %w", r.err)
		}
		return r.line, true, nil
	case <-ctx.Done():
		return "", false, catInterrupted(ctx)
	}
}

// stop ends the reading goroutine unless it is inside a read.
func (lr *msgrLines) stop() { close(lr.quit) }
