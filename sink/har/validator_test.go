package har

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The HAR is also checked by an independent validator: har-validator, the
// JSON schema of HAR 1.2 that HTTP clients (request, postman) used, run by
// node. It is installed with npm once per machine into a directory under
// os.TempDir(); the check is skipped, saying why, where npm is missing or
// the install fails (no network).

// validatorScript reads a HAR and prints the schema's complaints, if any.
const validatorScript = `
const fs = require('fs');
const har = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
require('har-validator').har(har).then(
  () => console.log('valid'),
  (err) => { console.log(JSON.stringify(err.errors || err.message, null, 1)); process.exit(1); });
`

var validator struct {
	once sync.Once
	dir  string // holds node_modules/har-validator and validate.js
	skip string // why the validator is unavailable
}

// harValidator returns the directory of the installed validator, or skips
// the test.
func harValidator(t *testing.T) string {
	t.Helper()
	validator.once.Do(installValidator)
	if validator.skip != "" {
		t.Skip("har-validator check skipped: " + validator.skip)
	}
	return validator.dir
}

func installValidator() {
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			validator.skip = tool + " is not installed"
			return
		}
	}
	dir := filepath.Join(os.TempDir(), "htapod-har-validator")
	script := filepath.Join(dir, "validate.js")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "har-validator", "package.json")); err != nil {
		// Install into a directory of our own, then move it in place, so
		// that a failed or concurrent install never leaves half a cache.
		tmp, err := os.MkdirTemp(os.TempDir(), "htapod-har-validator-*")
		if err != nil {
			validator.skip = err.Error()
			return
		}
		defer os.RemoveAll(tmp)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "npm", "install", "--no-audit", "--no-fund", "--silent", "har-validator@5")
		cmd.Dir = tmp
		if out, err := cmd.CombinedOutput(); err != nil {
			validator.skip = "npm install har-validator@5 failed: " + strings.TrimSpace(string(out)) + " (" + err.Error() + ")"
			return
		}
		if err := os.Rename(tmp, dir); err != nil && !errors.Is(err, os.ErrExist) {
			if _, serr := os.Stat(filepath.Join(dir, "node_modules", "har-validator")); serr != nil {
				validator.skip = err.Error()
				return
			}
		}
	}
	if err := os.WriteFile(script, []byte(validatorScript), 0o644); err != nil {
		validator.skip = err.Error()
		return
	}
	validator.dir = dir
}

// validate runs har-validator on the HAR at path: nil when it is valid,
// else an error with the schema's complaints.
func validate(t *testing.T, path string) error {
	t.Helper()
	dir := harValidator(t)
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", filepath.Join(dir, "validate.js"), abs)
	cmd.Dir = dir // require() looks in dir/node_modules
	out, err := cmd.CombinedOutput()
	if err != nil {
		return errors.New(strings.TrimSpace(string(out)))
	}
	if got := strings.TrimSpace(string(out)); got != "valid" {
		t.Fatalf("validator printed %q; want valid", got)
	}
	return nil
}

func TestHARValidator(t *testing.T) {
	path := writeSamples(t)
	if err := validate(t, path); err != nil {
		t.Errorf("har-validator rejects the samples' HAR:\n%s", err)
	}
	// The validator must be able to say no: a HAR whose entry lacks its
	// request is not one.
	bad := filepath.Join(t.TempDir(), "bad.har")
	os.WriteFile(bad, []byte(`{"log":{"version":"1.2","creator":{"name":"x","version":"1"},"entries":[{"startedDateTime":"2026-01-02T03:04:05.123Z","time":1,"cache":{},"timings":{"send":0,"wait":1,"receive":0}}]}}`), 0o600)
	if err := validate(t, bad); err == nil || !strings.Contains(err.Error(), "request") {
		t.Errorf("har-validator on a HAR without request = %v; want it to complain", err)
	}
}
