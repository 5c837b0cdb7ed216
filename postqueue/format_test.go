package postqueue

import (
	"bytes"
	"testing"
	"time"

	pb "postern/proto"
)

func at(s string) int64 {
	t, err := time.ParseInLocation("Mon Jan _2 15:04:05 2006", s, time.Local)
	if err != nil {
		panic(err)
	}
	return t.Unix()
}

func rcpt(addr, reason string) *pb.QueueRecipient {
	return &pb.QueueRecipient{Address: addr, DelayReason: reason}
}

// The snapshot in reference/admin-commands.md, rebuilt entry by entry.
func TestTextLayoutMatchesPostfix(t *testing.T) {
	time.Local = time.UTC
	refused := "connect to 127.0.0.1[127.0.0.1]:2849: Connection refused"
	grey := "host 127.0.0.1[127.0.0.1] said: 450 4.2.0 <deferA@remote.example.test>: Recipient address rejected: Greylisted, try again later (in reply to RCPT TO command)"
	entries := []*pb.QueueEntry{
		{QueueName: "active", QueueId: "CD626984012", MessageSize: 276, ArrivalTime: at("Sat Nov 21 23:26:18 2026"), Sender: "slowsender@example.test",
			Recipients: []*pb.QueueRecipient{rcpt("slow2@remote.example.test", ""), rcpt("slow3@remote.example.test", "")}},
		{QueueName: "deferred", QueueId: "47F51984233", MessageSize: 275, ArrivalTime: at("Sat Nov 21 23:21:10 2026"), Sender: "slowsender@example.test",
			Recipients: []*pb.QueueRecipient{rcpt("slow1@remote.example.test", "conversation with 127.0.0.1[127.0.0.1] timed out while sending RCPT TO")}},
		{QueueName: "deferred", QueueId: "D112198401E", MessageSize: 277, ArrivalTime: at("Sat Nov 21 23:26:18 2026"), Sender: "alice@example.test",
			Recipients: []*pb.QueueRecipient{rcpt("u1@down.example.test", "delivery temporarily suspended: "+refused), rcpt("u2@down.example.test", "delivery temporarily suspended: "+refused)}},
		{QueueName: "hold", QueueId: "B915A984050", MessageSize: 429, ArrivalTime: at("Sat Nov 21 23:25:09 2026"), Sender: "a@client.example.test",
			Recipients: []*pb.QueueRecipient{rcpt("nobody@example.test", "")}},
		{QueueName: "deferred", QueueId: "8ACB4984292", MessageSize: 274, ArrivalTime: at("Sat Nov 21 23:30:38 2026"), Sender: "mixed@example.test",
			Recipients: []*pb.QueueRecipient{rcpt("deferA@remote.example.test", grey), rcpt("zz@down.example.test", refused), rcpt("after@down.example.test", "")}},
		{QueueName: "deferred", QueueId: "9D079984262", MessageSize: 271, ArrivalTime: at("Sat Nov 21 23:22:53 2026"), ForcedExpire: true, Sender: "",
			Recipients: []*pb.QueueRecipient{rcpt(`odd "q" name@down.example.test`, ""), rcpt("jöe@down.example.test", "")}},
	}
	want := `-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------
CD626984012*     276 Sat Nov 21 23:26:18  slowsender@example.test
                                         slow2@remote.example.test
                                         slow3@remote.example.test

47F51984233     275 Sat Nov 21 23:21:10  slowsender@example.test
      (conversation with 127.0.0.1[127.0.0.1] timed out while sending RCPT TO)
                                         slow1@remote.example.test

D112198401E     277 Sat Nov 21 23:26:18  alice@example.test
(delivery temporarily suspended: connect to 127.0.0.1[127.0.0.1]:2849: Connection refused)
                                         u1@down.example.test
                                         u2@down.example.test

B915A984050!     429 Sat Nov 21 23:25:09  a@client.example.test
                                         nobody@example.test

8ACB4984292     274 Sat Nov 21 23:30:38  mixed@example.test
(host 127.0.0.1[127.0.0.1] said: 450 4.2.0 <deferA@remote.example.test>: Recipient address rejected: Greylisted, try again later (in reply to RCPT TO command))
                                         deferA@remote.example.test
                    (connect to 127.0.0.1[127.0.0.1]:2849: Connection refused)
                                         zz@down.example.test
                                                          (reason unavailable)
                                         after@down.example.test

9D079984262#     271 Sat Nov 21 23:22:53  MAILER-DAEMON
                                         "odd \"q\" name"@down.example.test
                                         jöe@down.example.test

-- 1 Kbytes in 6 Requests.
`
	var b bytes.Buffer
	f := &textFormatter{w: &b}
	for _, e := range entries {
		if err := f.entry(e); err != nil {
			t.Fatal(err)
		}
	}
	f.end()
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}

	b.Reset()
	f = &textFormatter{w: &b}
	f.entry(&pb.QueueEntry{QueueName: "deferred", QueueId: "9730B9841D7", MessageSize: 265, ArrivalTime: at("Sat Nov 21 23:29:26 2026"), Sender: "s@example.test",
		Recipients: []*pb.QueueRecipient{rcpt("one@down.example.test", refused)}})
	f.end()
	want = `-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------
9730B9841D7     265 Sat Nov 21 23:29:26  s@example.test
                    (connect to 127.0.0.1[127.0.0.1]:2849: Connection refused)
                                         one@down.example.test

-- 0 Kbytes in 1 Request.
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}

	b.Reset()
	f = &textFormatter{w: &b, long: true}
	f.entry(&pb.QueueEntry{QueueName: "deferred", QueueId: "4jX7hC5pCDz1SC8x", MessageSize: 265, ArrivalTime: at("Sat Nov 21 23:29:15 2026"), Sender: "longid@example.test",
		Recipients: []*pb.QueueRecipient{rcpt("l1@down.example.test", refused)}})
	want = `----Queue ID----- --Size-- ---Arrival Time---- --Sender/Recipient------
4jX7hC5pCDz1SC8x       265 Sat Nov 21 23:29:15 longid@example.test
                    (connect to 127.0.0.1[127.0.0.1]:2849: Connection refused)
                                               l1@down.example.test
`
	if b.String() != want {
		t.Errorf("long IDs: got:\n%s\nwant:\n%s", b.String(), want)
	}

	b.Reset()
	f = &textFormatter{w: &b}
	f.end()
	if b.String() != "Mail queue is empty\n" {
		t.Errorf("empty queue: %q", b.String())
	}
}

func TestJSONMatchesPostfix(t *testing.T) {
	var b bytes.Buffer
	f := &jsonFormatter{w: &b}
	f.entry(&pb.QueueEntry{QueueName: "deferred", QueueId: "E71219841EF", ArrivalTime: 1795303255, MessageSize: 283, Sender: "sender@example.test",
		Recipients: []*pb.QueueRecipient{rcpt("other@down.example.test", "connect to 127.0.0.1[127.0.0.1]:2849: Connection refused"), rcpt(`odd "q" name@down.example.test`, "")}})
	f.entry(&pb.QueueEntry{QueueName: "active", QueueId: "47F51984233", ArrivalTime: 1795303270, MessageSize: 275, ForcedExpire: true, Sender: "",
		Recipients: []*pb.QueueRecipient{rcpt("jöe@x.test", "tab\there")}})
	want := `{"queue_name": "deferred", "queue_id": "E71219841EF", "arrival_time": 1795303255, "message_size": 283, "forced_expire": false, "sender": "sender@example.test", "recipients": [{"address": "other@down.example.test", "delay_reason": "connect to 127.0.0.1[127.0.0.1]:2849: Connection refused"}, {"address": "\"odd \\\"q\\\" name\"@down.example.test"}]}
{"queue_name": "active", "queue_id": "47F51984233", "arrival_time": 1795303270, "message_size": 275, "forced_expire": true, "sender": "MAILER-DAEMON", "recipients": [{"address": "jöe@x.test", "delay_reason": "tab\there"}]}
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}
