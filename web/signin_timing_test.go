package web_test

import (
	"fmt"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/app/apptest"
)

// TestSignInTimeDoesNotTellAccountsApart: a wrong password for an account
// that exists and any password for one that does not cost the same
// password-hashing work, so their answer times agree: the medians over
// many attempts, interleaved, differ by at most 20%. (The sign-in
// throttle is stepped past with the test clock; it answers both alike.)
func TestSignInTimeDoesNotTellAccountsApart(t *testing.T) {
	const attempts = 24
	apptest.Engines(t, func(t *testing.T, engine string) {
		env := apptest.New(t, engine, nil)
		env.Browser().SignUp("Known", "known@example.com", pw, "Timing Org")
		b := env.Browser()
		try := func(email string) time.Duration {
			start := time.Now()
			r := b.Post("/signin", url.Values{"email": {email}, "password": {"wrong-password-123"}})
			took := time.Since(start)
			if r.Status != 401 && r.Status != 400 && r.Status != 422 {
				t.Fatalf("sign-in of %s with a wrong password: %d\n%s", email, r.Status, apptest.Text(r.Body))
			}
			return took
		}
		try("known@example.com") // warm both paths up
		try("warm@example.com")
		var known, unknown []time.Duration
		for i := range attempts {
			if i%4 == 0 {
				env.Clock.Advance(time.Hour) // a fresh throttle window
			}
			if i%2 == 0 {
				known = append(known, try("known@example.com"))
				unknown = append(unknown, try(fmt.Sprintf("nobody%d@example.com", i)))
			} else {
				unknown = append(unknown, try(fmt.Sprintf("nobody%d@example.com", i)))
				known = append(known, try("known@example.com"))
			}
		}
		mk, mu := median(known), median(unknown)
		t.Logf("%s: median sign-in with a wrong password %v, with an unknown account %v (%d each)", engine, mk, mu, attempts)
		if d := float64(mk-mu) / float64(max(mk, mu)); d > 0.2 || d < -0.2 {
			t.Errorf("medians differ by %.0f%%: wrong password %v, unknown account %v", 100*d, mk, mu)
		}
	})
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
