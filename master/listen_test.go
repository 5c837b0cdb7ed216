package master

import (
	"net"
	"testing"
	"time"
)

func TestWaitReadable(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	f, _ := listenerFile(l)
	f.Close()
	w, err := watchFile(l)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	got := make(chan bool, 1)
	go func() { got <- waitReadable(w) }()
	select {
	case v := <-got:
		t.Fatalf("returned %v without a client", v)
	case <-time.After(100 * time.Millisecond):
	}
	c, err := net.Dial("tcp4", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case v := <-got:
		if !v {
			t.Fatal("returned false with a client waiting")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("client not noticed")
	}
	// Cancel by deadline.
	l2, _ := net.Listen("tcp4", "127.0.0.1:0")
	defer l2.Close()
	w2, _ := watchFile(l2)
	defer w2.Close()
	go func() { got <- waitReadable(w2) }()
	time.Sleep(50 * time.Millisecond)
	w2.SetReadDeadline(time.Unix(1, 0))
	select {
	case v := <-got:
		if v {
			t.Error("cancelled wait reported a client")
		}
	case <-time.After(2 * time.Second):
		t.Error("wait not cancelled by the deadline")
	}
}
