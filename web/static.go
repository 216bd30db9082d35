package web

import (
	"io/fs"
	"mime"
	"net/http"
	"path"

	"github.com/labstack/echo/v4"

	"github.com/clinikapi/clinikapi/static"
)

// serveStatic serves embedded assets. Names carrying the current content hash
// are cached for a year; others must be revalidated.
func serveStatic(c echo.Context) error {
	name, immutable, ok := static.Resolve(c.Param("file"))
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	b, err := fs.ReadFile(static.FS, name)
	if err != nil {
		return echo.NewHTTPError(http.StatusNotFound)
	}
	h := c.Response().Header()
	if immutable {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	return c.Blob(http.StatusOK, ct, b)
}
