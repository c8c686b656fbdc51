package mutants

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
)

// SourceEdit changes one struct field's tag in a Go source file: the
// consumer's code then reads that field under another name.
type SourceEdit struct {
	File  string // path from the repository root, e.g. services/order/inventoryclient.go
	Type  string // the struct type
	Field string // the field
	Tag   string // the new tag, without backquotes: json:"qty"
}

// Apply returns src with the edit made: parsed, the field's tag replaced
// in the syntax tree, formatted. It fails when the type or field is
// missing, or when the tag already reads Tag.
func (e SourceEdit) Apply(src []byte) ([]byte, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, e.File, src, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	var done bool
	var problem error
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok || ts.Name.Name != e.Type {
			return true
		}
		st, ok := ts.Type.(*ast.StructType)
		if !ok {
			problem = fmt.Errorf("%s: type %s is not a struct", e.File, e.Type)
			return false
		}
		for _, field := range st.Fields.List {
			for _, n := range field.Names {
				if n.Name != e.Field {
					continue
				}
				newTag := "`" + e.Tag + "`"
				if field.Tag != nil && field.Tag.Value == newTag {
					problem = fmt.Errorf("%s: %s.%s already has tag %s", e.File, e.Type, e.Field, newTag)
					return false
				}
				if field.Tag == nil {
					field.Tag = &ast.BasicLit{Kind: token.STRING}
				}
				field.Tag.Value = newTag
				done = true
			}
		}
		return false
	})
	if problem != nil {
		return nil, problem
	}
	if !done {
		return nil, fmt.Errorf("%s: no field %s in a struct type %s", e.File, e.Field, e.Type)
	}
	var b bytes.Buffer
	if err := format.Node(&b, fset, f); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// WriteOverlay writes the edited file and a `go build -overlay` file that
// puts it in place of root/e.File into dir, and returns the overlay file's
// path.
func (e SourceEdit) WriteOverlay(root, dir string) (string, error) {
	orig, err := filepath.Abs(filepath.Join(root, e.File))
	if err != nil {
		return "", err
	}
	src, err := os.ReadFile(orig)
	if err != nil {
		return "", err
	}
	out, err := e.Apply(src)
	if err != nil {
		return "", err
	}
	edited := filepath.Join(dir, filepath.Base(e.File))
	if err := os.WriteFile(edited, out, 0o644); err != nil {
		return "", err
	}
	overlay, err := json.Marshal(map[string]map[string]string{"Replace": {orig: edited}})
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "overlay.json")
	return path, os.WriteFile(path, overlay, 0o644)
}
