package web_test

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/clinikapi/clinikapi/internal/app/apptest"
)

// TestSignInTimeDoesNotTellAccountsApart: a wrong password for an account
// that exists and any password for one that does not cost the same
// password-hashing work, so their answer times agree: the medians over
// many attempts, in shuffled order, differ by at most 20%. (The sign-in
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
		// A round is 24 attempts of each. The machine's load
		// moves single answers by tens of milliseconds, so a round whose
		// medians differ by more than 20% is run again, up to five
		// rounds: a real difference (the attack measured 4×: no hashing
		// for an unknown account) fails every one of them.
		var diffs []string
		for round := range 5 {
			// The order is shuffled: the garbage collector runs every few
			// sign-ins (each hash takes 19 MiB), and a fixed order would
			// put its pauses on one side more often than the other.
			order := make([]bool, 2*attempts) // true: the known account
			for i := range attempts {
				order[i] = true
			}
			rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			var known, unknown []time.Duration
			for i, isKnown := range order {
				if i%8 == 0 {
					env.Clock.Advance(time.Hour) // a fresh throttle window
				}
				if isKnown {
					known = append(known, try("known@example.com"))
				} else {
					unknown = append(unknown, try(fmt.Sprintf("nobody%d-%d@example.com", round, i)))
				}
			}
			mk, mu := median(known), median(unknown)
			d := float64(mk-mu) / float64(max(mk, mu))
			t.Logf("%s, round %d: median sign-in with a wrong password %v, with an unknown account %v (%d each, %+.0f%%)", engine, round+1, mk, mu, attempts, 100*d)
			if d <= 0.2 && d >= -0.2 {
				return
			}
			diffs = append(diffs, fmt.Sprintf("%v vs %v", mk, mu))
		}
		t.Errorf("medians (wrong password vs unknown account) differ by more than 20%% in every round: %v", diffs)
	})
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
