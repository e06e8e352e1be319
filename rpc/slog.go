package rpc

import (
	"log/slog"

	"go.uber.org/zap"

	"github.com/nanoact/nanoact/internal/logbridge"
)

// WithSlog is WithLogger for a log/slog logger: the server's zap logging
// writes to l's handler, zap's levels mapped to slog's (DPanic and above
// to slog.LevelError+2 and up), a named logger's name in a "logger"
// attribute, fields in order with their types. Only entries l's handler
// enables cost anything beyond zap's level check. nil means none, as for
// WithLogger.
func WithSlog(l *slog.Logger) ServerOption { return WithLogger(logbridge.Logger(l)) }

// remote returns the peer address of the server's connection pipe as a
// log field, "" once the connection is gone. It costs a lookup and an
// option read; call it only for a line that is written.
func (s *Server) remote(pipe uint32) zap.Field {
	addr := ""
	if p, err := s.sock.Pipe(pipe); err == nil {
		addr, _ = p.RemoteAddr()
	}
	return zap.String("remote", addr)
}
