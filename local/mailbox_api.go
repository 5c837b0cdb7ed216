package local

import (
	pdelivery "postern/pkg/delivery"
	"postern/pkg/mailbox"
	pb "postern/proto"
)

// The mailbox writers and the result log line are shared with other
// agents: postern/pkg/mailbox and postern/pkg/delivery.

// Creds are the IDs a delivery runs with.
type Creds = mailbox.Creds

var (
	asUser         = mailbox.AsUser
	deliverMbox    = mailbox.DeliverMbox
	deliverMaildir = mailbox.DeliverMaildir
)

func (s *Server) logResult(req *pb.DeliverRequest, rcpt *pb.DeliverRecipient, res *pb.RecipientResult) {
	pdelivery.LogResult(req.QueueId, req, rcpt, res, s.Now())
}
