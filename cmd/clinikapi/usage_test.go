package main

import (
	"bytes"
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"strings"
	"testing"
)

// TestUsageNamesEveryCommand keeps the usage texts in step with the
// commands run and admin really dispatch: every case of their switch is
// named in its usage text.
func TestUsageNamesEveryCommand(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "main.go", nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	texts := map[string]string{"run": usage, "admin": adminUsage}
	seen := map[string]int{}
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || texts[fn.Name.Name] == "" {
			continue
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			cc, ok := n.(*ast.CaseClause)
			if !ok {
				return true
			}
			for _, e := range cc.List {
				lit, ok := e.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					continue
				}
				name, _ := strconv.Unquote(lit.Value)
				if strings.HasPrefix(name, "-") {
					continue // -h, --help: aliases of help
				}
				seen[fn.Name.Name]++
				if !strings.Contains(texts[fn.Name.Name], "  "+name+" ") && !strings.Contains(texts[fn.Name.Name], "  "+name+"\n") {
					t.Errorf("%s dispatches %q, which its usage text does not name", fn.Name.Name, name)
				}
			}
			return true
		})
	}
	if seen["run"] < 4 || seen["admin"] < 5 {
		t.Fatalf("found %v commands: the scan no longer sees the switches", seen)
	}
	for _, args := range [][]string{{"help"}, {"admin", "help"}} {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), args, env(map[string]string{"CLINIKAPI_DATA_DIR": t.TempDir()}), &out, &errOut); err != nil || !strings.HasPrefix(out.String(), "Usage: clinikapi") {
			t.Errorf("clinikapi %s = %v, printed %q", strings.Join(args, " "), err, out.String())
		}
	}
}
