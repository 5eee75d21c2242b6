package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// assets are the embedded static files. Each is served at a name with a
// hash of its content, which may be cached for ever because a new build
// with new content has a new name, and at its plain name, which browsers
// must revalidate.
type assets struct {
	byName   map[string]*asset // plain and hashed names
	hashName map[string]string // plain name to hashed name
}

type asset struct {
	name   string // plain name, for the content type
	etag   string
	body   []byte
	hashed bool
}

func loadAssets(fsys fs.FS) (*assets, error) {
	a := &assets{byName: map[string]*asset{}, hashName: map[string]string{}}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		h := hex.EncodeToString(sum[:])[:12]
		ext := path.Ext(p)
		hashed := strings.TrimSuffix(p, ext) + "." + h + ext
		etag := `"` + h + `"`
		a.byName[p] = &asset{name: p, etag: etag, body: body}
		a.byName[hashed] = &asset{name: p, etag: etag, body: body, hashed: true}
		a.hashName[p] = hashed
		return nil
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// url is the address of the named asset, with its content hash. It fails
// for a name that is not embedded, so a typo breaks the page's tests rather
// than the page.
func (a *assets) url(name string) (string, error) {
	h, ok := a.hashName[name]
	if !ok {
		return "", fmt.Errorf("no asset %q", name)
	}
	return "/static/" + h, nil
}

// serve writes the named asset and reports whether there is one.
func (a *assets) serve(w http.ResponseWriter, r *http.Request, name string) bool {
	f, ok := a.byName[name]
	if !ok {
		return false
	}
	h := w.Header()
	h.Set("ETag", f.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	if f.hashed {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	if path.Ext(f.name) == ".svg" {
		h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	}
	// ServeContent answers If-None-Match with 304, HEAD and ranges, and
	// picks the content type from the extension.
	http.ServeContent(w, r, f.name, time.Time{}, bytes.NewReader(f.body))
	return true
}
