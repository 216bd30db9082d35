package account

import (
	"context"
	"slices"
	"sync"
	"time"
)

// pace keeps failed sign-ins from answering sooner than successful ones,
// whatever the provider does: built-in accounts hash against a dummy
// when the e-mail is unknown, but Supabase Auth (GoTrue) answers an
// unknown e-mail without hashing, so its answer time tells accounts
// apart. Every credential failure is held until the median time of
// recent successful sign-ins has passed since it began. Only successes
// set the pace, and only someone who knows a password can produce one,
// so a flood of unknown e-mails cannot lower it. Before the first
// success there is nothing to pace by.
type pace struct {
	mu   sync.Mutex
	last [32]time.Duration // recent successful sign-ins, a ring
	n    int               // successes seen
}

// success records how long a successful sign-in took.
func (p *pace) success(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last[p.n%len(p.last)] = d
	p.n++
}

// floor is the median of the recent successes, 0 before the first.
func (p *pace) floor() time.Duration {
	p.mu.Lock()
	n := min(p.n, len(p.last))
	s := slices.Clone(p.last[:n])
	p.mu.Unlock()
	if n == 0 {
		return 0
	}
	slices.Sort(s)
	return s[n/2]
}

// failure holds a failed sign-in that began at start until the floor has
// passed (or ctx ends).
func (p *pace) failure(ctx context.Context, start time.Time) {
	wait := p.floor() - time.Since(start)
	if wait <= 0 {
		return
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
