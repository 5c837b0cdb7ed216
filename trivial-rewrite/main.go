package trivialrewrite

import (
	"context"
	"time"

	"google.golang.org/grpc"

	"postern/pkg/log"
	"postern/pkg/rewrite"
	"postern/pkg/service"
	pb "postern/proto"
)

// Main is the trivial-rewrite daemon (service "rewrite" in master.cf).
func Main(args []string) int {
	d := &daemon{}
	return service.Main(args, &service.Daemon{
		PreJail:      d.preJail,
		PostJail:     d.postJail,
		RegisterGRPC: d.register,
		Run:          d.run,
	})
}

// tableCheckInterval is how often the daemon looks whether a table file
// was rebuilt.
var tableCheckInterval = time.Second

type daemon struct {
	r     *rewrite.Rewriter
	watch func(ctx context.Context, s *service.Service) error
}

// preJail opens the tables while the files are reachable with the
// privileges master started us with.
func (d *daemon) preJail(s *service.Service) error {
	r, err := rewrite.New(s.Config)
	if err != nil {
		return err
	}
	d.r = r
	d.watch = d.watchTables
	return nil
}

// postJail: in a chroot jail the table files may be out of reach, so that
// every one would look changed; then they are not watched.
func (d *daemon) postJail(s *service.Service) error {
	if n := d.r.Changed(); n != "" && s.Chroot {
		log.Warningf("table %s is out of reach in the chroot jail: not watching tables for changes", n)
		d.watch = nil
	}
	return nil
}

func (d *daemon) register(s *service.Service, g *grpc.Server) {
	pb.RegisterTrivialRewriteServer(g, &rewrite.Server{R: d.r})
}

// Run hands the call on to the current watcher (none in a jail that hides
// the tables): service.Daemon.Run is fixed before PostJail decides.
func (d *daemon) run(ctx context.Context, s *service.Service) error {
	if d.watch == nil {
		<-ctx.Done()
		return nil
	}
	return d.watch(ctx, s)
}

// watchTables returns, which makes the daemon finish its current requests
// and exit, when a table file changed: master starts a fresh process that
// opens the new tables (Postfix's "table ... has changed -- restarting").
func (d *daemon) watchTables(ctx context.Context, s *service.Service) error {
	t := time.NewTicker(tableCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if n := d.r.Changed(); n != "" {
				log.Infof("table %s has changed -- restarting", n)
				return nil
			}
		}
	}
}
