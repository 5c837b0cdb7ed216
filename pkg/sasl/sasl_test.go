package sasl_test

import (
	"context"
	"encoding/base64"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"postern/pkg/sasl"
	"postern/pkg/sasl/sasltest"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func start(t *testing.T) (*sasl.Dovecot, *sasltest.Server) {
	path := filepath.Join(t.TempDir(), "auth")
	srv, err := sasltest.Start(path, map[string]string{"alice": "secret"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return sasl.NewDovecot(path), srv
}

func TestMechanismsFiltered(t *testing.T) {
	d, _ := start(t)
	m, err := d.Mechanisms(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := sasl.Filter(m, []string{"noanonymous"}); !reflect.DeepEqual(got, []string{"PLAIN", "LOGIN"}) {
		t.Errorf("noanonymous: %v", got)
	}
	if got := sasl.Filter(m, []string{"noanonymous", "noplaintext"}); len(got) != 0 {
		t.Errorf("noplaintext: %v", got)
	}
}

func TestPlainWithInitialResponse(t *testing.T) {
	d, srv := start(t)
	cv, r := d.Start(context.Background(), sasl.Request{Mech: "PLAIN", LocalIP: "127.0.0.1", RemoteIP: "127.0.0.2", Secured: true,
		InitialResponse: b64("\x00alice\x00secret"), HasInitial: true})
	defer cv.Close()
	if r.Status != sasl.OK || r.User != "alice" {
		t.Fatalf("got %+v", r)
	}
	req := srv.AuthRequests()[0]
	if !strings.HasPrefix(req, "AUTH\t1\tPLAIN\tservice=smtp\tnologin\tlip=127.0.0.1\trip=127.0.0.2\tsecured") {
		t.Errorf("request %q", req)
	}
}

func TestPlainWrongPassword(t *testing.T) {
	d, _ := start(t)
	cv, r := d.Start(context.Background(), sasl.Request{Mech: "PLAIN"})
	defer cv.Close()
	if r.Status != sasl.Continue || r.Challenge != "" {
		t.Fatalf("got %+v", r)
	}
	r = cv.Next(b64("\x00alice\x00wrong"))
	if r.Status != sasl.Fail || r.Reason != "" || r.User != "alice" {
		t.Fatalf("got %+v", r)
	}
}

func TestLogin(t *testing.T) {
	d, _ := start(t)
	cv, r := d.Start(context.Background(), sasl.Request{Mech: "login"})
	defer cv.Close()
	if r.Status != sasl.Continue || r.Challenge != b64("Username:") {
		t.Fatalf("got %+v", r)
	}
	if r = cv.Next(b64("alice")); r.Status != sasl.Continue || r.Challenge != b64("Password:") {
		t.Fatalf("got %+v", r)
	}
	if r = cv.Next(b64("secret")); r.Status != sasl.OK || r.User != "alice" {
		t.Fatalf("got %+v", r)
	}
}

func TestTempAndBadInput(t *testing.T) {
	d, _ := start(t)
	_, r := d.Start(context.Background(), sasl.Request{Mech: "PLAIN", InitialResponse: b64("\x00tempfail\x00x"), HasInitial: true})
	if r.Status != sasl.Temp {
		t.Errorf("tempfail: %+v", r)
	}
	if _, r = d.Start(context.Background(), sasl.Request{Mech: "PLAIN", InitialResponse: "a\tb", HasInitial: true}); r.Status != sasl.Fail || r.Reason != "Invalid base64 data in initial response" {
		t.Errorf("bad base64: %+v", r)
	}
	if _, r = d.Start(context.Background(), sasl.Request{Mech: "CRAM-MD5"}); r.Status != sasl.Fail || r.Reason != "Invalid authentication mechanism" {
		t.Errorf("unknown mech: %+v", r)
	}
	bad := sasl.NewDovecot("/nonexistent/auth")
	if _, r = bad.Start(context.Background(), sasl.Request{Mech: "PLAIN"}); r.Status != sasl.Temp {
		t.Errorf("no server: %+v", r)
	}
}

func TestLoginServer(t *testing.T) {
	var gotU, gotP string
	s := sasl.NewLoginServer(func(u, p string) error { gotU, gotP = u, p; return nil })
	ch, done, err := s.Next([]byte("bob"))
	if string(ch) != "Password:" || done || err != nil {
		t.Fatalf("initial: %q %v %v", ch, done, err)
	}
	if _, done, err = s.Next([]byte("pw")); !done || err != nil || gotU != "bob" || gotP != "pw" {
		t.Fatalf("final: %v %v %q %q", done, err, gotU, gotP)
	}
	if _, _, err = s.Next(nil); err == nil {
		t.Fatal("extra step accepted")
	}
}
