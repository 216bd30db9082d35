// Package static embeds the dashboard's built assets (Tailwind CSS, htmx,
// app.js, images) and names them by content hash so they can be cached for a
// year: app.css is served as /static/app.3f9c1a2b.css.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"path"
	"strings"
)

//go:embed *.css *.js *.svg
var files embed.FS

// FS is the embedded asset tree.
var FS fs.FS = files

var (
	hashed   = map[string]string{} // name → hashed URL path
	unhashed = map[string]string{} // hashed file name → name
)

func init() {
	entries, _ := fs.ReadDir(files, ".")
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, _ := fs.ReadFile(files, e.Name())
		sum := sha256.Sum256(b)
		h := hex.EncodeToString(sum[:4])
		ext := path.Ext(e.Name())
		name := strings.TrimSuffix(e.Name(), ext) + "." + h + ext
		hashed[e.Name()] = "/static/" + name
		unhashed[name] = e.Name()
	}
}

// Path returns the URL of the named asset, with its content hash.
func Path(name string) string {
	if p, ok := hashed[name]; ok {
		return p
	}
	return "/static/" + name
}

// Resolve maps a requested file name to the embedded file. immutable is true
// when the name carried the current content hash.
func Resolve(requested string) (name string, immutable bool, ok bool) {
	if n, ok := unhashed[requested]; ok {
		return n, true, true
	}
	if _, ok := hashed[requested]; ok {
		return requested, false, true
	}
	return "", false, false
}
