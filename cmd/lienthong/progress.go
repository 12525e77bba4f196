package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"lienthong/engine"
)

// A statement that has not answered after progressDelay gets a progress
// line on stderr, redrawn every progressTick, erased when the first rows
// arrive or the statement ends (so it never mixes with the result).
const (
	progressDelay = 500 * time.Millisecond
	progressTick  = 200 * time.Millisecond
)

// terminalStderr is stderr when it is a terminal, for progress lines, and
// nil otherwise: a log file or a pipe gets no progress.
func terminalStderr() io.Writer {
	if isTerminal(os.Stderr) {
		return os.Stderr
	}
	return nil
}

// progressLine draws one statement's progress line.
type progressLine struct {
	w     io.Writer
	prog  *engine.Progress // nil: elapsed time only (a server's query, EXPLAIN)
	width int              // the terminal's columns: the line never wraps
	start time.Time
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
}

// startProgress starts a progress line on w; with w nil it does nothing
// (end is still safe to call).
func startProgress(w io.Writer, prog *engine.Progress) *progressLine {
	p := &progressLine{w: w, prog: prog, start: time.Now(), stop: make(chan struct{}), done: make(chan struct{})}
	if w == nil {
		close(p.done)
		return p
	}
	p.width = 80
	if f, ok := w.(*os.File); ok {
		if cols, _ := termSize(f); cols > 0 {
			p.width = cols
		}
	}
	go p.loop()
	return p
}

func (p *progressLine) loop() {
	defer close(p.done)
	select {
	case <-p.stop:
		return
	case <-time.After(progressDelay):
	}
	t := time.NewTicker(progressTick)
	defer t.Stop()
	for {
		line := progressText(p.prog.Sources(), time.Since(p.start))
		if n := p.width - 1; displayWidth(line) > n {
			line = cutToWidth(line, n)
		}
		fmt.Fprintf(p.w, "\r\x1b[K%s", line)
		select {
		case <-p.stop:
			fmt.Fprint(p.w, "\r\x1b[K")
			return
		case <-t.C:
		}
	}
}

// end erases the line (if it was drawn) and returns once it is gone.
func (p *progressLine) end() {
	p.once.Do(func() { close(p.stop) })
	<-p.done
}

// progressText is the line: each source's rows read so far (a count the
// principal may not see is left out, "reading"), then the time elapsed.
func progressText(sources []engine.SourceProgress, elapsed time.Duration) string {
	var parts []string
	for _, s := range sources {
		var part string
		switch {
		case s.Hidden:
			part = s.Source + " reading"
		default:
			part = fmt.Sprintf("%s %s %s", s.Source, thousands(s.Rows), pluralWord(s.Rows, "row"))
		}
		if s.Done && !s.Hidden {
			part += " (done)"
		}
		parts = append(parts, part)
	}
	parts = append(parts, fmt.Sprintf("%.1f s", elapsed.Seconds()), "Ctrl-C cancels")
	return strings.Join(parts, " · ")
}

func pluralWord(n int64, w string) string {
	if n == 1 {
		return w
	}
	return w + "s"
}

// thousands writes n with commas between groups of three digits.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// cutToWidth cuts s to at most w display columns, ending in "…".
func cutToWidth(s string, w int) string {
	if w <= 1 {
		return ""
	}
	var b strings.Builder
	n := 0
	for _, r := range s {
		rw := runeWidth(r)
		if n+rw > w-1 {
			break
		}
		b.WriteRune(r)
		n += rw
	}
	return b.String() + "…"
}
