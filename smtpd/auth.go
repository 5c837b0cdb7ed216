package smtpd

import (
	"strings"

	"postern/pkg/sasl"
)

// authEnabled: AUTH is offered and accepted in this state of the
// session (smtpd_sasl_auth_enable, and smtpd_tls_auth_only before TLS).
func (s *session) authEnabled() bool {
	srv := s.srv
	if !srv.SASLEnable || srv.SASL == nil || srv.Local {
		return false
	}
	return !(srv.TLSAuthOnly && s.tls == nil)
}

// authMechs lists the mechanisms for EHLO: Dovecot's, filtered by
// smtpd_sasl_security_options (smtpd_sasl_tls_security_options in a
// TLS session).
func (s *session) authMechs() []string {
	if !s.authEnabled() {
		return nil
	}
	mechs, err := s.srv.SASL.Mechanisms(s.ctx)
	if err != nil {
		s.srv.Log.Warningf("SASL: Connect to %s failed: %v", s.srv.SASL.Path, err)
		return nil
	}
	opts := s.srv.SASLSecOpts
	if s.tls != nil {
		opts = s.srv.SASLTLSSecOpts
	}
	return sasl.Filter(mechs, opts)
}

func (s *session) cmdAuth(arg string) error {
	if !s.authEnabled() {
		s.send(reply{503, "5.5.1", "Error: authentication not enabled"})
		return nil
	}
	if s.helo == "" {
		s.send(reply{503, "5.5.1", "Error: send HELO/EHLO first"})
		return nil
	}
	if s.saslUser != "" {
		s.send(reply{503, "5.5.1", "Error: already authenticated"})
		return nil
	}
	if s.tx != nil {
		s.send(reply{503, "5.5.1", "Error: MAIL transaction in progress"})
		return nil
	}
	f := strings.Fields(arg)
	if len(f) < 1 || len(f) > 2 {
		s.syntax("AUTH mechanism")
		return nil
	}
	mech := strings.ToUpper(f[0])
	allowed := false
	for _, m := range s.authMechs() {
		allowed = allowed || m == mech
	}
	if !allowed {
		s.srv.Log.Warningf("%s: SASL %s authentication failed: Invalid authentication mechanism", s.namaddr, printable(mech))
		s.send(reply{535, "5.7.8", "Error: authentication failed: Invalid authentication mechanism"})
		return nil
	}
	req := sasl.Request{Mech: mech, Service: "smtp", LocalIP: s.localAddr, RemoteIP: s.addrString(), Secured: s.tls != nil}
	if len(f) == 2 {
		req.HasInitial = true
		req.InitialResponse = f[1]
		if req.InitialResponse == "=" {
			req.InitialResponse = "" // RFC 4954: an empty initial response
		}
	}
	cv, res := s.srv.SASL.Start(s.ctx, req)
	defer cv.Close()
	for res.Status == sasl.Continue {
		s.sendCounted(reply{334, "", res.Challenge}, false)
		line, _, err := s.readLine()
		if err != nil {
			return err
		}
		if line == "*" {
			s.srv.Log.Warningf("%s: SASL %s authentication aborted", s.namaddr, mech)
			s.send(reply{501, "5.7.0", "Authentication aborted"})
			return nil
		}
		res = cv.Next(line)
	}
	switch res.Status {
	case sasl.OK:
		s.saslMethod, s.saslUser = mech, res.User
		s.sendCounted(reply{235, "2.7.0", "Authentication successful"}, false)
		return nil
	case sasl.Temp:
		s.srv.Log.Warningf("%s: SASL %s authentication failed: %s", s.namaddr, mech, reasonOr(res.Reason))
		s.send(reply{454, "4.7.0", "Temporary authentication failure: " + reasonOr(res.Reason)})
		return nil
	}
	user := ""
	if res.User != "" {
		user = ", sasl_username=" + res.User
	}
	s.srv.Log.Warningf("%s: SASL %s authentication failed: %s%s", s.namaddr, mech, reasonOr(res.Reason), user)
	s.send(reply{535, "5.7.8", "Error: authentication failed: " + reasonOr(res.Reason)})
	return nil
}

func reasonOr(r string) string {
	if r == "" {
		return "(reason unavailable)"
	}
	return r
}
