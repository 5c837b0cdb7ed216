package discard

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/pkg/log"
	pb "postern/proto"
)

func TestDiscardReportsEveryRecipientSentAndLogsIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "maillog")
	l, err := log.New(log.Options{Program: "discard", SyslogName: "postern", File: path, Hostname: "mx.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	at := time.Unix(1_800_000_000, 0)
	s := &Server{Log: l, Now: func() time.Time { return at.Add(2 * time.Second) }}
	for _, tc := range []struct{ nexthop, dsn, text string }{
		{"example.test", "2.0.0", "example.test"},
		{"2.1.5 thrown away", "2.1.5", "thrown away"},
		{"5.1.1 not a success code", "2.0.0", "not a success code"},
	} {
		reply, err := s.Deliver(context.Background(), &pb.DeliverRequest{
			QueueId: "ABC123", Nexthop: tc.nexthop,
			ArrivalTimeUs: at.UnixMicro(), ActiveTimeUs: at.Add(time.Second).UnixMicro(), RequestTimeUs: at.Add(time.Second).UnixMicro(),
			Recipients: []*pb.DeliverRecipient{{Index: 7, Address: "x@example.test"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		r := reply.Results[0]
		if r.Index != 7 || r.Status != pb.DeliveryStatus_DELIVERY_SENT || r.Dsn != tc.dsn || r.Text != tc.text {
			t.Errorf("%q: %v", tc.nexthop, r)
		}
		b, _ := os.ReadFile(path)
		want := "ABC123: to=<x@example.test>, relay=none, delay=2, delays=1/0/0/1, dsn=" + tc.dsn + ", status=sent (" + tc.text + ")\n"
		if !strings.HasSuffix(string(b), want) {
			t.Errorf("%q: log\n%s\nwant it to end with\n%s", tc.nexthop, b, want)
		}
	}
}
