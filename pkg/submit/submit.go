// Package submit is the client of cleanup's Submit call (proto/mail.proto,
// service Cleanup): what smtpd, pickup, bounce and local forwarding use to
// hand a new message to cleanup(8).
//
//	conn, _ := rpc.Private(queueDir, "cleanup")
//	s, err := submit.Begin(ctx, conn, &pb.SubmitEnvelope{Sender: "a@example.org", ...})
//	// s.QueueID() is known now (smtpd logs "ID: client=...")
//	s.AddRecipients(&pb.Recipient{Address: "b@example.org"})
//	io.Copy(s, message)            // headers and body, LF line ends
//	reply, err := s.End()          // err: transport trouble; reply.Status != 0: rejected
//
// Recipients and content are buffered and sent in requests of about
// ChunkSize bytes, so a small message costs two round trips: Begin (the
// envelope, answered with the queue ID) and End (the rest, answered with
// the final status after cleanup's fsync). A reply is read in the
// background, so Write fails as soon as cleanup has rejected the message
// (for instance 552 5.3.4 for message_size_limit) instead of streaming the
// rest of a large message into nothing.
package submit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"google.golang.org/grpc"

	pb "postern/proto"
)

// ChunkSize is the amount of content sent in one request.
const ChunkSize = 64 << 10

// recipientBatch is how many buffered recipients force a request out.
const recipientBatch = 1000

// RejectedError is returned by Begin and Write when cleanup has answered
// with a final non-zero status; Reply is that answer.
type RejectedError struct {
	Reply *pb.SubmitReply
}

func (e *RejectedError) Error() string {
	r := e.Reply
	if r.Dsn != "" {
		return fmt.Sprintf("cleanup: %d %s %s", r.Status, r.Dsn, r.Text)
	}
	return fmt.Sprintf("cleanup: %d %s", r.Status, r.Text)
}

// ErrClosed is returned by calls after End or Abort.
var ErrClosed = errors.New("submit: submission already ended")

// Submission is one message being submitted. Its methods are not safe for
// concurrent use (the background reader is internal).
type Submission struct {
	stream  grpc.BidiStreamingClient[pb.SubmitRequest, pb.SubmitReply]
	cancel  context.CancelFunc
	queueID string

	pending pb.SubmitRequest // not yet sent
	closed  bool

	done   chan struct{} // closed when the final reply (or an error) is in
	mu     sync.Mutex
	final  *pb.SubmitReply
	rerr   error // error of the background Recv
	sendOK bool  // false once a Send failed
}

// Begin opens a Submit call on conn (rpc.Private(queueDir, "cleanup")),
// sends the envelope and waits for cleanup's first reply, which carries the
// queue ID. A rejection at this point (cleanup could not create the queue
// file) is a *RejectedError.
func Begin(ctx context.Context, conn *grpc.ClientConn, env *pb.SubmitEnvelope) (*Submission, error) {
	if env == nil {
		return nil, errors.New("submit: no envelope")
	}
	ctx, cancel := context.WithCancel(ctx)
	stream, err := pb.NewCleanupClient(conn).Submit(ctx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("submit: connect to cleanup: %w", err)
	}
	if err := stream.Send(&pb.SubmitRequest{Envelope: env}); err != nil {
		cancel()
		return nil, fmt.Errorf("submit: send envelope: %w", err)
	}
	first, err := stream.Recv()
	if err != nil {
		cancel()
		return nil, fmt.Errorf("submit: cleanup reply: %w", err)
	}
	if first.Final || first.Status != 0 {
		cancel()
		if first.Status == 0 {
			return nil, errors.New("submit: cleanup ended the call before the message")
		}
		return nil, &RejectedError{Reply: first}
	}
	s := &Submission{
		stream:  stream,
		cancel:  cancel,
		queueID: first.QueueId,
		done:    make(chan struct{}),
		sendOK:  true,
	}
	go s.receive()
	return s, nil
}

// receive waits for the final reply.
func (s *Submission) receive() {
	defer close(s.done)
	for {
		r, err := s.stream.Recv()
		s.mu.Lock()
		if err != nil {
			if err == io.EOF {
				err = errors.New("submit: cleanup closed the call without a final reply")
			}
			s.rerr = err
			s.mu.Unlock()
			return
		}
		if r.Final {
			s.final = r
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
	}
}

// rejected returns the error to give once cleanup has answered early.
func (s *Submission) rejected() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.final != nil {
		if s.final.Status != 0 {
			return &RejectedError{Reply: s.final}
		}
		return errors.New("submit: cleanup ended the call early")
	}
	return s.rerr
}

// QueueID returns the queue ID cleanup gave the message.
func (s *Submission) QueueID() string { return s.queueID }

// AddRecipients adds envelope recipients.
func (s *Submission) AddRecipients(r ...*pb.Recipient) error {
	if s.closed {
		return ErrClosed
	}
	if err := s.rejected(); err != nil {
		return err
	}
	s.pending.Recipients = append(s.pending.Recipients, r...)
	return s.maybeFlush()
}

// AddExtracted adds recipients that sendmail -t took from the headers.
func (s *Submission) AddExtracted(r ...*pb.Recipient) error {
	if s.closed {
		return ErrClosed
	}
	if err := s.rejected(); err != nil {
		return err
	}
	s.pending.Extracted = append(s.pending.Extracted, r...)
	return s.maybeFlush()
}

// Write adds message content (header and body lines ending in LF; a chunk
// need not end at a line boundary). It fails once cleanup has rejected the
// message.
func (s *Submission) Write(p []byte) (int, error) {
	if s.closed {
		return 0, ErrClosed
	}
	if err := s.rejected(); err != nil {
		return 0, err
	}
	n := 0
	for len(p) > 0 {
		room := ChunkSize - len(s.pending.Content)
		if s.pending.Content == nil {
			s.pending.Content = make([]byte, 0, ChunkSize)
		}
		k := min(room, len(p))
		s.pending.Content = append(s.pending.Content, p[:k]...)
		p = p[k:]
		n += k
		if len(s.pending.Content) >= ChunkSize {
			if err := s.flush(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

func (s *Submission) maybeFlush() error {
	if len(s.pending.Recipients)+len(s.pending.Extracted) >= recipientBatch {
		return s.flush()
	}
	return nil
}

// flush sends what is pending.
func (s *Submission) flush() error {
	req := &pb.SubmitRequest{
		Recipients: s.pending.Recipients,
		Extracted:  s.pending.Extracted,
		Content:    s.pending.Content,
		End:        s.pending.End,
	}
	s.pending = pb.SubmitRequest{}
	if !s.sendOK {
		return s.sendError(io.EOF)
	}
	if err := s.stream.Send(req); err != nil {
		s.sendOK = false
		return s.sendError(err)
	}
	return nil
}

// sendError turns a failed Send into the reason: io.EOF from Send means
// the server ended the call, and its final reply says why.
func (s *Submission) sendError(err error) error {
	if err == io.EOF {
		<-s.done
		if rerr := s.rejected(); rerr != nil {
			return rerr
		}
	}
	return fmt.Errorf("submit: send to cleanup: %w", err)
}

// End sends the rest of the message and waits for cleanup's final reply,
// which comes after the queue file is durable. A reply with a non-zero
// Status is a rejection (Status, Dsn and Text say why), not an error; an
// error means the call itself failed and the outcome is unknown to the
// caller (treat it as a temporary failure).
func (s *Submission) End() (*pb.SubmitReply, error) {
	if s.closed {
		return nil, ErrClosed
	}
	s.closed = true
	defer s.cancel()
	s.mu.Lock()
	early := s.final
	s.mu.Unlock()
	if early == nil {
		s.pending.End = true
		if err := s.flush(); err != nil {
			var rej *RejectedError
			if errors.As(err, &rej) {
				return rej.Reply, nil
			}
			return nil, err
		}
		_ = s.stream.CloseSend()
	}
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.final != nil {
		return s.final, nil
	}
	return nil, s.rerr
}

// Abort gives up the message: cleanup discards it without a trace. It is
// safe after End and more than once.
func (s *Submission) Abort() {
	if s.closed {
		return
	}
	s.closed = true
	if s.sendOK {
		_ = s.stream.Send(&pb.SubmitRequest{Abort: true})
		_ = s.stream.CloseSend()
	}
	s.cancel()
}
