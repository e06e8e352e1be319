package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// catOpt identifies one of cat's options. The values and their order are
// nngcat's (NNG 1.5.2, tools/nngcat/nngcat.c), and so is the matching in
// parseCatArgs, so that a command line means the same to both tools.
type catOpt int

const (
	catHelp catOpt = iota + 1
	catVerbose
	catSilent
	catRep0
	catReq0
	catPush0
	catPull0
	catPub0
	catSub0
	catSurvey0
	catRespond0
	catPair0
	catPair1
	catPair
	catBus0
	catDial
	catListen
	catData
	catFile
	catSubscribe
	catInterval
	catDelay
	catCount
	catFormatOpt
	catRaw
	catASCII
	catQuoted
	catMsgpack
	catHex
	catCompat
	catAsync
	catRecvTimeout
	catSendTimeout
	catSockName
	catListenIPC
	catDialIPC
	catListenLocal
	catDialLocal
	catInsecure
	catCACert
	catKeyFile
	catCertFile
	catVersion
	catRecvMaxSz
	catZTHome
)

// catOptSpec is one entry of the option table: a long name, an optional
// one-letter alias, and whether the option takes an argument.
type catOptSpec struct {
	name  string
	short byte
	val   catOpt
	arg   bool
}

// catOptions returns nngcat's option table, in nngcat's order (the order
// decides nothing but which of two prefix matches an error names). No name
// of ours is added: a new long name would make prefixes that nngcat
// accepts ambiguous (a new "--serial" would break a script's "--se 5").
// Our extras are values: --format serial, fractional seconds.
func catOptions() []catOptSpec {
	return []catOptSpec{
		{"help", 'h', catHelp, false},
		{"verbose", 'v', catVerbose, false},
		{"silent", 'q', catSilent, false},
		{"req0", 0, catReq0, false},
		{"rep0", 0, catRep0, false},
		{"push0", 0, catPush0, false},
		{"pull0", 0, catPull0, false},
		{"pub0", 0, catPub0, false},
		{"sub", 0, catSub0, false}, // explicit, or it would be a prefix of sub0 and subscribe
		{"sub0", 0, catSub0, false},
		{"surveyor0", 0, catSurvey0, false},
		{"respondent0", 0, catRespond0, false},
		{"pair", 0, catPair, false},
		{"pair0", 0, catPair0, false},
		{"pair1", 0, catPair1, false},
		{"bus0", 0, catBus0, false},
		{"dial", 0, catDial, true},
		{"listen", 0, catListen, true},
		{"data", 'D', catData, true},
		{"file", 'F', catFile, true},
		{"subscribe", 0, catSubscribe, true},
		{"format", 0, catFormatOpt, true},
		{"ascii", 'A', catASCII, false},
		{"quoted", 'Q', catQuoted, false},
		{"raw", 0, catRaw, false},
		{"hex", 0, catHex, false},
		{"compat", 0, catCompat, false},
		{"async", 0, catAsync, false},
		{"msgpack", 0, catMsgpack, false},
		{"recv-maxsz", 'Z', catRecvMaxSz, true},
		{"count", 'C', catCount, true},
		{"delay", 'd', catDelay, true},
		{"interval", 'i', catInterval, true},
		{"recv-timeout", 0, catRecvTimeout, true},
		{"send-timeout", 0, catSendTimeout, true},
		{"socket-name", 0, catSockName, true},
		// nanocat's names.
		{"bind", 0, catListen, true},
		{"connect", 0, catDial, true},
		{"bind-ipc", 'X', catListenIPC, true},
		{"connect-ipc", 'x', catDialIPC, true},
		{"bind-local", 'L', catListenLocal, true},
		{"connect-local", 'l', catDialLocal, true},
		{"insecure", 'k', catInsecure, false},
		{"cacert", 0, catCACert, true},
		{"key", 0, catKeyFile, true},
		{"cert", 'E', catCertFile, true},
		{"zt-home", 0, catZTHome, true},
		{"version", 'V', catVersion, false},
	}
}

// catArg is one parsed option and its argument.
type catArg struct {
	opt catOpt
	arg string
}

// parseCatArgs splits a command line into options as NNG's nng_opts_parse
// does: "--name value", "--name=value" or "--name:value"; any unambiguous
// prefix of a long name ("--req" for --req0, "--surv"); "-D value" or
// "-Dvalue" for one-letter aliases, which do not cluster. Parsing stops at
// the first argument that is not an option, and at "-", and what follows
// is ignored, as nngcat ignores it.
func parseCatArgs(args []string) ([]catArg, error) {
	specs := catOptions()
	var out []catArg
	for i := 0; i < len(args); {
		a := args[i]
		if len(a) < 2 || a[0] != '-' {
			break // "-" alone, or not an option: the end
		}
		var (
			spec  *catOptSpec
			rest  string // what follows the name in the same argument
			short = a[1] != '-'
		)
		if short {
			for k := range specs {
				if specs[k].short == a[1] {
					spec = &specs[k]
					break
				}
			}
			rest = a[2:]
		} else {
			name := a[2:]
			l := strings.IndexAny(name, "=:")
			if l < 0 {
				l = len(name)
			}
			matches := 0
			for k := range specs {
				if !strings.HasPrefix(specs[k].name, name[:l]) {
					continue
				}
				matches++
				spec = &specs[k]
				if len(specs[k].name) == l {
					matches = 1 // an exact match wins over prefixes
					break
				}
			}
			switch {
			case matches > 1:
				return nil, usageError{fmt.Errorf("option %s is ambiguous (specify in full)", a)}
			case matches == 0:
				spec = nil
			}
			rest = name[l:]
			if rest != "" {
				rest = rest[1:] // the '=' or ':'
				if !spec.takesArg() {
					spec = nil // "--ascii=x": invalid, as in nngcat
				}
			}
		}
		if spec == nil || (short && !spec.arg && rest != "") {
			return nil, usageError{fmt.Errorf("option %s is invalid", a)}
		}
		if !spec.arg {
			out = append(out, catArg{opt: spec.val})
			i++
			continue
		}
		if short && rest != "" || !short && strings.ContainsAny(a[2:], "=:") {
			out = append(out, catArg{spec.val, rest})
			i++
			continue
		}
		if i+1 >= len(args) {
			return nil, usageError{fmt.Errorf("option %s requires argument", a)}
		}
		out = append(out, catArg{spec.val, args[i+1]})
		i += 2
	}
	return out, nil
}

func (s *catOptSpec) takesArg() bool { return s != nil && s.arg }

// catIntArg parses a non-negative decimal integer of at most maxv, as
// nngcat's intarg.
func catIntArg(opt, val string, maxv int) (int, error) {
	if val == "" {
		return 0, usageError{fmt.Errorf("%s: empty integer argument", opt)}
	}
	v := 0
	for _, c := range []byte(val) {
		if c < '0' || c > '9' {
			return 0, usageError{fmt.Errorf("%s: integer argument expected, got %q", opt, val)}
		}
		v = v*10 + int(c-'0')
		if v > maxv {
			return 0, usageError{fmt.Errorf("%s: integer argument too large (at most %d)", opt, maxv)}
		}
	}
	return v, nil
}

// catSeconds parses a number of seconds, at most a day, as nngcat does
// for --delay, --interval and the time-outs; beyond nngcat, a decimal
// fraction is accepted ("0.25", ".5", "2.").
func catSeconds(opt, val string) (time.Duration, error) {
	const maxSecs = 86400
	if val == "" {
		return 0, usageError{fmt.Errorf("%s: empty integer argument", opt)}
	}
	whole, frac, _ := strings.Cut(val, ".")
	ok := whole != "" || frac != ""
	for _, c := range []byte(whole + frac) {
		ok = ok && c >= '0' && c <= '9'
	}
	if !ok {
		return 0, usageError{fmt.Errorf("%s: number of seconds expected (whole or decimal), got %q", opt, val)}
	}
	f, err := strconv.ParseFloat(val, 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, usageError{fmt.Errorf("%s: number of seconds expected, got %q", opt, val)}
	}
	if f > maxSecs {
		return 0, usageError{fmt.Errorf("%s: too large (at most %d seconds)", opt, maxSecs)}
	}
	return time.Duration(math.Round(f * float64(time.Second))), nil
}

// catFormat is how received messages are printed.
type catFormat int

const (
	formatUnset   catFormat = iota // nngcat's default: print nothing
	formatNo                       // --format no: print nothing
	formatRaw                      // the bytes as they are
	formatASCII                    // non-printables as '.', no separator
	formatQuoted                   // a C string literal per line
	formatMsgpack                  // a msgpack bin per message
	formatHex                      // a C string literal of \xNN escapes per line
	formatSerial                   // ours: CBOR decoded and printed with %v, a line each
)

// catAddr is one --dial or --listen.
type catAddr struct {
	listen bool
	url    string
}

// catConfig is cat's command line, parsed and checked.
type catConfig struct {
	help, version bool
	proto         catOpt // catReq0, ...; catPair is resolved
	addrs         []catAddr
	topics        []string
	hasTopics     bool
	verbose       bool
	format        catFormat
	data          []byte
	hasData       bool
	count         int           // 0: no limit
	delay         time.Duration // before the first send
	interval      time.Duration // negative: none (send once)
	sendTimeout   time.Duration // 0: none
	recvTimeout   time.Duration // 0: none
	recvMaxSz     int           // negative: leave the socket's default
	compat        bool
	async         bool
	insecure      bool
	caCert        []byte
	cert, key     []byte
	hasCA         bool
	hasCert       bool
	hasKey        bool
}

// parseCatConfig parses and checks a cat command line as nngcat's main
// does, with nngcat's checks in nngcat's order. Files named by --file,
// --cacert, --cert and --key are read here ("-" is stdin). Command-line
// errors are usageErrors; unreadable files are plain errors.
func parseCatConfig(args []string, stdin io.Reader) (*catConfig, error) {
	parsed, err := parseCatArgs(args)
	if err != nil {
		return nil, err
	}
	c := &catConfig{interval: -1, recvMaxSz: -1}
	for _, p := range parsed {
		switch p.opt {
		case catHelp:
			c.help = true
			return c, nil
		case catVersion:
			c.version = true
			return c, nil
		case catReq0, catRep0, catSub0, catPub0, catBus0, catSurvey0, catRespond0,
			catPair0, catPair1, catPair, catPush0, catPull0:
			if c.proto != 0 {
				return nil, usageError{errors.New("only one protocol may be specified")}
			}
			c.proto = p.opt
		case catDial, catListen:
			c.addrs = append(c.addrs, catAddr{listen: p.opt == catListen, url: p.arg})
		case catDialLocal, catListenLocal:
			port, err := catIntArg("port", p.arg, 65536)
			if err != nil {
				return nil, err
			}
			c.addrs = append(c.addrs, catAddr{listen: p.opt == catListenLocal, url: "tcp://127.0.0.1:" + strconv.Itoa(port)})
		case catDialIPC, catListenIPC:
			c.addrs = append(c.addrs, catAddr{listen: p.opt == catListenIPC, url: "ipc:///" + p.arg})
		case catCount:
			if c.count, err = catIntArg("--count", p.arg, math.MaxInt32); err != nil {
				return nil, err
			}
		case catSubscribe:
			c.topics = append(c.topics, p.arg)
			c.hasTopics = true
		case catVerbose, catSilent:
			c.verbose = p.opt == catVerbose
		case catDelay:
			if c.delay, err = catSeconds("--delay", p.arg); err != nil {
				return nil, err
			}
		case catInterval:
			if c.interval, err = catSeconds("--interval", p.arg); err != nil {
				return nil, err
			}
		case catSendTimeout:
			if c.sendTimeout, err = catSeconds("--send-timeout", p.arg); err != nil {
				return nil, err
			}
		case catRecvTimeout:
			if c.recvTimeout, err = catSeconds("--recv-timeout", p.arg); err != nil {
				return nil, err
			}
		case catRecvMaxSz:
			if c.recvMaxSz, err = catIntArg("--recv-maxsz", p.arg, math.MaxInt32); err != nil {
				return nil, err
			}
			if c.recvMaxSz == 0 {
				c.recvMaxSz = math.MaxInt32 // nngcat's "no limit"
			}
		case catCompat:
			c.compat = true
		case catAsync:
			c.async = true
		case catASCII, catRaw, catQuoted, catMsgpack, catHex, catFormatOpt:
			if c.format != formatUnset {
				return nil, usageError{errors.New("format may be specified only once")}
			}
			f := map[catOpt]catFormat{catASCII: formatASCII, catRaw: formatRaw, catQuoted: formatQuoted, catMsgpack: formatMsgpack, catHex: formatHex}[p.opt]
			if p.opt == catFormatOpt {
				var ok bool
				f, ok = map[string]catFormat{"no": formatNo, "ascii": formatASCII, "hex": formatHex, "quoted": formatQuoted,
					"raw": formatRaw, "msgpack": formatMsgpack, "serial": formatSerial}[p.arg]
				if !ok {
					return nil, usageError{fmt.Errorf("invalid format specified: %q (want no, ascii, hex, msgpack, quoted, raw or serial)", p.arg)}
				}
			}
			c.format = f
		case catFile, catData:
			if c.hasData {
				return nil, usageError{errors.New("data (--file, --data) may be specified only once")}
			}
			c.hasData = true
			if p.opt == catData {
				c.data = []byte(p.arg)
			} else if c.data, err = catLoadFile(p.arg, stdin); err != nil {
				return nil, err
			}
		case catCACert:
			if c.hasCA {
				return nil, usageError{errors.New("CA certificate (--cacert) may be specified only once")}
			}
			c.hasCA = true
			if c.caCert, err = catLoadFile(p.arg, stdin); err != nil {
				return nil, err
			}
		case catKeyFile:
			if c.hasKey {
				return nil, usageError{errors.New("key (--key) may be specified only once")}
			}
			c.hasKey = true
			if c.key, err = catLoadFile(p.arg, stdin); err != nil {
				return nil, err
			}
		case catCertFile:
			if c.hasCert {
				return nil, usageError{errors.New("cert (--cert) may be specified only once")}
			}
			c.hasCert = true
			if c.cert, err = catLoadFile(p.arg, stdin); err != nil {
				return nil, err
			}
		case catInsecure:
			c.insecure = true
		case catSockName, catZTHome:
			// Accepted and ignored, as nngcat ignores --socket-name;
			// there is no ZeroTier transport here.
		}
	}
	return c, c.check()
}

// check applies nngcat's checks of option combinations, in its order.
func (c *catConfig) check() error {
	if len(c.addrs) == 0 {
		return usageError{errors.New("no address specified")}
	}
	if c.compat {
		switch {
		case c.async:
			return usageError{errors.New("options --async and --compat are incompatible")}
		case c.count != 0:
			return usageError{errors.New("options --count and --compat are incompatible")}
		case c.proto == catPair1:
			return usageError{errors.New("protocol does not support --compat")}
		}
		if c.proto == catPair {
			c.proto = catPair0
		}
		c.async = true
	} else if c.proto == catPair {
		c.proto = catPair1
	}
	if c.proto != catSub0 && c.hasTopics {
		return usageError{errors.New("protocol does not support --subscribe")}
	}
	switch c.proto {
	case catPull0, catSub0:
		if c.hasData {
			return usageError{errors.New("protocol does not support --file or --data")}
		}
		if c.interval >= 0 {
			return usageError{errors.New("protocol does not support --interval")}
		}
	case catPush0, catPub0:
		if c.format != formatUnset {
			return usageError{errors.New("protocol does not support --format options")}
		}
		if !c.hasData {
			return usageError{errors.New("protocol requires either --file or --data")}
		}
	case catSurvey0, catReq0:
		if !c.hasData {
			return usageError{errors.New("protocol requires either --file or --data")}
		}
	case catRep0, catRespond0:
		if c.interval >= 0 {
			return usageError{errors.New("protocol does not support --interval")}
		}
	case catPair0, catPair1, catBus0:
		if c.interval >= 0 && !c.hasData {
			return usageError{errors.New("option --interval requires either --file or --data")}
		}
	case 0:
		return usageError{errors.New("no protocol specified")}
	}
	return nil
}

// catLoadFile reads a whole file, or standard input for "-".
func catLoadFile(path string, stdin io.Reader) ([]byte, error) {
	if path == "-" {
		if stdin == nil {
			stdin = os.Stdin
		}
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("read from standard input failed: %w", err)
		}
		return b, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot open file %s: %w", path, err)
	}
	return b, nil
}
