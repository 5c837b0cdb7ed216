package smtpd

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"postern/pkg/config"
	"postern/pkg/log"
	pb "postern/proto"
)

type memSubmitter struct{ msgs []*memSub }

type memSub struct {
	env   *pb.SubmitEnvelope
	rcpts []*pb.Recipient
	body  strings.Builder
	ended bool
}

func (m *memSubmitter) Begin(_ context.Context, env *pb.SubmitEnvelope) (Submission, error) {
	s := &memSub{env: env}
	m.msgs = append(m.msgs, s)
	return s, nil
}
func (s *memSub) QueueID() string                        { return "" }
func (s *memSub) AddRecipients(r ...*pb.Recipient) error { s.rcpts = append(s.rcpts, r...); return nil }
func (s *memSub) Write(p []byte) (int, error)            { return s.body.Write(p) }
func (s *memSub) End() (*pb.SubmitReply, error) {
	s.ended = true
	return &pb.SubmitReply{Final: true}, nil
}
func (s *memSub) Abort() {}

// sendmail -bs: a session on stdin/stdout, client localhost[127.0.0.1],
// no relay control.
func TestServeStdio(t *testing.T) {
	dir := t.TempDir()
	cfg := config.New()
	cfg.Set("myhostname", "mx.example.test")
	cfg.Set("smtpd_banner", "$myhostname ESMTP Postern")
	cfg.Set("compatibility_level", "3.6")
	cfg.Set("mynetworks", "10.0.0.0/8")
	lg, _ := log.New(log.Options{Program: "smtpd", SyslogName: "postern", File: filepath.Join(dir, "log"), Hostname: "mx"})
	inR, inW, _ := os.Pipe()
	outR, outW, _ := os.Pipe()
	sub := &memSubmitter{}
	done := make(chan int)
	go func() { done <- ServeStdio(cfg, inR, outW, sub, lg); outW.Close() }()
	inW.WriteString("EHLO me\r\nMAIL FROM:<u@localhost>\r\nRCPT TO:<far@elsewhere.test>\r\nDATA\r\n")
	br := bufio.NewReader(outR)
	var got []string
	for len(got) < 4 || !strings.HasPrefix(got[len(got)-1], "354") {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("%v after %q", err, got)
		}
		got = append(got, strings.TrimRight(l, "\r\n"))
	}
	inW.WriteString("Subject: bs\r\n\r\nhi\r\n.\r\nQUIT\r\n")
	for _, want := range []string{"250 2.0.0 Ok: queued", "221 2.0.0 Bye"} {
		l, _ := br.ReadString('\n')
		if strings.TrimRight(l, "\r\n") != want {
			t.Fatalf("got %q want %q", l, want)
		}
	}
	<-done
	if got[0] != "220 mx.example.test ESMTP Postern" || strings.Contains(strings.Join(got, "\n"), "STARTTLS") {
		t.Errorf("session %q", got)
	}
	if len(sub.msgs) != 1 || !sub.msgs[0].ended || !strings.HasPrefix(sub.msgs[0].body.String(), "Received: from me (localhost [127.0.0.1])\n\tby mx.example.test (Postern) with ESMTP\n\tfor <far@elsewhere.test>; ") {
		t.Fatalf("message %+v", sub.msgs)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "log"))
	if !strings.Contains(string(b), "connect from localhost[127.0.0.1]") {
		t.Errorf("log %s", b)
	}
}
