package nanoact_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The module's docs stand alone: no Go file or Markdown page points to
// material a user of the module cannot see (the project's workspace, its
// design card, sections of the nanonext reference kept outside the repo).
func TestDocsStandAlone(t *testing.T) {
	t.Parallel()
	outside := []string{
		"../" + "shared/",
		"DESIGN" + ".md",
		"STYLE" + ".md",
		"nanonext-" + "reference",
		"reference " + "§",
		"of the " + "reference",
		"project " + "workspace",
	}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if ext := filepath.Ext(path); ext != ".go" && ext != ".md" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			for _, o := range outside {
				if strings.Contains(line, o) {
					t.Errorf("%s:%d points outside the module (%q): %s", path, i+1, o, strings.TrimSpace(line))
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
