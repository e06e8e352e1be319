package sockets

// mangos registers these transports with its process-wide registry when
// imported; nanoact's own tcp, ipc and abstract transports are registered
// under private scheme names by internal/transport (see transport.Rewrite).
import (
	_ "go.nanomsg.org/mangos/v3/transport/inproc"
	_ "go.nanomsg.org/mangos/v3/transport/tlstcp"
	_ "go.nanomsg.org/mangos/v3/transport/ws"
	_ "go.nanomsg.org/mangos/v3/transport/wss"
)
