package amq_test

import (
	"go/ast"
	"go/build"
	"go/doc"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
)

// exampleExceptions are the exported entry points that have no Example, each
// with the reason. Keys are "pkgdir.Name" or "pkgdir.Type.Method", pkgdir
// being "amq", "amqtest" or "server".
var exampleExceptions = map[string]string{
	"server.Link.OfferedCapabilities": "no client the examples can use (amq, go-amqp v1.7.0) sends offered-capabilities in an attach, so the example could only print an empty list",
	"amq.KerberosOptions":             "SASL GSSAPI needs a Kerberos KDC and a keytab or ticket cache; neither amqtest nor the examples' loopback broker offers GSSAPI, so no runnable example can show it working",
}

// TestEveryEntryPointHasAnExample enforces STYLE.md's "every exported entry
// point has an Example" for amq, amqtest and server: every exported function,
// every exported method of an exported type, and every exported type a user
// builds must have an Example function that go/doc attaches to it (ExampleF,
// ExampleT, ExampleT_M, each with an optional _suffix), unless it is listed in
// exampleExceptions. A struct type with unexported fields (Client, Sender,
// server.Link, ...) is a handle users get from a constructor or a callback,
// never build: its constructor and methods need examples, the type does not.
func TestEveryEntryPointHasAnExample(t *testing.T) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("runtime.Caller: no file")
	}
	root := filepath.Dir(file)
	used := make(map[string]bool)
	var missing []string
	for _, dir := range []string{".", "amqtest", "server"} {
		name := "amq"
		if dir != "." {
			name = dir
		}
		for _, id := range entryPointsWithoutExample(t, filepath.Join(root, dir)) {
			key := name + "." + id
			if _, ok := exampleExceptions[key]; ok {
				used[key] = true
				continue
			}
			missing = append(missing, key)
		}
	}
	for _, key := range missing {
		t.Errorf("%s has no Example", key)
	}
	for key := range exampleExceptions {
		if !used[key] {
			t.Errorf("exampleExceptions lists %s, which has an Example or does not exist: remove it", key)
		}
	}
}

// entryPointsWithoutExample parses the package in dir with its tests (both the
// package and its _test package, as go test builds them) and returns the
// exported functions, types and methods that have no Example, as "F", "T"
// or "T.M".
func entryPointsWithoutExample(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") {
			continue
		}
		if ok, err := build.Default.MatchFile(dir, e.Name()); err != nil || !ok {
			continue // another platform's file, or one excluded by a build tag
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	var path string
	for _, f := range files {
		if !strings.HasSuffix(f.Name.Name, "_test") {
			path = f.Name.Name
			break
		}
	}
	pkg, err := doc.NewFromFiles(fset, files, path)
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	check := func(id string, examples []*doc.Example) {
		if len(examples) == 0 {
			missing = append(missing, id)
		}
	}
	for _, f := range pkg.Funcs {
		check(f.Name, f.Examples)
	}
	aliased := aliasedEngineTypes(pkg)
	if len(aliased) > 0 {
		missing = append(missing, aliasedWithoutExample(t, filepath.Join(dir, "..", "internal", "engine"), files, aliased)...)
	}
	for _, typ := range pkg.Types {
		if aliased[typ.Name] != "" {
			continue // checked above, with the engine type's methods
		}
		if !opaque(typ) {
			check(typ.Name, typ.Examples)
		}
		for _, f := range typ.Funcs { // constructors, listed under their type
			check(f.Name, f.Examples)
		}
		for _, m := range typ.Methods {
			check(typ.Name+"."+m.Name, m.Examples)
		}
	}
	sort.Strings(missing)
	return missing
}

// opaque reports whether typ is a struct with unexported fields, which users
// cannot build themselves.
func opaque(typ *doc.Type) bool {
	for _, spec := range typ.Decl.Specs {
		if ts, ok := spec.(*ast.TypeSpec); ok && ts.Name.Name == typ.Name {
			st, ok := ts.Type.(*ast.StructType)
			return ok && st.Incomplete // doc drops unexported fields and marks the list
		}
	}
	return false
}

// aliasedEngineTypes maps the package's type aliases of engine types
// (server.Link = engine.Link, ...) to the engine type's name.
func aliasedEngineTypes(pkg *doc.Package) map[string]string {
	out := make(map[string]string)
	for _, typ := range pkg.Types {
		for _, spec := range typ.Decl.Specs {
			ts, ok := spec.(*ast.TypeSpec)
			if !ok || ts.Name.Name != typ.Name || !ts.Assign.IsValid() {
				continue
			}
			if sel, ok := ts.Type.(*ast.SelectorExpr); ok {
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == "engine" {
					out[typ.Name] = sel.Sel.Name
				}
			}
		}
	}
	return out
}

// aliasedWithoutExample checks the types a package aliases from the engine
// (whose methods go/doc cannot see from the package): every exported method
// of the engine type needs an Example named after the alias (ExampleLink_SetSource
// for server.Link), among the package's files.
func aliasedWithoutExample(t *testing.T, engineDir string, files []*ast.File, aliased map[string]string) []string {
	t.Helper()
	examples := make(map[string]bool)
	for _, f := range files {
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && strings.HasPrefix(fd.Name.Name, "Example") {
				examples[strings.TrimPrefix(fd.Name.Name, "Example")] = true
			}
		}
	}
	has := func(id string) bool { // id: "T" or "T_M"; an example may add _suffix
		for name := range examples {
			if name == id || strings.HasPrefix(name, id+"_") && !strings.Contains(name[len(id)+1:], "_") && isLowerStart(name[len(id)+1:]) {
				return true
			}
		}
		return false
	}
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, engineDir, func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for _, p := range pkgs {
		epkg := doc.New(p, "engine", 0)
		for _, typ := range epkg.Types {
			for alias, target := range aliased {
				if target != typ.Name {
					continue
				}
				for _, m := range typ.Methods {
					if !has(alias + "_" + m.Name) {
						missing = append(missing, alias+"."+m.Name)
					}
				}
			}
		}
	}
	return missing
}

func isLowerStart(s string) bool { return s != "" && s[0] >= 'a' && s[0] <= 'z' }
