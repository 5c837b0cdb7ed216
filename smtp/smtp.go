package smtp

import (
	"google.golang.org/grpc"

	"postern/pkg/delivery"
	"postern/pkg/dnsresolve"
	"postern/pkg/service"
	pb "postern/proto"
)

// Main is the smtp(8) delivery agent (master.cf services smtp, relay),
// and lmtp(8) when invoked under the program name "lmtp".
func Main(args []string) int {
	var agent *Agent
	return service.Main(args, &service.Daemon{
		PreJail: func(s *service.Service) error {
			// Before the chroot: resolv.conf, TLS keys and certificates,
			// inet_interfaces names.
			st, err := LoadSettings(s.Config, s.Program == "lmtp")
			if err != nil {
				return err
			}
			r, err := dnsresolve.Load(s.Config.Get("resolver_conf_file"))
			if err != nil {
				return err
			}
			agent = New(st, r)
			return nil
		},
		PostJail: func(s *service.Service) error {
			delivery.Configure(s.Config)
			return nil
		},
		RegisterGRPC: func(s *service.Service, g *grpc.Server) {
			pb.RegisterDeliveryServer(g, agent)
		},
	})
}
