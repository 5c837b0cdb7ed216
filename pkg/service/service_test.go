package service

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseArgs(t *testing.T) {
	s, o, err := parseArgs([]string{"/usr/libexec/postern/smtpd", "-n", "submission", "-t", "inet", "-u", "-c", "-s", "2",
		"-o", "syslog_name=postern/submission", "-o", "smtpd_tls_security_level = encrypt", "-v", "extra", "-x"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Program != "smtpd" || s.Name != "submission" || s.Type != "inet" || !s.Unpriv || !s.Chroot ||
		s.listenCount != 2 || s.Verbose != 1 {
		t.Errorf("parsed %+v", s)
	}
	if !reflect.DeepEqual(s.Args, []string{"extra", "-x"}) {
		t.Errorf("args %q", s.Args)
	}
	want := [][2]string{{"syslog_name", "postern/submission"}, {"smtpd_tls_security_level", "encrypt"}}
	if !reflect.DeepEqual(o, want) {
		t.Errorf("overrides %q, want %q", o, want)
	}
	s, _, err = parseArgs([]string{"pickup"})
	if err != nil || s.Name != "pickup" || s.Type != "inet" || s.listenCount != 1 {
		t.Errorf("defaults: %+v %v", s, err)
	}
	for _, bad := range [][]string{{"x", "-n"}, {"x", "-o", "novalue"}, {"x", "-s", "z"}, {"x", "-q"}} {
		if _, _, err := parseArgs(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestCheckStatus(t *testing.T) {
	dir := t.TempDir()
	write := func(text string) *os.File {
		p := filepath.Join(dir, "status")
		os.WriteFile(p, []byte(text), 0644)
		f, _ := os.Open(p)
		t.Cleanup(func() { f.Close() })
		return f
	}
	good := "Name:\tsmtpd\nUid:\t100\t100\t100\t100\nGid:\t101\t101\t101\t101\nGroups:\t101 \nNoNewPrivs:\t1\n"
	if err := CheckStatus(write(good), 100, 101, true); err != nil {
		t.Errorf("good status: %v", err)
	}
	for _, bad := range []string{
		strings.Replace(good, "Uid:\t100\t100\t100\t100", "Uid:\t100\t0\t100\t100", 1),
		strings.Replace(good, "Groups:\t101 ", "Groups:\t0 101", 1),
		strings.Replace(good, "NoNewPrivs:\t1", "NoNewPrivs:\t0", 1),
		"Uid:\t100\t100\t100\t100\n",
	} {
		if err := CheckStatus(write(bad), 100, 101, true); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestTrackerMaxUse(t *testing.T) {
	tr := newTracker(&Service{}, 2)
	if tr.acquire() || tr.done() {
		t.Fatal("limit reached after one session of two")
	}
	if !tr.acquire() {
		t.Fatal("limit not reached after max_use sessions")
	}
	select {
	case <-tr.limit:
	default:
		t.Error("limit not signalled after max_use sessions")
	}
	if !tr.acquire() || !tr.done() {
		t.Error("limit forgotten")
	}
	tr.release()
	tr.release()
	if tr.idleFor() != 0 {
		t.Error("idle while a session is active")
	}
	tr.release()
	select {
	case <-tr.idle:
	default:
		t.Error("idle not signalled")
	}
}
