// Package rpc is nanonext's request/reply RPC for nanoact.
//
// # Request and reply
//
// Reply answers one request on a rep socket or context with nanonext's
// error byte on failure; Request and Client call from req contexts; Server
// is a supervised rep service whose workers are actors restarted when a
// handler panics.
//
// The task runner (Dispatcher, daemons, Submit, Map) is package runner.
package rpc
