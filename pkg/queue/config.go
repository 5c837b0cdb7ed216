package queue

import "postern/pkg/config"

// FromConfig returns a Queue for dir named and written as main.cf says:
// hash_queue_depth, hash_queue_names and enable_long_queue_ids. Every
// daemon and command that touches the queue should use it, so that they
// agree on where a file lives.
func FromConfig(dir string, c *config.Config) *Queue {
	q := New(dir)
	if n, err := c.Int("hash_queue_depth"); err == nil {
		q.HashDepth = int(n)
	}
	q.HashQueues = c.List("hash_queue_names")
	q.LongIDs, _ = c.Bool("enable_long_queue_ids")
	return q
}
