package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
)

// errPagerClosed is a write after the pager ended (the user quit it
// before the end of the result): the shell stops the result quietly.
var errPagerClosed = errors.New("the pager was closed")

// pagerCommand is $PAGER, or less -FRX when less is installed; "" when
// there is none (or PAGER=off).
func pagerCommand() string {
	if p, ok := os.LookupEnv("PAGER"); ok {
		if p == "off" {
			return ""
		}
		return p
	}
	if _, err := exec.LookPath("less"); err == nil {
		return "less -FRX"
	}
	return ""
}

// pager is one statement's output on the terminal: held back until it is
// longer than the screen (lines screen lines, lines wrapped at cols
// counted as the terminal wraps them), then piped to the pager command;
// a short output goes straight to the terminal at Close.
type pager struct {
	term      io.Writer
	cmd       string
	lines     int
	cols      int
	buf       bytes.Buffer
	lineStart int // where the line being written starts in buf
	n         int // screen lines held
	proc      *exec.Cmd
	pipe      io.WriteCloser
	direct    bool // the pager could not start: write to the terminal
}

func newPager(term io.Writer, cmd string, lines, cols int) *pager {
	return &pager{term: term, cmd: cmd, lines: lines, cols: cols, direct: cmd == ""}
}

func (p *pager) Write(b []byte) (int, error) {
	switch {
	case p.pipe != nil:
		n, err := p.pipe.Write(b)
		if err != nil {
			return n, errPagerClosed
		}
		return n, nil
	case p.direct:
		return p.term.Write(b)
	}
	p.buf.Write(b)
	for {
		i := bytes.IndexByte(p.buf.Bytes()[p.lineStart:], '\n')
		if i < 0 {
			break
		}
		line := p.buf.Bytes()[p.lineStart : p.lineStart+i]
		p.n += 1
		if w := displayWidth(string(line)); p.cols > 0 && w > p.cols {
			p.n += (w - 1) / p.cols
		}
		p.lineStart += i + 1
	}
	if p.n > p.lines {
		if err := p.start(); err != nil {
			return len(b), err
		}
	}
	return len(b), nil
}

// start runs the pager and hands it what was held.
func (p *pager) start() error {
	cmd := exec.Command("/bin/sh", "-c", p.cmd)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	pipe, err := cmd.StdinPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		// No pager after all: the terminal, unpaged.
		p.direct = true
		_, err := p.term.Write(p.buf.Bytes())
		p.buf.Reset()
		return err
	}
	p.proc, p.pipe = cmd, pipe
	_, err = pipe.Write(p.buf.Bytes())
	p.buf.Reset()
	if err != nil {
		return errPagerClosed
	}
	return nil
}

// Close ends the output: what was held goes to the terminal, or the
// pager's input is closed and the pager waited for (the user reads on).
func (p *pager) Close() error {
	if p.pipe == nil {
		_, err := p.term.Write(p.buf.Bytes())
		p.buf.Reset()
		return err
	}
	p.pipe.Close()
	err := p.proc.Wait()
	p.pipe = nil
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return nil // the pager's own exit status (less quit by a signal) is its business
	}
	return err
}
