package smtpd

import (
	"context"

	"google.golang.org/grpc"

	"postern/pkg/submit"
	pb "postern/proto"
)

// Submitter opens a submission to cleanup (or, for sendmail -bs, to the
// maildrop queue).
type Submitter interface {
	Begin(ctx context.Context, env *pb.SubmitEnvelope) (Submission, error)
}

// Submission is one message on its way into the queue (pkg/submit's
// Submission).
type Submission interface {
	QueueID() string
	AddRecipients(r ...*pb.Recipient) error
	Write(p []byte) (int, error)
	End() (*pb.SubmitReply, error)
	Abort()
}

// CleanupSubmitter submits to cleanup(8) over its gRPC socket.
type CleanupSubmitter struct{ Conn *grpc.ClientConn }

// Begin starts a Submit call.
func (c CleanupSubmitter) Begin(ctx context.Context, env *pb.SubmitEnvelope) (Submission, error) {
	s, err := submit.Begin(ctx, c.Conn, env)
	if err != nil {
		return nil, err
	}
	return s, nil
}
