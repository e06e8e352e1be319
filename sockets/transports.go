package sockets

// Every transport is nanoact's own, inproc included, registered under
// private scheme names by internal/transport (see transport.Register,
// called by New, and transport.Rewrite): tcp, ipc, unix, abstract,
// tls+tcp, ws, wss and inproc. mangos' own transports are not imported, so
// plain mangos code in the process keeps whatever it registers itself.
