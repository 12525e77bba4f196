package errcode_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"lienthong/errcode"
)

// Every "LT-..." code written anywhere in the module's non-test code is
// registered, so no front-end derives its status from a code the registry
// does not know (and every registered code is used somewhere).
func TestEveryCodeIsRegistered(t *testing.T) {
	used := map[string]string{}
	root := filepath.Join("..")
	err := filepath.Walk(root, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.IsDir() && (info.Name() == "testdata" || strings.HasPrefix(info.Name(), ".") && path != root) {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || strings.Contains(path, "errcode") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if v, err := strconv.Unquote(lit.Value); err == nil && strings.HasPrefix(v, "LT-") && strings.Trim(v[3:], "ABCDEFGHIJKLMNOPQRSTUVWXYZ-") == "" && len(v) > 4 {
					used[v] = path
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for code, where := range used {
		if !errcode.Registered(code) {
			t.Errorf("%s (in %s) is not in the error registry", code, where)
		}
	}
	for _, e := range errcode.All() {
		if used[e.Code] == "" {
			t.Errorf("%s is registered but no code uses it", e.Code)
		}
		if e.HTTP == 0 || e.Exit == 0 || len(e.SQLState) != 5 || e.MySQL == 0 || e.Hint == "" {
			t.Errorf("%s: incomplete entry %+v", e.Code, e)
		}
	}
}
