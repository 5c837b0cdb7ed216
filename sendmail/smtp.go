package sendmail

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	plog "postern/pkg/log"
	"postern/postdrop"
	pb "postern/proto"
	"postern/smtpd"
)

// serveSMTP is sendmail -bs: one SMTP session on stdin/stdout through
// smtpd's session code; each accepted message goes through postdrop into
// maildrop/, as Postfix's "smtpd -S" does.
func (p *program) serveSMTP() int {
	plog.SetStderr(false)
	plog.Default().SetProgram("smtpd")
	sub := &dropSubmitter{path: filepath.Join(p.cfg.Get("command_directory"), "postdrop"), env: p.env}
	return smtpd.ServeStdio(p.cfg, os.Stdin, os.Stdout, sub, plog.Default())
}

// dropSubmitter submits through postdrop -r.
type dropSubmitter struct {
	path string
	env  []string
}

type dropSubmission struct {
	cmd    *exec.Cmd
	pipe   io.WriteCloser
	w      *postdrop.StreamWriter
	stdout *strings.Builder // postdrop -r reports "queue_id=ID"
	done   bool
}

func (d *dropSubmitter) Begin(_ context.Context, env *pb.SubmitEnvelope) (smtpd.Submission, error) {
	c := exec.Command(d.path, "-r")
	c.Env = d.env
	c.Stderr = os.Stderr
	pipe, err := c.StdinPipe()
	if err != nil {
		return nil, err
	}
	out := &strings.Builder{}
	c.Stdout = out
	if err := c.Start(); err != nil {
		return nil, err
	}
	s := &dropSubmission{cmd: c, pipe: pipe, w: postdrop.NewStreamWriter(pipe), stdout: out}
	s.w.String(postdrop.RecSender, env.Sender)
	for _, a := range env.Attrs {
		switch a.Name {
		case "envelope_id", "ret_flags", "encoding", "smtputf8":
			s.w.Attr(a.Name, a.Value)
		}
	}
	return s, nil
}

func (s *dropSubmission) QueueID() string { return "" }

func (s *dropSubmission) AddRecipients(r ...*pb.Recipient) error {
	for _, x := range r {
		if err := s.w.Recipient(postdrop.RecRecipient, int(x.Notify), x.Address); err != nil {
			return err
		}
	}
	return nil
}

func (s *dropSubmission) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		k := min(len(p), 64<<10)
		if err := s.w.Record(postdrop.RecContent, p[:k]); err != nil {
			return 0, err
		}
		p = p[k:]
	}
	return n, nil
}

func (s *dropSubmission) End() (*pb.SubmitReply, error) {
	s.done = true
	s.w.Record(postdrop.RecEnd, nil)
	werr := s.w.Flush()
	s.pipe.Close()
	if err := s.cmd.Wait(); err != nil || werr != nil {
		return &pb.SubmitReply{Status: 451, Dsn: "4.3.0", Text: "Error: queue file write error", Final: true}, nil
	}
	id := strings.TrimPrefix(strings.TrimSpace(s.stdout.String()), "queue_id=")
	return &pb.SubmitReply{Final: true, QueueId: id}, nil
}

func (s *dropSubmission) Abort() {
	if s.done {
		return
	}
	s.done = true
	s.w.Record(postdrop.RecAbort, nil)
	s.w.Flush()
	s.pipe.Close()
	s.cmd.Wait()
}
