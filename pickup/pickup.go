package pickup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"

	"google.golang.org/grpc"

	"postern/pkg/log"
	"postern/pkg/queue"
	"postern/pkg/rpc"
	"postern/pkg/service"
	"postern/pkg/submit"
	"postern/pkg/trigger"
	pb "postern/proto"
)

// Main is the pickup daemon.
func Main(args []string) int {
	p := &Picker{wake: make(chan struct{}, 1)}
	return service.Main(args, &service.Daemon{
		PostJail: func(s *service.Service) error {
			bconn, err := rpc.Private(".", "bounce")
			if err != nil {
				return err
			}
			p.Bounce = bconn
			conn, err := rpc.Private(".", "cleanup")
			if err != nil {
				return err
			}
			p.Queue = queue.FromConfig(".", s.Config)
			p.Cleanup = conn
			return nil
		},
		HandleConn: func(ctx context.Context, s *service.Service, conn net.Conn) {
			if len(trigger.Read(conn)) > 0 {
				p.Wake()
			}
		},
		Wakeup:    func(*service.Service) { p.Wake() },
		Run:       func(ctx context.Context, s *service.Service) error { p.Run(ctx); return nil },
		LongLived: true,
	})
}

// Picker moves maildrop files to cleanup.
type Picker struct {
	Queue   *queue.Queue
	Cleanup *grpc.ClientConn
	// Bounce, when set, returns a message that cleanup rejects for good
	// to its sender; nil leaves such a file in maildrop/ (tests).
	Bounce *grpc.ClientConn
	// OwnUID is the uid pickup runs as (mail_owner); a maildrop file owned
	// by it (a requeued message) is trusted whatever its submit_uid. Zero
	// means os.Geteuid().
	OwnUID int

	wake chan struct{}
}

// Wake asks for a scan; requests that come during a scan merge into one
// more scan after it.
func (p *Picker) Wake() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Run scans once at start and then whenever woken, until ctx ends.
func (p *Picker) Run(ctx context.Context) {
	p.Scan(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
			p.Scan(ctx)
		}
	}
}

// Scan hands every complete file in maildrop/ to cleanup.
func (p *Picker) Scan(ctx context.Context) {
	err := p.Queue.Scan(queue.Maildrop, func(id, path string) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		p.pickup(ctx, id, path)
		return nil
	})
	if err != nil && ctx.Err() == nil {
		log.Warningf("scan %s: %v", queue.Maildrop, err)
	}
}

// pickup handles one maildrop file.
func (p *Picker) pickup(ctx context.Context, id, path string) {
	f, err := queue.Open(path)
	switch {
	case err == nil:
	case errors.Is(err, queue.ErrIncomplete), errors.Is(err, os.ErrNotExist):
		return // still being written, or taken by another pickup
	case errors.Is(err, queue.ErrCorrupt):
		p.Queue.MoveToCorrupt(path, err)
		return
	default:
		log.Warningf("open %s: %v", path, err)
		return
	}
	defer f.Close()
	env, err := f.Envelope()
	if err != nil {
		p.corrupt(f, path, err)
		return
	}
	uidAttr := ""
	var attrs []*pb.Attr
	for _, a := range env.Attrs {
		if a.Name == "submit_uid" {
			uidAttr = a.Value
		}
		attrs = append(attrs, &pb.Attr{Name: a.Name, Value: a.Value})
	}
	owner, mode, ok := fileOwner(path)
	if !ok {
		return // gone meanwhile
	}
	own := p.OwnUID
	if own == 0 {
		own = os.Geteuid()
	}
	// postsuper -r: a queue file of mail_owner's, not readable by others
	// (postdrop's files are mode 0744), Postfix's MAIL_IS_REQUEUED.
	requeued := owner == own && mode&syscall.S_IROTH == 0
	if !requeued && (uidAttr == "" || uidAttr != strconv.Itoa(owner)) {
		// A file postdrop did not write for the uid that owns it: do not
		// let it pose as another user's mail.
		p.corrupt(f, path, fmt.Errorf("uid=%d: file owner does not match submit_uid %q", owner, uidAttr))
		return
	}
	if requeued {
		uidAttr = strconv.Itoa(owner)
	}
	for _, a := range [][2]string{
		{"envelope_id", env.EnvelopeID}, {"ret_flags", retFlags(env.Ret)},
		{"encoding", env.Encoding}, {"verp_delimiters", env.VERPDelimiters},
	} {
		if a[1] != "" {
			attrs = append(attrs, &pb.Attr{Name: a[0], Value: a[1]})
		}
	}
	var rcpt, ext []*pb.Recipient
	err = f.Recipients(func(r queue.Recipient) error {
		if r.Done {
			return nil // a requeued message's finished recipients
		}
		x := &pb.Recipient{Address: r.Address, Original: r.OrigAddress, Orcpt: r.ORCPT, Notify: uint32(r.Notify)}
		if r.Extracted {
			ext = append(ext, x)
		} else {
			rcpt = append(rcpt, x)
		}
		return nil
	})
	if err != nil {
		p.corrupt(f, path, err)
		return
	}
	rc := "local"
	if env.RewriteContext == "remote" { // sendmail -G
		rc = "remote"
	}
	var flags uint32
	if len(ext) > 0 {
		flags |= uint32(pb.SubmitFlag_SUBMIT_FLAG_EXTRACTED)
	}
	s, err := submit.Begin(ctx, p.Cleanup, &pb.SubmitEnvelope{
		Sender:         env.Sender,
		FullName:       env.SenderFullName,
		ArrivalTimeUs:  f.ArrivalTime().UnixMicro(),
		RewriteContext: rc,
		Flags:          flags,
		Attrs:          attrs,
		Origin:         "pickup",
	})
	if err != nil {
		log.Warningf("%s: uid=%s: cannot submit to cleanup: %v", id, uidAttr, err)
		return
	}
	// Postfix logs this as soon as cleanup has named the message; for
	// requeued mail with the owner's uid and the old queue ID.
	if requeued {
		log.QInfof(s.QueueID(), "uid=%d from=<%s> orig_id=%s", owner, env.Sender, id)
	} else {
		log.QInfof(s.QueueID(), "uid=%s from=<%s>", uidAttr, env.Sender)
	}
	// A rejection here shows again in End's reply.
	_ = s.AddRecipients(rcpt...)
	_ = s.AddExtracted(ext...)
	if _, err := io.Copy(s, f.ContentReader()); err != nil {
		var rej *submit.RejectedError
		if !errors.As(err, &rej) {
			s.Abort()
			if errors.Is(err, queue.ErrCorrupt) {
				p.corrupt(f, path, err)
			} else {
				log.Warningf("%s: uid=%s: %v", id, uidAttr, err)
			}
			return
		}
	}
	reply, err := s.End()
	switch {
	case err != nil:
		log.Warningf("%s: uid=%s: %v -- will try again", id, uidAttr, err)
		return
	case reply.Status == 0:
	case reply.Status < 500:
		log.Warningf("%s: uid=%s: cleanup: %d %s %s -- will try again", id, uidAttr, reply.Status, reply.Dsn, reply.Text)
		return
	default:
		// As Postfix's cleanup does for a local submission: the message
		// goes back to its sender (bounce(8) reads it from maildrop/),
		// and only then is the file removed.
		log.Warningf("%s: uid=%s: message rejected by cleanup: %d %s %s", id, uidAttr, reply.Status, reply.Dsn, reply.Text)
		if !p.bounce(ctx, id, append(rcpt, ext...), reply) {
			return
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		log.Warningf("remove %s: %v", path, err)
	}
}

// bounce returns the maildrop message id to its sender with every
// recipient failed for cleanup's reason, and reports whether that is done
// (the file may then go). A failure leaves the file for the next scan.
func (p *Picker) bounce(ctx context.Context, id string, rcpts []*pb.Recipient, reply *pb.SubmitReply) bool {
	if p.Bounce == nil {
		return false
	}
	now := time.Now().UnixMicro()
	var recs []*pb.StatusRecord
	for i, r := range rcpts {
		recs = append(recs, &pb.StatusRecord{
			Index: uint32(i), Address: r.Address, Original: r.Original, Orcpt: r.Orcpt, Notify: r.Notify,
			Action: "failed", Dsn: reply.Dsn, Text: reply.Text, Relay: "none", TimeUs: now,
		})
	}
	bc := pb.NewBounceClient(p.Bounce)
	r, err := bc.Append(ctx, &pb.AppendRequest{QueueId: id, Records: recs})
	if err == nil && r.Status == 0 {
		r, err = bc.Flush(ctx, &pb.NotifyRequest{QueueId: id, QueueName: queue.Maildrop})
	}
	if err != nil || r.Status != 0 {
		text := ""
		if r != nil {
			text = r.Text
		}
		log.Warningf("%s: cannot return the rejected message to its sender: %v %s -- will try again", id, err, text)
		return false
	}
	return true
}

func (p *Picker) corrupt(f *queue.File, path string, err error) {
	f.Close()
	p.Queue.MoveToCorrupt(path, err)
}

func retFlags(r int) string {
	if r == 0 {
		return ""
	}
	return strconv.Itoa(r)
}

func fileOwner(path string) (uid int, mode uint32, ok bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, 0, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return int(st.Uid), st.Mode, true
}
