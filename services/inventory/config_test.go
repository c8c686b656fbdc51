package inventory_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faultline-harness/faultline/services/inventory"
)

func TestDefaultCatalog(t *testing.T) {
	c := inventory.DefaultCatalog()
	if c["SKU-LOW"] != 5 {
		t.Errorf("SKU-LOW = %d, want 5", c["SKU-LOW"])
	}
	for _, sku := range []string{"SKU-1", "SKU-2", "SKU-3", "SKU-4", "SKU-5"} {
		if c[sku] < 1_000_000 {
			t.Errorf("%s = %d, want >= 1,000,000", sku, c[sku])
		}
	}
	c["SKU-1"] = 0
	if inventory.DefaultCatalog()["SKU-1"] == 0 {
		t.Error("DefaultCatalog returns a shared map")
	}
}

func TestLoadCatalog(t *testing.T) {
	write := func(t *testing.T, content string) string {
		p := filepath.Join(t.TempDir(), "catalog.json")
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Run("valid", func(t *testing.T) {
		c, err := inventory.LoadCatalog(write(t, `{"SKU-1": 100, "SKU-2": 0}`))
		if err != nil || len(c) != 2 || c["SKU-1"] != 100 || c["SKU-2"] != 0 {
			t.Errorf("LoadCatalog = %v, %v", c, err)
		}
	})
	bad := map[string]struct{ content, errHas string }{
		"negative":      {`{"SKU-1": -1}`, "negative"},
		"fraction":      {`{"SKU-1": 1.5}`, "parse catalog"},
		"string stock":  {`{"SKU-1": "5"}`, "parse catalog"},
		"array":         {`["SKU-1"]`, "parse catalog"},
		"empty object":  {`{}`, "no SKUs"},
		"null":          {`null`, "no SKUs"},
		"empty file":    {``, "parse catalog"},
		"blank SKU":     {`{" ": 5}`, "blank SKU"},
		"SKU too long":  {`{"` + strings.Repeat("S", 65) + `": 5}`, "sku must be at most 64 bytes"},
		"trailing data": {`{"SKU-1": 5} {}`, "after the JSON object"},
	}
	for name, tc := range bad {
		t.Run(name, func(t *testing.T) {
			p := write(t, tc.content)
			_, err := inventory.LoadCatalog(p)
			if err == nil || !strings.Contains(err.Error(), tc.errHas) || !strings.Contains(err.Error(), p) {
				t.Errorf("err = %v, want one naming %s and saying %q", err, p, tc.errHas)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "nope.json")
		if _, err := inventory.LoadCatalog(p); err == nil || !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("err = %v, want a not-exist error", err)
		}
	})
}
