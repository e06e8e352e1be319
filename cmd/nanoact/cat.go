package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// catLong is cat's help: nngcat's usage text, then what differs.
const catLong = `cat is nngcat for nanoact: one socket, dialed or listening, that sends data
from the command line, a file or standard input and prints what it
receives. It takes nngcat's options with nngcat's meaning (NNG 1.5.2), so
scripts written for nngcat run unchanged, and it talks to nngcat, C NNG,
nanonext and mangos peers.

Usage: nanoact cat <proto> <addr>... [<fmt>] [<opts>...] [<src>]

<proto> must be one of:
  --req0                 (or alias --req)
  --rep0                 (or alias --rep)
  --pub0                 (or alias --pub)
  --sub0                 (or alias --sub)
  --push0                (or alias --push)
  --pull0                (or alias --pull)
  --surveyor0            (or alias --surveyor)
  --respondent0          (or alias --respondent)
  --pair0
  --pair1
  --pair                 (alias for pair1, or pair0 with --compat)
  --bus0                 (or alias --bus)

<addr> must be one or more of:
  --dial <url>           (or alias --connect <url>)
  --listen <url>         (or alias --bind <url>)
  --bind-local <port>    (or alias -L <port>)
  --connect-local <port> (or alias -l <port>)
  --bind-ipc <path>      (or alias -X <path>)
  --connect-ipc <path>   (or alias -x <path>)

<fmt> may be one or none of:
  --format <no|ascii|hex|msgpack|quoted|raw|serial>
  --ascii                (or alias -A)
  --quoted               (or alias -Q)
  --hex
  --msgpack
  --raw

<opts> may be any of:
  --subscribe <topic>    (only with --sub protocol)
  --silent               (or alias -q)
  --verbose              (or alias -v)
  --count <num>          (or alias -C <num>)
  --delay <secs>         (or alias -d <secs>)
  --interval <secs>      (or alias -i <secs>)
  --recv-timeout <secs>
  --send-timeout <secs>
  --recv-maxsz <size>    (or alias -Z <size>)
  --compat
  --async
  --insecure             (or alias -k)
  --cacert <file>
  --cert <file>          (or alias -E <file>)
  --key <file>
  --zt-home <path>       (accepted and ignored: no ZeroTier transport)

<src> may be one of:
  --file <file>          (or alias -F <file>). Use - for standard input.
  --data <data>          (or alias -D <data>)

Options are matched as nngcat matches them: any unambiguous prefix of a
long name works ("--req", "--surv"), values follow a space, "=" or ":", and
parsing stops at the first argument that is not an option.

What each protocol does:
  req, surveyor    send the data (after --delay), print the replies (a
                   survey collects them for 1 s); with --interval or
                   --count, again every interval, --count times
  rep, respondent  print each request; with data, answer it with the data;
                   --count requests, then exit
  push, pub        send the data; with --interval, again every interval;
                   --count messages
  pull, sub        print what arrives; --count messages
  pair0, pair1,    with data, as req (send, print what arrives until the
  bus              interval or --recv-timeout ends); without, as pull
Receiving ends with --recv-timeout (no message for that long) or --count.
Dials are synchronous (a refused connection fails at once) unless --async.

Output formats (nothing is printed without one):
  raw      the bytes as received
  ascii    the bytes, with those outside 0x20..0x7e as '.', no separator
  quoted   a C string per line: "a\tb\x01"
  hex      a C string of \x escapes per line: "\x61\x09"
  msgpack  each message as a msgpack bin
  no       nothing
  serial   (ours) the message decoded in nanoact's serial mode (the marker
           d9 d9 f7, then CBOR) and printed as Go's %v, a line each

Beyond nngcat: --delay, --interval and the time-outs take fractions of a
second ("0.25"); --format serial. Where nngcat differs from its own help,
cat follows the help: --pair is pair1 (pair0 with --compat), where nngcat
1.5.2 ignores --pair and finds no protocol. pair1 is nanoact's poly socket,
which accepts several peers where nngcat's pair1 takes one. TLS: a TLS
listener (tls+tcp://, wss://) needs --cert (and --key unless the cert file
holds the key) and asks for no client certificate; a TLS dialer checks the
server against --cacert (or the system's roots) unless --insecure, and
sends --cert if the server asks. Errors go to standard error with exit
status 1, or 2 for a bad command line; --help exits 0 (nngcat exits 1 for
all three).`

// Cat returns the cat command: nngcat's command line on nanoact sockets.
func (commands) Cat() *cobra.Command {
	return &cobra.Command{
		Use:   "cat <proto> <addr>... [<fmt>] [<opts>...] [<src>]",
		Short: "Send and print messages on one socket, with nngcat's options (nngcat on nanoact)",
		Long:  catLong,
		Example: `  nanoact cat --rep0 --listen tcp://127.0.0.1:5555 --data pong --quoted &
  nanoact cat --req0 --dial tcp://127.0.0.1:5555 --data ping --quoted
  nanoact cat --sub --connect ipc:///tmp/feed --subscribe news -A
  nanoact cat --push -l 5556 --file - < message.bin`,
		// nngcat's options are parsed by parseCatArgs: prefixes, "--x:v",
		// and its aliases are beyond pflag.
		DisableFlagParsing:    true,
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := parseCatConfig(args, cmd.InOrStdin())
			if err != nil {
				return fmt.Errorf("cat: %w", err)
			}
			switch {
			case cfg.help:
				return cmd.Help()
			case cfg.version:
				_, err := fmt.Fprintln(cmd.OutOrStdout(), "nanoact cat, compatible with nngcat 1.5.2")
				return err
			}
			if err := runCat(cmd.Context(), cfg, cmd.OutOrStdout(), cmd.ErrOrStderr()); err != nil {
				return fmt.Errorf("cat: %w", err)
			}
			return nil
		},
	}
}
