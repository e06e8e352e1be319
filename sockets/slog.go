package sockets

import (
	"log/slog"

	"github.com/nanoact/nanoact/internal/logbridge"
)

// WithSlog is WithLogger for a log/slog logger: the socket's zap logging
// writes to l's handler, zap's levels mapped to slog's (DPanic and above
// to slog.LevelError+2 and up), a named logger's name in a "logger"
// attribute, fields in order with their types. Only entries l's handler
// enables cost anything beyond zap's level check. nil means none, as for
// WithLogger.
func WithSlog(l *slog.Logger) Option { return WithLogger(logbridge.Logger(l)) }
