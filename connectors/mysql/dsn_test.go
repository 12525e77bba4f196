package mysql

import "testing"

func TestParseDSN(t *testing.T) {
	for _, c := range []struct{ in, user, pass, addr, db string }{
		{"root@tcp(127.0.0.1:3306)/hotich", "root", "", "127.0.0.1:3306", "hotich"},
		{"mysql://u:p%40ss%2Fw@db.example:3307/hotich?timeout=3s", "u", "p@ss/w", "db.example:3307", "hotich"},
		{"mysql://root@127.0.0.1/hotich", "root", "", "127.0.0.1:3306", "hotich"},
	} {
		cfg, err := ParseDSN(c.in)
		if err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		if cfg.User != c.user || cfg.Passwd != c.pass || cfg.Addr != c.addr || cfg.DBName != c.db {
			t.Errorf("%s: got %s %s %s %s", c.in, cfg.User, cfg.Passwd, cfg.Addr, cfg.DBName)
		}
	}
}
