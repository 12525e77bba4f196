package cluster

import (
	"crypto/tls"
	"errors"
	"net"
	"sync"
)

// faults is the tests' network: it cuts the links between named nodes.
// Every connection between two nodes passes through it (mux.hook) once
// both ends are proven; a connection on a cut link is refused, and
// cutting a link closes the connections it carries, raft's streams and
// the node RPCs alike, in both directions.
type faults struct {
	mu    sync.Mutex
	cut   map[[2]string]bool
	conns map[*faultConn]bool
}

func newFaults() *faults {
	return &faults{cut: map[[2]string]bool{}, conns: map[*faultConn]bool{}}
}

func link(a, b string) [2]string {
	if a > b {
		a, b = b, a
	}
	return [2]string{a, b}
}

var errCut = errors.New("link cut by the test")

// attach makes n's connections pass through f.
func (f *faults) attach(n *tnode) {
	h := linkHook(f.wrap)
	n.mux.hook.Store(&h)
}

func (f *faults) wrap(self, peer string, c net.Conn) (net.Conn, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := link(self, peer)
	if f.cut[l] {
		c.Close()
		return nil, errCut
	}
	fc := &faultConn{Conn: c, f: f, link: l}
	f.conns[fc] = true
	return fc, nil
}

// set cuts (or heals) the links between a and each of others.
func (f *faults) set(cut bool, a string, others ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, b := range others {
		l := link(a, b)
		if !cut {
			delete(f.cut, l)
			continue
		}
		f.cut[l] = true
		for c := range f.conns {
			if c.link == l {
				c.Conn.Close()
				delete(f.conns, c)
			}
		}
	}
}

// isolate cuts every link of id; heal mends them all.
func (f *faults) isolate(id string, others ...string) { f.set(true, id, others...) }

func (f *faults) heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cut = map[[2]string]bool{}
}

type faultConn struct {
	net.Conn
	f    *faults
	link [2]string
}

func (c *faultConn) Close() error {
	c.f.mu.Lock()
	delete(c.f.conns, c)
	c.f.mu.Unlock()
	return c.Conn.Close()
}

func (c *faultConn) ConnectionState() tls.ConnectionState {
	return c.Conn.(*tls.Conn).ConnectionState()
}
