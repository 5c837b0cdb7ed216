package mailbox

import (
	"os"
	"time"
)

// MboxOptions tune DeliverMbox.
type MboxOptions struct {
	SizeLimit int64 // mailbox_size_limit; 0 = none

	// mailbox_delivery_lock: which locks to take (Postfix's Linux
	// default is fcntl and dotlock).
	DotLock, FcntlLock, FlockLock bool

	CreateMode  os.FileMode   // mode of a new file; 0 means 0600
	LockTimeout time.Duration // how long to retry a busy lock; 0 means 20s (deliver_lock_attempts × deliver_lock_delay)
}

// DeliverMbox appends m to the mbox file at path as c.
func DeliverMbox(path string, c Creds, m Message, o MboxOptions) error {
	return newError("4.3.0", "mbox delivery is not implemented yet")
}
