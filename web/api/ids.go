package api

import (
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/clinikapi/clinikapi/internal/datastore"
)

// ValidID reports whether s is a valid resource id (the datastore's rule:
// [A-Za-z0-9\-\.]{1,64}, and no dot segment). Handlers check ids with it
// before anything else touches them.
func ValidID(s string) bool { return datastore.ValidID(s) }

// CleanPath refuses API paths that try to escape their route: dot segments,
// encoded slashes or backslashes, empty segments. Such paths name no
// resource, so they get 404 like any other missing one.
func CleanPath(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		u := c.Request().URL
		raw := u.EscapedPath()
		if !cleanPath(raw) {
			return &Error{Status: 404, Code: "NOT_FOUND", Message: "No such resource: the path is malformed."}
		}
		return next(c)
	}
}

func cleanPath(raw string) bool {
	lower := strings.ToLower(raw)
	if strings.Contains(lower, "%2f") || strings.Contains(lower, "%5c") || strings.Contains(raw, "\\") || strings.Contains(lower, "%00") {
		return false
	}
	segs := strings.Split(strings.TrimPrefix(raw, "/"), "/")
	for i, s := range segs {
		if s == "." || s == ".." || strings.EqualFold(s, "%2e") || strings.EqualFold(s, "%2e%2e") || strings.EqualFold(s, ".%2e") || strings.EqualFold(s, "%2e.") {
			return false
		}
		if s == "" && i != len(segs)-1 {
			return false
		}
	}
	return true
}
