package smtpd

import (
	"context"

	"postern/pkg/policy"
)

// Policy is the access policy smtpd asks at every stage:
// *policy.Checker (postern/pkg/policy), or a fake in tests.
type Policy interface {
	Check(ctx context.Context, stage policy.Stage, s *policy.Session) policy.Decision
}

// initPolicy builds the restriction engine from the configuration (call
// it before the jail: it reads resolver_conf_file and opens tables).
func (s *Server) initPolicy(opts ...policy.Option) error {
	if s.Policy != nil {
		return nil
	}
	chk, err := policy.New(s.Cfg, opts...)
	if err != nil {
		return err
	}
	s.Policy = chk
	return nil
}
