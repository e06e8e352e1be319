//go:build race

package recvloop_test

// raceOn says the race detector is on: sync.Pool then drops a quarter of
// what is put back, so pooled messages allocate.
const raceOn = true
