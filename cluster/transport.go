package cluster

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"lienthong/internal/certs"
)

// One TLS listener per node carries both raft's streams and the node
// RPCs (forwarded proposals, membership, status). After the handshake the
// dialer sends one byte saying which.
const (
	kindRaft byte = 'R'
	kindRPC  byte = 'F'
)

// handshakeTimeout bounds a connection that does not finish its TLS
// handshake and kind byte, so a stranger cannot hold a goroutine.
const handshakeTimeout = 10 * time.Second

// tlsConfigs are mutual TLS both ways: a node accepts only a client
// certificate from the cluster CA and trusts only a server certificate
// from it, so a node with another CA's certificate can neither join nor
// read the log. The certificates and the CA are h's in force at each
// handshake: the server's through GetConfigForClient, the client's by
// a config made per dial (clientConfig).
func tlsConfigs(h *certs.Holder) (server, client *tls.Config) {
	server = h.ServerConfig(&tls.Config{
		MinVersion: tls.VersionTLS13,
		ClientAuth: tls.RequireAndVerifyClientCert,
	})
	client = &tls.Config{MinVersion: tls.VersionTLS13}
	return server, client
}

// mux accepts TLS connections and hands raft streams to raft and RPC
// connections to serve.
type mux struct {
	ln     net.Listener
	server *tls.Config
	client *tls.Config // without certificates: see dial
	certs  *certs.Holder
	serve  func(net.Conn)
	id     string // this node's id, for hook
	// hook, set only by tests, sees every connection once both ends are
	// proven and may refuse or wrap it: the partition tests' fault
	// injection. No configuration reaches it.
	hook atomic.Pointer[linkHook]

	raftCh    chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

func listen(addr string, h *certs.Holder) (*mux, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cluster: listening on %s: %w", addr, err)
	}
	server, client := tlsConfigs(h)
	return &mux{ln: ln, server: server, client: client, certs: h, raftCh: make(chan net.Conn), closed: make(chan struct{})}, nil
}

// run accepts until close; serve must be set first.
func (m *mux) run() {
	for {
		c, err := m.ln.Accept()
		if err != nil {
			select {
			case <-m.closed:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.route(c)
		}()
	}
}

func (m *mux) route(c net.Conn) {
	tc := tls.Server(c, m.server)
	c.SetDeadline(time.Now().Add(handshakeTimeout))
	// A connection still proving itself is dropped when the node stops,
	// so Shutdown does not wait out its handshake timeout.
	proven := make(chan struct{})
	go func() {
		select {
		case <-m.closed:
			c.Close()
		case <-proven:
		}
	}()
	var kind [1]byte
	err := tc.Handshake()
	if err == nil {
		_, err = tc.Read(kind[:])
	}
	close(proven)
	if err != nil {
		c.Close()
		return
	}
	c.SetDeadline(time.Time{})
	conn, err := m.hooked(tc)
	if err != nil {
		tc.Close()
		return
	}
	switch kind[0] {
	case kindRaft:
		select {
		case m.raftCh <- conn:
		case <-m.closed:
			conn.Close()
		}
	case kindRPC:
		m.serve(conn)
	default:
		conn.Close()
	}
}

// dial opens a connection of kind to addr and proves both ends.
func (m *mux) dial(ctx context.Context, addr string, kind byte) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	// A config per dial, with the certificate and CA in force now.
	cfg := m.certs.ClientConfig(m.client)
	cfg.ServerName = host
	d := tls.Dialer{Config: cfg}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if c, err = m.hooked(c); err != nil {
		return nil, err
	}
	if _, err := c.Write([]byte{kind}); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (m *mux) close() {
	m.closeOnce.Do(func() {
		close(m.closed)
		m.ln.Close()
	})
}

// linkHook is given this node's id, the peer's (its certificate's common
// name) and the connection; an error drops it.
type linkHook func(self, peer string, c net.Conn) (net.Conn, error)

// hooked passes c through the test hook, if any.
func (m *mux) hooked(c net.Conn) (net.Conn, error) {
	h := m.hook.Load()
	if h == nil {
		return c, nil
	}
	peer := ""
	if certs := c.(*tls.Conn).ConnectionState().PeerCertificates; len(certs) > 0 {
		peer = certs[0].Subject.CommonName
	}
	return (*h)(m.id, peer, c)
}

// streamLayer is raft's view of the mux.
type streamLayer struct{ m *mux }

func (s streamLayer) Accept() (net.Conn, error) {
	select {
	case c := <-s.m.raftCh:
		return c, nil
	case <-s.m.closed:
		return nil, net.ErrClosed
	}
}

func (s streamLayer) Close() error { s.m.close(); return nil }

func (s streamLayer) Addr() net.Addr { return s.m.ln.Addr() }

func (s streamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return s.m.dial(ctx, string(addr), kindRaft)
}

// The node RPCs: one request and one response, JSON, per connection.
type request struct {
	Op    string `json:"op"` // "propose", "join", "remove", "whoami", "status", "records"
	Entry []byte `json:"entry,omitempty"`
	ID    string `json:"id,omitempty"` // remove: the node; records: the machine's prefix
	Addr  string `json:"addr,omitempty"`
	// records: the range wanted, inclusive.
	From uint64 `json:"from,omitempty"`
	To   uint64 `json:"to,omitempty"`
}

type response struct {
	// NotLeader: this node is not the leader and did nothing; ask again.
	NotLeader bool `json:"not_leader,omitempty"`
	// Unknown: the leader took the entry but cannot say whether it will
	// commit (it lost leadership, or its wait ran out).
	Unknown bool     `json:"unknown,omitempty"`
	Err     string   `json:"err,omitempty"`
	Code    string   `json:"code,omitempty"`
	Index   uint64   `json:"index,omitempty"`
	ID      string   `json:"id,omitempty"`
	Self    *counter `json:"self,omitempty"`
	Data    []byte   `json:"data,omitempty"` // records: what the machine holds of the range
	// Peer is the common name of the certificate the answering node
	// proved, set by call, never sent.
	Peer string `json:"-"`
}

// counter is one node's progress, for status and lag.
type counter struct {
	State   string `json:"state"`
	Term    uint64 `json:"term"`
	Commit  uint64 `json:"commit"`
	Applied uint64 `json:"applied"`
	LastLog uint64 `json:"last_log"`
}

// errNotSent marks a call that failed before its request left: asking
// again (or another node) cannot apply anything twice.
var errNotSent = errors.New("cluster: request not sent")

// call sends req to the node at addr and reads its response, within ctx.
func (m *mux) call(ctx context.Context, addr string, req request) (response, error) {
	c, err := m.dial(ctx, addr, kindRPC)
	if err != nil {
		return response{}, fmt.Errorf("%w: %v", errNotSent, err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return response{}, fmt.Errorf("%w: %v", errNotSent, err)
	}
	var resp response
	if err := json.NewDecoder(c).Decode(&resp); err != nil {
		return response{}, fmt.Errorf("cluster: reading the answer of %s: %w", addr, err)
	}
	if tc, ok := c.(interface{ ConnectionState() tls.ConnectionState }); ok {
		if certs := tc.ConnectionState().PeerCertificates; len(certs) > 0 {
			resp.Peer = certs[0].Subject.CommonName
		}
	}
	return resp, nil
}
