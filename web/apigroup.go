package web

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// apiGroup registers API routes with their middleware composed once, when
// the route is added. echo composes a group's and a route's middleware again
// on every request (a closure per middleware per call), which the API tier,
// eight middleware deep on every call, does not need to pay.
type apiGroup struct {
	e      *echo.Echo
	prefix string
	mw     []echo.MiddlewareFunc
}

// group is g with mw appended to its middleware.
func (g apiGroup) group(mw ...echo.MiddlewareFunc) apiGroup {
	return apiGroup{e: g.e, prefix: g.prefix, mw: append(g.mw[:len(g.mw):len(g.mw)], mw...)}
}

// wrap composes the group's middleware, then mw, around h: the first
// middleware runs first, as with echo.
func (g apiGroup) wrap(h echo.HandlerFunc, mw ...echo.MiddlewareFunc) echo.HandlerFunc {
	all := append(g.mw[:len(g.mw):len(g.mw)], mw...)
	for i := len(all) - 1; i >= 0; i-- {
		h = all[i](h)
	}
	return h
}

func (g apiGroup) add(method, path string, h echo.HandlerFunc, mw ...echo.MiddlewareFunc) {
	g.e.Add(method, g.prefix+path, g.wrap(h, mw...))
}

// GET registers h for GET and for HEAD (the same answer without its body:
// net/http drops the body of a HEAD response).
func (g apiGroup) GET(path string, h echo.HandlerFunc, mw ...echo.MiddlewareFunc) {
	g.add(http.MethodGet, path, h, mw...)
	g.add(http.MethodHead, path, h, mw...)
}

func (g apiGroup) POST(path string, h echo.HandlerFunc, mw ...echo.MiddlewareFunc) {
	g.add(http.MethodPost, path, h, mw...)
}

func (g apiGroup) PUT(path string, h echo.HandlerFunc, mw ...echo.MiddlewareFunc) {
	g.add(http.MethodPut, path, h, mw...)
}

func (g apiGroup) PATCH(path string, h echo.HandlerFunc, mw ...echo.MiddlewareFunc) {
	g.add(http.MethodPatch, path, h, mw...)
}

func (g apiGroup) DELETE(path string, h echo.HandlerFunc, mw ...echo.MiddlewareFunc) {
	g.add(http.MethodDelete, path, h, mw...)
}

// Any answers every method echo knows at path.
func (g apiGroup) Any(path string, h echo.HandlerFunc) {
	g.e.Any(g.prefix+path, g.wrap(h))
}

// RouteNotFound answers what no route matches at path, whatever the
// method (echo's Any covers only the methods it knows).
func (g apiGroup) RouteNotFound(path string, h echo.HandlerFunc) {
	g.e.RouteNotFound(g.prefix+path, g.wrap(h))
}
