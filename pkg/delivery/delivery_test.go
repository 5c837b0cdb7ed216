package delivery

import (
	"testing"
	"time"

	pb "postern/proto"
)

func TestFormatDelayHasTwoSignificantDigitsAsPostfix(t *testing.T) {
	for _, tc := range []struct {
		sec  float64
		res  int
		want string
	}{
		{0, 2, "0"},
		{-1, 2, "0"},
		{0.004, 2, "0"}, // below the resolution
		{0.005, 2, "0.01"},
		{0.03, 2, "0.03"},
		{0.034, 2, "0.03"},
		{0.1, 2, "0.1"},
		{0.123, 2, "0.12"},
		{0.126, 2, "0.13"},
		{0.999, 2, "1"},
		{1.2, 2, "1.2"},
		{1.24, 2, "1.2"},
		{2, 2, "2"},
		{2.04, 2, "2"},
		{7.5, 2, "7.5"},
		{9.96, 2, "10"},
		{22, 2, "22"},
		{22.4, 2, "22"},
		{69, 2, "69"},
		{111, 2, "111"},
		{300, 2, "300"},
		{671.3, 2, "671"},
		{0.0123, 3, "0.012"},
		{0.0123, 0, "0"},
		{0.6, 0, "1"},
		{1.26, 0, "1"},
	} {
		d := time.Duration(tc.sec * float64(time.Second))
		if got := FormatDelay(d, tc.res); got != tc.want {
			t.Errorf("FormatDelay(%v, %d) = %q, want %q", tc.sec, tc.res, got, tc.want)
		}
	}
}

func TestLineHasPostfixFieldOrder(t *testing.T) {
	arrival := time.Unix(1_800_000_000, 0)
	req := &pb.DeliverRequest{
		ArrivalTimeUs: arrival.UnixMicro(),
		ActiveTimeUs:  arrival.Add(20 * time.Millisecond).UnixMicro(),
		RequestTimeUs: arrival.Add(30 * time.Millisecond).UnixMicro(),
	}
	now := arrival.Add(60 * time.Millisecond)
	for _, tc := range []struct {
		name string
		rcpt *pb.DeliverRecipient
		res  *pb.RecipientResult
		tm   Timing
		want string
	}{
		{"sent local",
			&pb.DeliverRecipient{Address: "nobody@example.test"},
			&pb.RecipientResult{Status: pb.DeliveryStatus_DELIVERY_SENT, Dsn: "2.0.0", Text: "delivered to mailbox", Relay: "local"},
			Timing{},
			"to=<nobody@example.test>, relay=local, delay=0.06, delays=0.02/0.01/0/0.03, dsn=2.0.0, status=sent (delivered to mailbox)"},
		{"orig_to when rewritten",
			&pb.DeliverRecipient{Address: "nobody@example.test", Original: "postmaster@example.test"},
			&pb.RecipientResult{Status: pb.DeliveryStatus_DELIVERY_SENT, Dsn: "2.0.0", Text: "delivered to mailbox", Relay: "local"},
			Timing{},
			"to=<nobody@example.test>, orig_to=<postmaster@example.test>, relay=local, delay=0.06, delays=0.02/0.01/0/0.03, dsn=2.0.0, status=sent (delivered to mailbox)"},
		{"no orig_to when only case differs",
			&pb.DeliverRecipient{Address: "nobody@example.test", Original: "Nobody@Example.TEST"},
			&pb.RecipientResult{Status: pb.DeliveryStatus_DELIVERY_BOUNCE, Dsn: "5.0.0", Text: "x"},
			Timing{},
			"to=<nobody@example.test>, relay=none, delay=0.06, delays=0.02/0.01/0/0.03, dsn=5.0.0, status=bounced (x)"},
		{"deferred with connection timing and reuse",
			&pb.DeliverRecipient{Address: "a@remote.test"},
			&pb.RecipientResult{Status: pb.DeliveryStatus_DELIVERY_DEFER, Dsn: "4.2.0", Text: "host said: 450", Relay: "127.0.0.1[127.0.0.1]:2830"},
			Timing{ConnDone: arrival.Add(40 * time.Millisecond), ConnUse: 2},
			"to=<a@remote.test>, relay=127.0.0.1[127.0.0.1]:2830, conn_use=2, delay=0.06, delays=0.02/0.01/0.01/0.02, dsn=4.2.0, status=deferred (host said: 450)"},
		{"quoted local part",
			&pb.DeliverRecipient{Address: "a b@example.test"},
			&pb.RecipientResult{Status: pb.DeliveryStatus_DELIVERY_SENT, Dsn: "2.0.0", Text: "t"},
			Timing{},
			`to=<"a b"@example.test>, relay=none, delay=0.06, delays=0.02/0.01/0/0.03, dsn=2.0.0, status=sent (t)`},
	} {
		if got := Line(req, tc.rcpt, tc.res, tc.tm, now); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

func TestDelaysNeverNegative(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	req := &pb.DeliverRequest{ArrivalTimeUs: now.Add(time.Hour).UnixMicro()}
	total, a, b, c, d := Delays(req, Timing{}, now)
	for _, x := range []time.Duration{total, a, b, c, d} {
		if x < 0 {
			t.Fatalf("negative delay %v", x)
		}
	}
	// No time stamps at all: everything 0.
	if got := Line(&pb.DeliverRequest{}, &pb.DeliverRecipient{Address: "x@y"}, &pb.RecipientResult{Dsn: "2.0.0", Text: "t"}, Timing{}, now); got != "to=<x@y>, relay=none, delay=0, delays=0/0/0/0, dsn=2.0.0, status=sent (t)" {
		t.Errorf("got %s", got)
	}
}

func TestQuoteAddress(t *testing.T) {
	for in, want := range map[string]string{
		"":                  "",
		"user@example.org":  "user@example.org",
		"user":              "user",
		"a.b+c@x":           "a.b+c@x",
		"a b@x":             `"a b"@x`,
		`"a b"@x`:           `"a b"@x`,
		".a@x":              `".a"@x`,
		`a"b@x`:             `"a\"b"@x`,
		"a@b@x":             `"a@b"@x`,
		"MAILER-DAEMON@x.y": "MAILER-DAEMON@x.y",
	} {
		if got := QuoteAddress(in); got != want {
			t.Errorf("QuoteAddress(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSplitDSN(t *testing.T) {
	for _, tc := range []struct{ def, in, dsn, rest string }{
		{"5.0.0", "no such domain", "5.0.0", "no such domain"},
		{"5.0.0", "5.1.1 user unknown", "5.1.1", "user unknown"},
		{"5.0.0", "  4.4.1   delivery temporarily suspended: x", "4.4.1", "delivery temporarily suspended: x"},
		{"5.0.0", "5.1.1", "5.1.1", ""},
		{"5.0.0", "5.1.1x text", "5.0.0", "5.1.1x text"},
		{"5.0.0", "3.1.1 text", "5.0.0", "3.1.1 text"},
		{"5.0.0", "5.1234.1 text", "5.0.0", "5.1234.1 text"},
		{"5.0.0", "5..1 text", "5.0.0", "5..1 text"},
		{"2.0.0", "", "2.0.0", ""},
	} {
		dsn, rest := SplitDSN(tc.def, tc.in)
		if dsn != tc.dsn || rest != tc.rest {
			t.Errorf("SplitDSN(%q, %q) = %q, %q; want %q, %q", tc.def, tc.in, dsn, rest, tc.dsn, tc.rest)
		}
	}
}

func FuzzSplitDSN(f *testing.F) {
	f.Add("5.1.1 user unknown")
	f.Add("4.4.1")
	f.Fuzz(func(t *testing.T, s string) {
		dsn, rest := SplitDSN("5.0.0", s)
		if len(dsn) > 9 || len(rest) > len(s) {
			t.Fatalf("SplitDSN(%q) = %q, %q", s, dsn, rest)
		}
	})
}
