package config

import (
	"path/filepath"
	"testing"
)

func TestExportDir(t *testing.T) {
	c, err := Load(FromMap(map[string]string{"CLINIKAPI_DATA_DIR": "/srv/clinik"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.ExportDir != "/srv/clinik/exports" {
		t.Fatalf("default export dir = %q, want under the data directory", c.ExportDir)
	}
	c, err = Load(FromMap(map[string]string{"CLINIKAPI_EXPORT_DIR": "shared/exports"}))
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(c.ExportDir) || filepath.Base(c.ExportDir) != "exports" {
		t.Fatalf("CLINIKAPI_EXPORT_DIR = %q, want it made absolute", c.ExportDir)
	}
}
