// Package queuelist walks the mail queue for showq(8) and for postqueue
// when the mail system is down: one entry per queue file, in Postfix's
// order (maildrop, active, incoming, deferred, hold), each directory in
// scan order, with only the recipients still to be delivered and their
// delay reasons. It reads envelopes, never content, and holds one file
// at a time (DESIGN.md invariant 5).
package queuelist

import (
	"errors"
	"io/fs"
	"os"

	"postern/pkg/queue"
	pb "postern/proto"
)

// States is the order in which Postfix's showq lists the queues.
var States = []string{"maildrop", "active", "incoming", "deferred", "hold"}

// Walk calls fn for each readable queue file in q. Files that vanish while
// the walk runs (delivered meanwhile), are incomplete or cannot be parsed
// are skipped, as showq skips them. An error from fn ends the walk.
func Walk(q *queue.Queue, fn func(*pb.QueueEntry) error) error {
	for _, state := range States {
		err := q.Scan(state, func(id, path string) error {
			e, err := Entry(state, path)
			if err != nil {
				return nil
			}
			return fn(e)
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// Entry reads one queue file into a listing entry.
func Entry(state, path string) (*pb.QueueEntry, error) {
	qf, err := queue.Open(path)
	if err != nil {
		return nil, err
	}
	defer qf.Close()
	env, err := qf.Envelope()
	if err != nil {
		return nil, err
	}
	e := &pb.QueueEntry{
		QueueName:    state,
		QueueId:      qf.ID(),
		ArrivalTime:  qf.ArrivalTime().Unix(),
		MessageSize:  qf.MessageSize(),
		ForcedExpire: qf.ForcedExpire(),
		Sender:       env.Sender,
	}
	if state == "maildrop" {
		// Postfix shows the raw size of a file that pickup has not taken.
		if st, err := os.Stat(path); err == nil {
			e.MessageSize = st.Size()
		}
	}
	err = qf.Recipients(func(r queue.Recipient) error {
		if !r.Done {
			e.Recipients = append(e.Recipients, &pb.QueueRecipient{Address: r.Address, DelayReason: r.DelayReason})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}
