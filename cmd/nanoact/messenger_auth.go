package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
)

// The messenger's control messages, nanonext's bytes: R's
// writeBin(":c ", raw()) is the three characters and a NUL. A received
// message is one of them when it starts with the three characters.
const (
	msgrConnect    = ":c \x00"
	msgrDisconnect = ":d \x00"
)

// msgrKeyInts is the length of a messenger key: 20 positions, then the
// characters of the lock at those positions.
const msgrKeyInts = 40

// messengerLock returns the lock both parties derive from the pre-shared
// secret: the lower-case hex digits of its hash, as bytes. nanonext hashes
// the R serialization of its auth object with MD5 (32 digits); here the
// secret is bytes (a string or a file) and the hash is SHA-256 (64
// digits), so nanoact and R messengers cannot authenticate each other.
// Only the first 20 digits are ever used, as in nanonext.
func messengerLock(secret []byte) []byte {
	sum := sha256.Sum256(secret)
	return []byte(hex.EncodeToString(sum[:]))
}

// messengerKey returns a fresh key for lock, as nanonext's
// c(comb, as.integer(lock)[comb]): a random permutation of the positions
// 1 to 20 (1-based, as R), then the lock's byte at each of them.
func messengerKey(lock []byte) []int32 {
	key := make([]int32, msgrKeyInts)
	for i, p := range rand.Perm(msgrKeyInts / 2) {
		key[i] = int32(p + 1)
		key[i+msgrKeyInts/2] = int32(lock[p])
	}
	return key
}

// encodeMessengerKey encodes a key as nanonext sends an R integer vector
// in raw mode: 4-byte little-endian integers (160 bytes).
func encodeMessengerKey(key []int32) []byte {
	b := make([]byte, 0, 4*len(key))
	for _, v := range key {
		b = binary.LittleEndian.AppendUint32(b, uint32(v))
	}
	return b
}

// verifyMessengerKey reports whether body, a peer's key as received,
// proves knowledge of lock: for each of the 20 positions it names, the
// byte that follows in the second half must be the lock's byte there
// (nanonext's lock[r[i]] == r[i + 20]). A body of the wrong size, or a
// position outside the lock, fails.
func verifyMessengerKey(lock, body []byte) bool {
	if len(body) != 4*msgrKeyInts {
		return false
	}
	at := func(i int) int32 { return int32(binary.LittleEndian.Uint32(body[4*i:])) }
	for i := range msgrKeyInts / 2 {
		pos, want := at(i), at(i+msgrKeyInts/2)
		if pos < 1 || int(pos) > len(lock) || int32(lock[pos-1]) != want {
			return false
		}
	}
	return true
}
