package tlsmitm

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// browserTrust is what the browsers' stores add to a run's Trust.
type browserTrust struct {
	mounts          []Mount
	stores, skipped []string
}

func (b *browserTrust) skip(format string, args ...any) {
	b.skipped = append(b.skipped, fmt.Sprintf(format, args...))
}

// shadowLimit bounds the tree shadowFile copies: configuration
// directories such as /etc/chromium hold a handful of small files.
const (
	shadowMaxEntries = 256
	shadowMaxFile    = 1 << 20
)

var errShadowTooBig = errors.New("directory too large to copy")

// shadowFile makes target read as content in the box without changing
// the host: a file that exists is covered by a copy; otherwise the deepest
// directory on the way to it that exists, at or below top, is covered by
// a copy of its tree (in dir, under name) with the file added. It returns
// the mount, or an error when no directory at or below top exists.
func shadowFile(dir, name, top, target string, content []byte) (Mount, error) {
	if fi, err := os.Stat(target); err == nil && fi.Mode().IsRegular() {
		src := filepath.Join(dir, name)
		if err := os.WriteFile(src, content, 0o644); err != nil {
			return Mount{}, err
		}
		return Mount{Src: src, Dst: target}, nil
	}
	base := filepath.Dir(target)
	for {
		if fi, err := os.Stat(base); err == nil && fi.IsDir() {
			break
		}
		if base == top || !strings.HasPrefix(base, top+"/") {
			return Mount{}, fmt.Errorf("%s: %w", top, fs.ErrNotExist)
		}
		base = filepath.Dir(base)
	}
	copyDir := filepath.Join(dir, name)
	budget := shadowMaxEntries
	if err := copyTree(base, copyDir, &budget); err != nil {
		return Mount{}, fmt.Errorf("copy %s: %w", base, err)
	}
	p := filepath.Join(copyDir, strings.TrimPrefix(target, base+"/"))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return Mount{}, err
	}
	if err := os.WriteFile(p, content, 0o644); err != nil {
		return Mount{}, err
	}
	return Mount{Src: copyDir, Dst: base}, nil
}

// copyTree copies the directories, regular files and links of src to
// dst, taking one from budget for each entry.
func copyTree(src, dst string, budget *int) error {
	if err := os.Mkdir(dst, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if *budget--; *budget < 0 {
			return errShadowTooBig
		}
		s, d := filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())
		switch {
		case e.IsDir():
			err = copyTree(s, d, budget)
		case e.Type()&fs.ModeSymlink != 0:
			var target string
			if target, err = os.Readlink(s); err == nil {
				err = os.Symlink(target, d)
			}
		case e.Type().IsRegular():
			err = copyFile(s, d)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// copyFile copies a small regular file (its mode kept).
func copyFile(src, dst string) error {
	fi, err := os.Stat(src)
	if err != nil {
		return err
	}
	if fi.Size() > shadowMaxFile {
		return fmt.Errorf("%s: %w", src, errShadowTooBig)
	}
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, fi.Mode().Perm())
}
