package trigger

import (
	"net"
	"path/filepath"
	"testing"
)

func TestSendRead(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "qmgr")
	if Send(dir, "qmgr", Incoming) {
		t.Fatal("Send to a missing socket reported success")
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan []byte, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			got <- nil
			return
		}
		got <- Read(c)
		c.Close()
	}()
	if !Send(dir, "qmgr", Incoming, Deferred) {
		t.Fatal("Send failed")
	}
	if b := <-got; string(b) != "ID" {
		t.Fatalf("Read = %q, want \"ID\"", b)
	}
}
