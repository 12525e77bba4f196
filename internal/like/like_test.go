package like

import "testing"

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		pat, s string
		want   bool
	}{
		{"d%", "dancu", true}, {"%cu", "dancu", true}, {"d_ncu", "dancu", true}, {"d_cu", "dancu", false},
		{"DANCU", "dancu", false}, {`a\_b`, "a_b", true}, {`a\_b`, "axb", false}, {`a\%`, "a%", true},
		{`\\`, `\`, true}, {`a\`, `a\`, false}, {"Nguy_n%", "Nguyễn Văn An", true}, {"", "", true}, {"%", "", true},
	} {
		if got := Match(c.pat, c.s); got != c.want {
			t.Errorf("Match(%q, %q) = %v, want %v", c.pat, c.s, got, c.want)
		}
	}
}
