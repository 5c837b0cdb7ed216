package qmgr

import (
	"context"
	"net"

	"postern/pkg/delivery"
	"postern/pkg/queue"
	"postern/pkg/rewrite"
	"postern/pkg/rpc"
	"postern/pkg/service"
	"postern/pkg/trigger"
)

// Main is the qmgr daemon: a unix service on public/qmgr that takes
// wakeup triggers, and the scheduler loop beside it.
func Main(args []string) int {
	var m *Manager
	return service.Main(args, &service.Daemon{
		PostJail: func(s *service.Service) error {
			st, err := LoadSettings(s.Config)
			if err != nil {
				return err
			}
			q := queue.FromConfig(".", s.Config)
			delivery.Configure(s.Config)
			m = NewManager(".", q, st)
			// One Resolve call per batch of addresses not seen lately:
			// most mail goes to few destinations.
			conn, err := rpc.Private(".", "rewrite")
			if err != nil {
				return err
			}
			rc := rewrite.NewClient(conn)
			rc.SenderIndependent = rewrite.SenderIndependent(s.Config.Get)
			m.Resolver = rc
			return nil
		},
		HandleConn: func(ctx context.Context, s *service.Service, conn net.Conn) {
			m.Trigger(trigger.Read(conn))
		},
		// master's wakeup timer (master.cf wakeup column): a lost
		// trigger costs at most one period.
		Wakeup: func(s *service.Service) {
			m.Trigger([]byte{trigger.Wakeup})
		},
		Run: func(ctx context.Context, s *service.Service) error {
			return m.Run(ctx)
		},
		LongLived: true,
	})
}
