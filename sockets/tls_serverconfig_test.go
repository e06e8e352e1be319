package sockets_test

import (
	"errors"
	"testing"

	"github.com/nanoact/nanoact"
	"github.com/nanoact/nanoact/internal/testkit"
	"github.com/nanoact/nanoact/sockets"
)

func TestTLSServerConfigExport(t *testing.T) {
	srv, cert := testkit.SelfSignedServer(t, "127.0.0.1")
	a, err := srv.ServerConfig()
	if err != nil || len(a.Certificates) != 1 {
		t.Fatalf("ServerConfig: %v", err)
	}
	b, _ := srv.ServerConfig()
	a.NextProtos = []string{"x"}
	if len(b.NextProtos) != 0 {
		t.Fatal("ServerConfig does not return a fresh copy")
	}
	cli, err := sockets.NewTLSClient(sockets.TLSCA(cert))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.ServerConfig(); !errors.Is(err, nanoact.ErrInvalid) {
		t.Fatalf("client config: %v", err)
	}
	if _, err := new(sockets.TLSConfig).ServerConfig(); !errors.Is(err, nanoact.ErrInvalid) {
		t.Fatalf("zero config: %v", err)
	}
}
