package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"strings"
	"syscall"
	"testing"

	"lienthong/connectors"
)

type sqlstateErr string

func (e sqlstateErr) Error() string {
	return "FATAL: password authentication failed for user \"bhxh_reader\" (SQLSTATE " + string(e) + ")"
}
func (e sqlstateErr) SQLState() string { return string(e) }

// Each cause gets its fixed phrase, and no phrase carries the driver's
// text (hosts, users, databases, paths).
func TestPublicReason(t *testing.T) {
	wrap := func(err error) error {
		return &connectors.SourceError{Source: "s", Op: "connect", Err: fmt.Errorf("failed to connect to `user=bhxh_reader database=bhxh`: 127.0.0.1:5999: %w", err)}
	}
	cases := []struct {
		err  error
		want string
	}{
		{wrap(&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), reasonRefused},
		{wrap(&net.DNSError{Name: "bhxh-db", Err: "no such host"}), reasonHost},
		{wrap(context.DeadlineExceeded), reasonTimeout},
		{wrap(sqlstateErr("28P01")), reasonLogin},
		{wrap(sqlstateErr("3D000")), reasonDatabase},
		{wrap(errors.New("Error 1045 (28000): Access denied for user 'root'@'127.0.0.1' (using password: YES)")), reasonLogin},
		{wrap(errors.New("Error 1049 (42000): Unknown database 'hotich'")), reasonDatabase},
		{wrap(fmt.Errorf("open /srv/yte/visits.duckdb: %w", fs.ErrNotExist)), reasonFile},
		{wrap(errors.New("something new from a driver at 127.0.0.1")), reasonOther},
	}
	for _, c := range cases {
		got := publicReason(c.err)
		if got != c.want {
			t.Errorf("%v: %q, want %q", c.err, got, c.want)
		}
		for _, leak := range []string{"127.0.0.1", "bhxh", "root", "/srv", "hotich", "bhxh-db"} {
			if strings.Contains(got, leak) {
				t.Errorf("%q carries %q", got, leak)
			}
		}
	}
}
