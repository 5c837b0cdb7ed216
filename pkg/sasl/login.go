package sasl

import (
	"errors"

	gosasl "github.com/emersion/go-sasl"
)

// LoginAuthenticator checks a username and password for the LOGIN
// mechanism.
type LoginAuthenticator func(username, password string) error

// Login is the mechanism name.
const Login = "LOGIN"

// The challenges of the LOGIN mechanism (draft-murchison-sasl-login):
// "Username:" and "Password:", sent base64-encoded by the SMTP layer.
const (
	LoginUsernameChallenge = "Username:"
	LoginPasswordChallenge = "Password:"
)

type loginServer struct {
	auth     LoginAuthenticator
	step     int
	username string
}

// NewLoginServer returns a server for the LOGIN mechanism. An initial
// response (AUTH LOGIN dXNlcg==) is the username.
func NewLoginServer(auth LoginAuthenticator) gosasl.Server {
	return &loginServer{auth: auth}
}

// ErrUnexpectedResponse is returned when the exchange is out of order.
var ErrUnexpectedResponse = errors.New("sasl: unexpected client response")

func (s *loginServer) Next(response []byte) (challenge []byte, done bool, err error) {
	switch s.step {
	case 0:
		s.step = 1
		if response == nil {
			return []byte(LoginUsernameChallenge), false, nil
		}
		fallthrough
	case 1:
		s.username = string(response)
		s.step = 2
		return []byte(LoginPasswordChallenge), false, nil
	case 2:
		s.step = 3
		return nil, true, s.auth(s.username, string(response))
	}
	return nil, true, ErrUnexpectedResponse
}
