package mysqlwire

import (
	"context"
	"crypto/rand"
	"net"
	"strings"
	"time"

	"vitess.io/vitess/go/mysql"
	"vitess.io/vitess/go/mysql/sqlerror"
	querypb "vitess.io/vitess/go/vt/proto/query"

	"lienthong/errcode"
	"lienthong/server"
)

// Authentication: the user is the principal's name and the password its
// bearer token. Tokens are stored as argon2id hashes, so the server needs
// the token itself: the client sends it with mysql_clear_password, which
// is only offered over TLS, or on loopback when
// mysql_allow_cleartext_loopback says so. Everyone else is switched to
// mysql_native_password, whose scramble carries no password, and refused:
// the token never crosses the network in the clear.

// authTimeout bounds one token check (argon2 waits for a slot).
const authTimeout = 30 * time.Second

type authServer struct{ s *Server }

func (a *authServer) AuthMethods() []mysql.AuthMethod {
	return []mysql.AuthMethod{&clearMethod{a.s}, &refuseMethod{a.s}}
}

// DefaultAuthMethodDescription is what the handshake offers first; the
// switch to mysql_clear_password (or the refusal) follows.
func (a *authServer) DefaultAuthMethodDescription() mysql.AuthMethodDescription {
	return mysql.MysqlNativePassword
}

// cleartextAllowed reports whether c may send its token in the clear.
func (s *Server) cleartextAllowed(c *mysql.Conn) bool {
	return c.TLSEnabled() || (s.cfg.MySQLAllowCleartextLoopback && isLoopback(c.RemoteAddr()))
}

// clearMethod takes the token as a cleartext password where allowed.
type clearMethod struct{ s *Server }

func (m *clearMethod) Name() mysql.AuthMethodDescription { return mysql.MysqlClearPassword }

func (m *clearMethod) HandleUser(c *mysql.Conn, user string) bool { return m.s.cleartextAllowed(c) }

// AllowClearTextWithoutTLS: HandleUser already decided for this
// connection.
func (m *clearMethod) AllowClearTextWithoutTLS() bool { return true }

func (m *clearMethod) AuthPluginData() ([]byte, error) { return nil, nil }

func (m *clearMethod) HandleAuthPluginData(c *mysql.Conn, user string, _, clientData []byte, remote net.Addr) (mysql.Getter, error) {
	if !m.s.cleartextAllowed(c) { // a client that chose cleartext itself
		m.s.srv.AuthRefused(protocol, remote.String(), server.CodeAuth, "cleartext password without TLS")
		return nil, refusal()
	}
	password := string(clientData)
	if n := len(password); n > 0 && password[n-1] == 0 {
		password = password[:n-1]
	}
	ctx, cancel := context.WithTimeout(context.Background(), authTimeout)
	defer cancel()
	name, purpose, caseID := splitUser(user)
	p, e := m.s.srv.Authenticate(ctx, protocol, remote.String(), server.Credentials{BasicUser: name, BasicPassword: password})
	if e != nil {
		if e.Code == server.CodeAuth {
			e.Message = "access denied: the user is a principal's name and the password its token"
		}
		return nil, wireError(e)
	}
	return &principalData{p: p, purpose: purpose, caseID: caseID}, nil
}

// refuseMethod is mysql_native_password for connections that may not send
// a cleartext password: it answers every attempt with LT-AUTH.
type refuseMethod struct{ s *Server }

func (m *refuseMethod) Name() mysql.AuthMethodDescription { return mysql.MysqlNativePassword }

func (m *refuseMethod) HandleUser(c *mysql.Conn, user string) bool { return !m.s.cleartextAllowed(c) }

func (m *refuseMethod) AllowClearTextWithoutTLS() bool { return true }

func (m *refuseMethod) AuthPluginData() ([]byte, error) {
	salt := make([]byte, 20)
	_, _ = rand.Read(salt)
	for i := range salt { // printable, no NUL, as the protocol wants
		salt[i] = salt[i]&0x3f + 0x30
	}
	return append(salt, 0), nil
}

func (m *refuseMethod) HandleAuthPluginData(c *mysql.Conn, user string, _, _ []byte, remote net.Addr) (mysql.Getter, error) {
	m.s.srv.AuthRefused(protocol, remote.String(), server.CodeAuth, "cleartext password without TLS")
	return nil, refusal()
}

func refusal() error {
	reg := errcode.Lookup(server.CodeAuth)
	return sqlerror.NewSQLError(sqlerror.ErrorCode(reg.MySQL), reg.SQLState,
		server.CodeAuth+": the password (the principal's token) is only taken as a cleartext password over TLS: connect with TLS (mysql --ssl-mode=REQUIRED --enable-cleartext-plugin; go-sql-driver tls=true&allowCleartextPasswords=true)")
}

// principalData is the authenticated principal, kept on the connection.
// principalData is the handshake's principal and the purpose and case its
// user name carried.
type principalData struct {
	p               server.Principal
	purpose, caseID string
}

// splitUser reads a MySQL user "principal[/purpose[/case]]": tools that
// send no session statements or connection attributes of their own
// (Grafana) declare the session's purpose and case in the user name.
func splitUser(user string) (name, purpose, caseID string) {
	name, rest, _ := strings.Cut(user, "/")
	purpose, caseID, _ = strings.Cut(rest, "/")
	return name, purpose, caseID
}

func (d *principalData) Get() *querypb.VTGateCallerID {
	return &querypb.VTGateCallerID{Username: d.p.Name}
}
