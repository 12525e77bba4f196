package engine_test

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// cutProxy is a loopback TCP proxy in front of a real database server for
// the failures a black hole does not show: connections cut in both
// directions (after n bytes of the server's answer, or on demand), and a
// server that refuses connections (the listener closed) and comes back on
// the same port.
type cutProxy struct {
	target, addr string

	mu    sync.Mutex
	ln    net.Listener // nil while refusing
	conns map[net.Conn]*link
	// drop: new connections are accepted and closed at once (the server
	// went away behind the proxy), until forward.
	drop bool
	// Server-to-client bytes since arm; when limit >= 0, the pipe that
	// reaches it forwards up to it, then cuts everything (or, with hold,
	// forwards nothing more until cut).
	down, limit int64
	hold        bool
	released    chan struct{} // closed by cut: held pipes let go
	cutTime     time.Time     // when the last cut happened
	wg          sync.WaitGroup
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{target: target, addr: ln.Addr().String(), conns: map[net.Conn]*link{}, limit: -1, released: make(chan struct{})}
	p.serve(ln)
	t.Cleanup(p.stop)
	return p
}

func (p *cutProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go p.accept(ln)
}

func (p *cutProxy) accept(ln net.Listener) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		up, err := net.DialTimeout("tcp", p.target, 2*time.Second)
		p.mu.Lock()
		if err != nil || p.drop {
			p.mu.Unlock()
			c.Close()
			if up != nil {
				up.Close()
			}
			continue
		}
		l := &link{}
		p.conns[c], p.conns[up] = l, l
		p.wg.Add(2)
		p.mu.Unlock()
		go p.pipe(up, c, l, false)
		go p.pipe(c, up, l, true)
	}
}

// take counts n bytes from the server and says how many to forward and
// whether the armed limit is reached.
func (p *cutProxy) take(n int) (int, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.limit < 0 {
		return n, false
	}
	rem := p.limit - p.down
	if rem <= int64(n) {
		p.down = p.limit
		return int(max(rem, 0)), true
	}
	p.down += int64(n)
	return n, false
}

// link is one proxied connection.
type link struct {
	// poisoned: the client's next bytes end the connection instead of
	// reaching the server.
	poisoned atomic.Bool
}

func (p *cutProxy) pipe(dst, src net.Conn, l *link, fromServer bool) {
	defer p.wg.Done()
	defer p.closePair(dst, src)
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !fromServer && l.poisoned.Load() {
			return
		}
		if n > 0 {
			fwd, reached := n, false
			if fromServer {
				fwd, reached = p.take(n)
			}
			if _, werr := dst.Write(buf[:fwd]); werr != nil {
				return
			}
			if reached {
				p.mu.Lock()
				hold, released := p.hold, p.released
				p.mu.Unlock()
				if hold {
					<-released
				} else {
					p.cut()
				}
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *cutProxy) closePair(a, b net.Conn) {
	a.Close()
	b.Close()
	p.mu.Lock()
	delete(p.conns, a)
	delete(p.conns, b)
	p.mu.Unlock()
}

// open is how many connections the proxy holds.
func (p *cutProxy) open() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns) / 2
}

// arm makes the proxy cut every connection (hold: stop forwarding) once
// n more bytes came from the server.
func (p *cutProxy) arm(n int64, hold bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down, p.limit, p.hold, p.released = 0, n, hold, make(chan struct{})
}

// cut closes every connection, both directions, and drops new ones until
// forward.
func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drop, p.cutTime = true, time.Now()
	p.closeAllLocked()
}

func (p *cutProxy) lastCut() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cutTime
}

// cutIdle closes every connection and goes on forwarding new ones: what a
// network blip or a server-side kill does to a pooled connection.
func (p *cutProxy) cutIdle() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closeAllLocked()
}

// poison makes every open connection end when the client next sends on
// it, before anything reaches the server: a connection that died while
// idle in a pool (a server restart, a firewall that forgot it) and that
// the client learns about only when it uses it.
func (p *cutProxy) poison() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.conns {
		l.poisoned.Store(true)
	}
}

func (p *cutProxy) closeAllLocked() {
	select {
	case <-p.released:
	default:
		close(p.released)
	}
	for c := range p.conns {
		c.Close()
	}
	p.limit = -1
}

// forward forwards new connections again.
func (p *cutProxy) forward() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drop, p.limit, p.released = false, -1, make(chan struct{})
}

// refuse closes the listener (connections are refused) and every
// connection.
func (p *cutProxy) refuse() {
	p.mu.Lock()
	ln := p.ln
	p.ln = nil
	p.closeAllLocked()
	p.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
}

// reopen listens on the same port again and forwards.
func (p *cutProxy) reopen(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatalf("listening again on %s: %v", p.addr, err)
	}
	p.forward()
	p.serve(ln)
}

func (p *cutProxy) stop() {
	p.refuse()
	p.wg.Wait()
}
