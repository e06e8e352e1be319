package sockets

// mangos registers its inproc transport with its process-wide registry
// when imported. Every other transport is nanoact's own, registered under
// private scheme names by internal/transport: tcp, ipc, unix, abstract,
// tls+tcp, ws and wss (see transport.Rewrite).
import (
	_ "go.nanomsg.org/mangos/v3/transport/inproc"
)
