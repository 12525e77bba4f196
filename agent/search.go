package agent

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// VerifyFile verifies the request log at path (see Verify): the number of
// records, or the first bad one as a *VerifyError.
func VerifyFile(path string) (uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n, _, err := Verify(f)
	return n, err
}

// ReadLog reads every record of a log (without verifying the chain; a
// line that is not a record is an error naming it).
func ReadLog(path string) ([]Record, error) {
	return Search(path, Filter{})
}

// Filter selects records for Search; zero fields match everything.
type Filter struct {
	From, To time.Time // From <= time < To
	Engine   string
	Purpose  string
	// Outcome matches exactly, or by its part before ':' (refused matches
	// every refused:<reason>).
	Outcome string
	Table   string
}

func (f Filter) match(r *Record) bool {
	if !f.From.IsZero() && r.Time.Before(f.From) || !f.To.IsZero() && !r.Time.Before(f.To) {
		return false
	}
	if f.Engine != "" && r.Engine != f.Engine || f.Purpose != "" && r.Purpose != f.Purpose || f.Table != "" && r.Table != f.Table {
		return false
	}
	if f.Outcome != "" && r.Outcome != f.Outcome && !strings.HasPrefix(r.Outcome, f.Outcome+":") {
		return false
	}
	return true
}

// Search returns the records of the log at path that f selects; a
// filter on anything but time selects request records only.
func Search(path string, f Filter) ([]Record, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	var out []Record
	n := 0
	onlyRequests := f.Engine != "" || f.Purpose != "" || f.Outcome != "" || f.Table != ""
	err = scan(file, func(r *Record, _ bool, perr error) error {
		n++
		if perr != nil {
			return fmt.Errorf("%s: line %d: %v", path, n, perr)
		}
		if onlyRequests && r.Kind != "request" {
			return nil
		}
		if f.match(r) {
			out = append(out, *r)
		}
		return nil
	})
	return out, err
}
