package cleanup

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"postern/pkg/config"
	"postern/pkg/log"
	"postern/pkg/queue"
	"postern/pkg/trigger"
	pb "postern/proto"
)

// Rewriter canonicalises addresses (trivial-rewrite's "rewrite" request):
// one result per address, in order.
type Rewriter func(ctx context.Context, rewriteContext string, addrs []string) ([]string, error)

// GRPCRewriter returns a Rewriter that calls the TrivialRewrite service.
func GRPCRewriter(c pb.TrivialRewriteClient) Rewriter {
	return func(ctx context.Context, rc string, addrs []string) ([]string, error) {
		r, err := c.Rewrite(ctx, &pb.RewriteRequest{Context: rc, Addresses: addrs})
		if err != nil {
			return nil, err
		}
		if len(r.Addresses) != len(addrs) {
			return nil, fmt.Errorf("trivial-rewrite answered %d addresses for %d", len(r.Addresses), len(addrs))
		}
		return r.Addresses, nil
	}
}

// Server is the Cleanup gRPC service. Set the fields, then register it.
type Server struct {
	pb.UnimplementedCleanupServer

	Queue   *queue.Queue
	Rewrite Rewriter
	// WakeQmgr is called after a message was committed to incoming/.
	WakeQmgr func()

	MyHostname       string
	MyOrigin         string
	MailName         string // "Postern"
	HeaderSizeLimit  int
	HopcountLimit    int
	MessageSizeLimit int64           // 0: no limit
	DropHeaders      map[string]bool // message_drop_headers, lower case
	AlwaysAddMissing bool            // always_add_missing_headers
	UndisclosedRcpt  string          // undisclosed_recipients_header
	Now              func() time.Time

	discardSeq atomic.Uint64
}

// NewServer returns a Server configured from c for the queue at dir,
// which talks to trivial-rewrite with rw.
func NewServer(c *config.Config, dir string, rw Rewriter) (*Server, error) {
	s := &Server{
		Queue:      queue.FromConfig(dir, c),
		Rewrite:    rw,
		MyHostname: c.Get("myhostname"),
		MyOrigin:   c.Get("myorigin"),
		MailName:   c.Get("mail_name"),
		WakeQmgr: func() {
			trigger.Send(dir, "public/qmgr", trigger.Incoming)
		},
		UndisclosedRcpt: c.Get("undisclosed_recipients_header"),
		DropHeaders:     map[string]bool{},
		Now:             time.Now,
	}
	n, err := c.Size("header_size_limit")
	if err != nil {
		return nil, err
	}
	s.HeaderSizeLimit = int(n)
	h, err := c.Int("hopcount_limit")
	if err != nil {
		return nil, err
	}
	s.HopcountLimit = int(h)
	if s.MessageSizeLimit, err = c.Size("message_size_limit"); err != nil {
		return nil, err
	}
	if s.AlwaysAddMissing, err = c.Bool("always_add_missing_headers"); err != nil {
		return nil, err
	}
	for _, name := range c.List("message_drop_headers") {
		s.DropHeaders[strings.ToLower(name)] = true
	}
	return s, nil
}

// Reply statuses (Postfix's cleanup_strerror table).
var (
	errProto   = &rejection{451, "4.3.0", "internal protocol error"}
	errWrite   = &rejection{451, "4.3.0", "queue file write error"}
	errRewrite = &rejection{451, "4.3.0", "address rewriting service unavailable"}
	errNoRcpt  = &rejection{550, "5.1.0", "no recipients specified"}
	errHops    = &rejection{554, "5.4.6", "too many hops"}
	errSize    = &rejection{552, "5.3.4", "Message size exceeds fixed limit"}
)

// rejection is a final non-zero reply.
type rejection struct {
	status uint32
	dsn    string
	text   string
}

func (r *rejection) Error() string { return fmt.Sprintf("%d %s %s", r.status, r.dsn, r.text) }

// Submit is one message: see proto/mail.proto.
func (s *Server) Submit(st pb.Cleanup_SubmitServer) error {
	first, err := st.Recv()
	if err != nil {
		return err
	}
	if first.Envelope == nil {
		return st.Send(final("", errProto))
	}
	m := newMessage(s, st.Context(), first.Envelope)
	if err := m.open(); err != nil {
		log.Warningf("create queue file: %v", err)
		return st.Send(final("", errWrite))
	}
	if err := st.Send(&pb.SubmitReply{QueueId: m.id}); err != nil {
		m.abort()
		return err
	}
	rej := m.run(first, st)
	if rej == errAborted {
		m.abort()
		return nil
	}
	if rej == errGone {
		m.abort()
		return st.Context().Err()
	}
	if rej != nil {
		m.abort()
		return st.Send(final(m.id, rej))
	}
	if err := m.commit(); err != nil {
		log.Warningf("%s: %v", m.id, err)
		return st.Send(final(m.id, errWrite))
	}
	if err := st.Send(&pb.SubmitReply{QueueId: m.id, Final: true, Nrcpt: uint32(m.nrcpt)}); err != nil {
		// The file is committed: qmgr delivers it whatever the client
		// heard (better twice than never).
		log.Warningf("%s: lost connection with client before the final reply: %v", m.id, err)
	}
	if m.state == queue.Incoming && s.WakeQmgr != nil {
		s.WakeQmgr()
	}
	return nil
}

func final(id string, r *rejection) *pb.SubmitReply {
	return &pb.SubmitReply{QueueId: id, Status: r.status, Dsn: r.dsn, Text: r.text, Final: true}
}

// Sentinels of message.run.
var (
	errAborted = &rejection{text: "aborted by client"}
	errGone    = &rejection{text: "client went away"}
)

// discardID names a discarded message, which has no file: the current time
// and a per-process sequence number in the queue ID's form.
func (s *Server) discardID() string {
	return queue.FormatID(s.Now().UnixMicro(), s.discardSeq.Add(1), s.Queue.LongIDs)
}
