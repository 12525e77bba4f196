package engine_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"lienthong/engine"
	"lienthong/planner"
)

// pin_verify answers one yes/no question per query, for principals with a
// verify grant, within that grant's rows, at a bounded rate.
func TestPinVerifyIsOneCheck(t *testing.T) {
	f := newPolicyFixture(t)
	pin, name, birth := f.citizen[0], f.citizen[1], f.citizen[2] // outside province 079
	check := func(p, n, b string) string {
		return fmt.Sprintf("SELECT pin_verify('%s', '%s', DATE '%s')", p, n, b)
	}
	dung := engine.Session{Principal: "dung", Agency: "UBND_XA", Purpose: "IDENTITY_CHECK"}
	anVerify := an
	for _, c := range []struct {
		who  engine.Session
		sql  string
		want string // "true", "false" or an error code
	}{
		{cuong, check(pin, name, birth), "true"},
		{cuong, check(pin+" ", name, birth), "false"},
		{cuong, check(" "+pin, name, birth), "false"},
		{cuong, check(pin[:11], name, birth), "false"},
		{cuong, check(pin+"0", name, birth), "false"},
		{cuong, check(pin, name+" ", birth), "false"},
		{cuong, "SELECT pin_verify('" + pin + "', '" + name + "', DATE '" + birth + "') AS ok", "true"},
		// The verify grant's row filter: dung verifies only province 079.
		{dung, check(pin, name, birth), "false"},
		// Reading a table is not a verify grant.
		{anVerify, check(pin, name, birth), "LT-DENIED"},
		// Oracle forms: anything but the whole select list without FROM.
		{cuong, "SELECT COUNT(*) FROM dancu.citizens WHERE pin_verify(pin, '" + name + "', DATE '" + birth + "')", "LT-DENIED"},
		{cuong, "SELECT pin_verify(p, '" + name + "', DATE '" + birth + "') FROM (SELECT '" + pin + "' AS p) t", "LT-DENIED"},
		{cuong, "SELECT * FROM (" + check(pin, name, birth) + ") t", "LT-DENIED"},
		{cuong, "SELECT NOT " + check(pin, name, birth)[7:], "LT-DENIED"},
		{cuong, check(pin, name, birth) + ", " + check(pin, name, "1990-01-01")[7:], "LT-DENIED"},
		{cuong, check(pin, name, birth) + " UNION ALL " + check(pin, name, "1990-01-01"), "LT-DENIED"},
		{cuong, "WITH c AS (SELECT 1 AS x) " + check(pin, name, birth), "LT-DENIED"},
		{cuong, "SELECT pin_verify(CONCAT('" + pin[:6] + "', '" + pin[6:] + "'), '" + name + "', DATE '" + birth + "')", "LT-DENIED"},
		{cuong, check(pin, name, birth) + " WHERE 1 = 1", "LT-DENIED"},
		{cuong, "SELECT CASE WHEN " + check(pin, name, birth)[7:] + " THEN 1 ELSE 0 END", "LT-DENIED"},
		{cuong, "SELECT Pin_Verify('" + pin + "', '" + name + "', DATE '" + birth + "') ORDER BY 1", "LT-DENIED"},
	} {
		got, err := rows(t, f.secured, c.sql, engine.QueryOptions{Session: c.who})
		var pe *planner.Error
		switch {
		case strings.HasPrefix(c.want, "LT-"):
			if !errors.As(err, &pe) || string(pe.Code) != c.want {
				t.Errorf("%s as %s: want %s, got %v %v", c.sql, c.who.Principal, c.want, got, err)
			}
		case err != nil || len(got) != 1 || got[0] != c.want:
			t.Errorf("%s as %s: want %s, got %v %v", c.sql, c.who.Principal, c.want, got, err)
		}
	}
	// The rate: with verify_per_minute = 3, the fourth check in a minute is
	// refused, whatever its answer would be.
	pol, _ := os.ReadFile(f.policyPath)
	if err := os.WriteFile(f.policyPath, []byte(strings.Replace(string(pol), "min_group_size = 10", "min_group_size = 10\nverify_per_minute = 3", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := f.secured.ReloadPolicy(); err != nil {
		t.Fatal(err)
	}
	var last error
	for i := 0; i < 4; i++ {
		_, last = rows(t, f.secured, check(pin, name, fmt.Sprintf("19%02d-01-01", 50+i)), engine.QueryOptions{Session: cuong})
	}
	var pe *planner.Error
	if !errors.As(last, &pe) || pe.Code != planner.CodeRateLimit {
		t.Errorf("the 4th check within a minute: want LT-RATE-LIMIT, got %v", last)
	}
	if _, err := rows(t, f.secured, check(pin, name, birth), engine.QueryOptions{Session: dung}); err != nil {
		t.Errorf("the rate is per principal; dung was refused: %v", err)
	}
}
