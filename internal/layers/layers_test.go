package layers

import (
	"go/build"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestImportsPointDown fails when a package imports one of a layer that is
// not below its own, or when a package is missing from the table.
func TestImportsPointDown(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("the module root is not two directories up: %v", err)
	}
	seen := 0
	err = filepath.WalkDir(root, func(dir string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if dir != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "node_modules") {
			return filepath.SkipDir
		}
		pkg, err := build.ImportDir(dir, 0)
		if err != nil {
			return nil // no Go files here (or only tests)
		}
		rel, _ := filepath.Rel(root, dir)
		rel = filepath.ToSlash(rel)
		layer, ok := Layers[rel]
		if !ok {
			t.Errorf("%s is not in the layer table: add it to internal/layers/layers.go, below what imports it", rel)
			return nil
		}
		seen++
		for _, imp := range pkg.Imports {
			dep, ok := strings.CutPrefix(imp, Module+"/")
			if !ok {
				continue
			}
			depLayer, ok := Layers[dep]
			switch {
			case !ok:
				t.Errorf("%s imports %s, which is not in the layer table", rel, dep)
			case depLayer >= layer:
				t.Errorf("%s (layer %d) imports %s (layer %d): imports point down only", rel, layer, dep, depLayer)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen < len(Layers)/2 {
		t.Fatalf("found only %d of the table's %d packages: is the walk broken?", seen, len(Layers))
	}
}
