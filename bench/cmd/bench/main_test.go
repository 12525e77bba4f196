package main

import (
	"bytes"
	"flag"
	"strings"
	"testing"

	"lienthong/bench"
)

// bench -h lists bench's own flags, not those of the packages it imports
// (glog registers -v, -logtostderr, -log_dir on the global set).
func TestHelpListsOnlyBenchFlags(t *testing.T) {
	var o bench.Options
	var setupOnly, list *bool
	var rerender *string
	fs := newFlags(&o, &setupOnly, &list, &rerender)
	var out bytes.Buffer
	fs.SetOutput(&out)
	fs.PrintDefaults()
	if !strings.Contains(out.String(), "-scale") || !strings.Contains(out.String(), "-queries") {
		t.Fatalf("bench's flags missing:\n%s", out.String())
	}
	flag.CommandLine.VisitAll(func(f *flag.Flag) {
		if fs.Lookup(f.Name) != nil {
			return
		}
		if strings.Contains(out.String(), "-"+f.Name+" ") || strings.Contains(out.String(), "-"+f.Name+"\n") {
			t.Errorf("-h lists the imported flag -%s", f.Name)
		}
	})
}
