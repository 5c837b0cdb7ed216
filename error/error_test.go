package error

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

func testLogger(t *testing.T) (*log.Logger, func() string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "maillog")
	l, err := log.New(log.Options{Program: "error", SyslogName: "postern", File: path, Hostname: "mx.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, func() string {
		b, _ := os.ReadFile(path)
		return string(b)
	}
}

func request(nexthop string) *pb.DeliverRequest {
	at := time.Unix(1_800_000_000, 0)
	return &pb.DeliverRequest{
		QueueId:       "1F2A3B984004",
		QueueName:     "active",
		Nexthop:       nexthop,
		ArrivalTimeUs: at.UnixMicro(),
		ActiveTimeUs:  at.Add(10 * time.Millisecond).UnixMicro(),
		RequestTimeUs: at.Add(40 * time.Millisecond).UnixMicro(),
		Recipients: []*pb.DeliverRecipient{
			{Index: 0, Address: "d1@down.example.test"},
			{Index: 3, Address: "d2@down.example.test", Original: "alias@example.test"},
		},
	}
}

func TestErrorAgentBouncesEveryRecipientWithTheNexthopText(t *testing.T) {
	for _, tc := range []struct {
		service, nexthop string
		status           pb.DeliveryStatus
		dsn, text, word  string
	}{
		{"error", "no mail for you", pb.DeliveryStatus_DELIVERY_BOUNCE, "5.0.0", "no mail for you", "bounced"},
		{"error", "5.1.1 user unknown", pb.DeliveryStatus_DELIVERY_BOUNCE, "5.1.1", "user unknown", "bounced"},
		{"error", "4.4.1 delivery temporarily suspended: connect to x: Connection refused", pb.DeliveryStatus_DELIVERY_DEFER, "4.4.1", "delivery temporarily suspended: connect to x: Connection refused", "deferred"},
		{"retry", "delivery temporarily suspended: x", pb.DeliveryStatus_DELIVERY_DEFER, "4.0.0", "delivery temporarily suspended: x", "deferred"},
		{"retry", "5.1.1 wrong class", pb.DeliveryStatus_DELIVERY_DEFER, "4.0.0", "wrong class", "deferred"},
	} {
		l, read := testLogger(t)
		s := New(tc.service)
		s.Log = l
		s.Now = func() time.Time { return time.Unix(1_800_000_000, 50_000_000) }
		reply, err := s.Deliver(context.Background(), request(tc.nexthop))
		if err != nil {
			t.Fatal(err)
		}
		if len(reply.Results) != 2 || reply.Results[0].Index != 0 || reply.Results[1].Index != 3 {
			t.Fatalf("%s %q: results %v", tc.service, tc.nexthop, reply.Results)
		}
		for _, r := range reply.Results {
			if r.Status != tc.status || r.Dsn != tc.dsn || r.Text != tc.text || r.Relay != "none" {
				t.Errorf("%s %q: result %v", tc.service, tc.nexthop, r)
			}
		}
		got := read()
		want1 := "1F2A3B984004: to=<d1@down.example.test>, relay=none, delay=0.05, delays=0.01/0.03/0/0.01, dsn=" + tc.dsn + ", status=" + tc.word + " (" + tc.text + ")\n"
		want2 := "1F2A3B984004: to=<d2@down.example.test>, orig_to=<alias@example.test>, relay=none, delay=0.05, delays=0.01/0.03/0/0.01, dsn=" + tc.dsn + ", status=" + tc.word + " (" + tc.text + ")\n"
		if !strings.Contains(got, "postern/error[") || !strings.Contains(got, want1) || !strings.Contains(got, want2) {
			t.Errorf("%s %q: log\n%s\nwant lines ending\n%s%s", tc.service, tc.nexthop, got, want1, want2)
		}
	}
}
