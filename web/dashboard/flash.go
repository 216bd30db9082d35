package dashboard

import (
	"encoding/base64"
	"net/http"
	"unicode/utf8"
)

var httpCookieDelete = http.Cookie{Name: cookieFlash, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode}

// Flash messages are fixed product texts (never user input or secrets),
// base64-encoded to be cookie-safe.
func encodeFlash(msg string) string { return base64.RawURLEncoding.EncodeToString([]byte(msg)) }

func decodeFlash(v string) string {
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || len(b) > 300 || !utf8.Valid(b) {
		return ""
	}
	return string(b)
}
