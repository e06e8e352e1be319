package main

import (
	"go/parser"
	"go/token"
	"strings"
	"testing"
)

// The package doc lists every subcommand the tool has.
func TestPackageDocListsCommands(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "main.go", nil, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		t.Fatal(err)
	}
	doc := f.Doc.Text()
	n := 0
	for _, c := range newRoot().Commands() {
		if c.Name() == "help" || c.Name() == "completion" {
			continue
		}
		n++
		if !strings.Contains(doc, "nanoact "+c.Name()+" ") {
			t.Errorf("the package doc does not list %q:\n%s", c.Name(), doc)
		}
	}
	if n < 4 {
		t.Errorf("only %d subcommands", n)
	}
}
