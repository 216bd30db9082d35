package store_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// postgresOnly are the functions allowed to write on the pool without the
// SQLite write lock, because they only ever run on PostgreSQL (which needs
// no such lock), with the reason.
var postgresOnly = map[string]string{
	"openSchema": "creates a PostgreSQL schema on an admin connection of its own",
	"Publish":    "pg_notify on PostgreSQL: KeyNotifier is nil on SQLite",
	"notify":     "pg_notify on PostgreSQL: CacheSync exists on PostgreSQL only",
}

// writingSQL matches SQL that writes: a statement starting with INSERT,
// UPDATE, DELETE or REPLACE (the RETURNING ones run with QueryRow).
var writingSQL = regexp.MustCompile(`(?is)^\s*(WITH\b.*\b)?(INSERT|UPDATE|DELETE|REPLACE)\b`)

// TestWritesHoldTheWriteLock keeps every write of the store behind DB.writing,
// the SQLite write lock (store.go): a statement that writes on the pool or
// on a connection of its own (X.sql.ExecContext, X.sql.BeginTx, a
// QueryRowContext of an INSERT … RETURNING, X.conn.BeginTx …) must be
// lexically inside a function literal passed to writing, or in one of the
// helpers built on it (execWrite, queryWrite, tx, insertValuesTx, the
// committer). Writes inside a transaction (tx.ExecContext) are covered by
// the transaction's own lock.
func TestWritesHoldTheWriteLock(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var bad []string
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			if _, ok := postgresOnly[fn.Name.Name]; ok {
				continue
			}
			walkLocked(fn.Body, false, func(call *ast.CallExpr, locked bool) {
				what, writes := directWrite(call)
				if !writes {
					return
				}
				checked++
				if !locked {
					bad = append(bad, fset.Position(call.Pos()).String()+": "+fn.Name.Name+": "+what+" outside db.writing")
				}
			})
		}
	}
	sort.Strings(bad)
	for _, b := range bad {
		t.Error(b)
	}
	if checked < 5 {
		t.Fatalf("found only %d writes on the pool: the scan no longer sees them", checked)
	}
}

// walkLocked visits every call in n, telling whether it sits inside a
// function literal passed to writing.
func walkLocked(n ast.Node, locked bool, visit func(*ast.CallExpr, bool)) {
	ast.Inspect(n, func(m ast.Node) bool {
		call, ok := m.(*ast.CallExpr)
		if !ok {
			return true
		}
		visit(call, locked)
		if isWriting(call.Fun) {
			walkLocked(call.Fun, locked, visit)
			for _, a := range call.Args {
				_, lit := a.(*ast.FuncLit)
				walkLocked(a, locked || lit, visit)
			}
			return false
		}
		return true
	})
}

func isWriting(fun ast.Expr) bool {
	switch f := fun.(type) {
	case *ast.SelectorExpr:
		return f.Sel.Name == "writing"
	case *ast.Ident:
		return f.Name == "writing"
	}
	return false
}

// directWrite reports whether call writes on the pool (X.sql) or on a
// connection (X.conn) rather than inside a transaction or a statement.
func directWrite(call *ast.CallExpr) (string, bool) {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return "", false
	}
	recv, ok := sel.X.(*ast.SelectorExpr)
	if !ok || (recv.Sel.Name != "sql" && recv.Sel.Name != "conn") {
		return "", false
	}
	m := recv.Sel.Name + "." + sel.Sel.Name
	switch sel.Sel.Name {
	case "Exec", "ExecContext", "Begin", "BeginTx":
		return m, true
	case "QueryRow", "QueryRowContext", "Query", "QueryContext":
		q := firstString(call.Args)
		return m + " of " + strings.Fields(q + " ?")[0], writingSQL.MatchString(q)
	}
	return "", false
}

// firstString is the leading literal of the call's SQL argument ("" when
// the SQL is not a literal).
func firstString(args []ast.Expr) string {
	for _, a := range args {
		for {
			b, ok := a.(*ast.BinaryExpr)
			if !ok {
				break
			}
			a = b.X
		}
		if lit, ok := a.(*ast.BasicLit); ok && lit.Kind == token.STRING {
			s, err := strconv.Unquote(lit.Value)
			if err == nil {
				return s
			}
		}
	}
	return ""
}
