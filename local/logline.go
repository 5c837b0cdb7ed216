package local

import (
	"fmt"
	"strings"
	"time"

	"postern/pkg/log"
	pb "postern/proto"
)

// Private stand-in for postern/pkg/delivery.LogResult, which is being
// written beside this package. TODO(lead): replace with pkg/delivery.

func (s *Server) logResult(req *pb.DeliverRequest, rcpt *pb.DeliverRecipient, res *pb.RecipientResult) {
	log.QInfof(req.QueueId, "%s", resultLine(req, rcpt, res, s.Now()))
}

func resultLine(req *pb.DeliverRequest, rcpt *pb.DeliverRecipient, res *pb.RecipientResult, now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "to=<%s>, ", rcpt.Address)
	if o := rcpt.Original; o != "" && !strings.EqualFold(o, rcpt.Address) {
		fmt.Fprintf(&b, "orig_to=<%s>, ", o)
	}
	relay := res.Relay
	if relay == "" {
		relay = "none"
	}
	us := func(v int64, def time.Time) time.Time {
		if v == 0 {
			return def
		}
		return time.UnixMicro(v)
	}
	arrival := us(req.ArrivalTimeUs, now)
	active := us(req.ActiveTimeUs, arrival)
	request := us(req.RequestTimeUs, active)
	word := "deferred"
	switch res.Status {
	case pb.DeliveryStatus_DELIVERY_SENT:
		word = "sent"
	case pb.DeliveryStatus_DELIVERY_BOUNCE:
		word = "bounced"
	}
	fmt.Fprintf(&b, "relay=%s, delay=%s, delays=%s/%s/0/%s, dsn=%s, status=%s (%s)", relay,
		fmtDelay(now.Sub(arrival)), fmtDelay(active.Sub(arrival)), fmtDelay(request.Sub(active)),
		fmtDelay(now.Sub(request)), res.Dsn, word, res.Text)
	return b.String()
}

// fmtDelay prints a delay with at most two significant digits and two
// decimals, as Postfix does.
func fmtDelay(d time.Duration) string {
	s := d.Seconds()
	var out string
	switch {
	case s < 0.005:
		return "0"
	case s >= 10:
		out = fmt.Sprintf("%.0f", s)
	case s >= 1:
		out = fmt.Sprintf("%.1f", s)
	default:
		out = fmt.Sprintf("%.2f", s)
	}
	if strings.Contains(out, ".") {
		out = strings.TrimRight(strings.TrimRight(out, "0"), ".")
	}
	return out
}
