package supabase

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/clinikapi/clinikapi/internal/errs"
)

// Sessions that end. An access token verifies locally until it expires, but
// the session behind it can end sooner: signed out here, or ended at
// Supabase (a password reset, a sign-out on another device, an
// administrator). So:
//
//   - Our own sign-out revokes the token's session (its session_id claim) on
//     every instance at once: the revocation is published on the channel
//     that carries API key invalidations, and each instance refuses that
//     session until its token expires. Supabase's sign-out ends all of the
//     person's sessions, and our password change and reset make it end the
//     other ones: the same message makes every instance ask Supabase about
//     each of the person's sessions on its next request.
//   - Any other session is re-validated with Supabase (GET /user with the
//     access token) when Supabase last vouched for it more than
//     revalidateEvery ago: when it issued the token, or the last check. So a
//     session ended at Supabase is refused within revalidateEvery, and a
//     request costs a call to Supabase at most once a minute per session.
//   - When Supabase cannot be reached for a check (network, 5xx, 429), the
//     session carries on for up to unreachableGrace after Supabase last
//     vouched for it, asking again at most every checkRetry; after that the
//     dashboard answers "unavailable" (the cookies are kept, so the session
//     resumes once Supabase answers and says it is still alive).
const (
	revalidateEvery  = 60 * time.Second
	unreachableGrace = 5 * time.Minute
	checkRetry       = 10 * time.Second
	checkTimeout     = 5 * time.Second
	// recheckKeep: how long a "check every session of this person" mark is
	// kept; access tokens issued before it have expired by then.
	recheckKeep = 24 * time.Hour
	// revokedAfterFailedLogout: when Supabase could not be told about a
	// sign-out, its refresh token still works there, so the session is
	// refused here for this long rather than until the token expires.
	revokedAfterFailedLogout = 24 * time.Hour
	maxTracked               = 100_000
)

// Messages on the invalidation channel (the one that carries API key ids and
// "plan:" messages; neither ever starts with this prefix).
const (
	msgPrefix     = "session:"
	msgEnd        = msgPrefix + "end:"  // session:end:<session id>:<until, unix s>:<subject>
	msgRecheckAll = msgPrefix + "user:" // session:user:<subject>
)

// IsSessionMessage tells whether an invalidation message is for Receive.
func IsSessionMessage(msg string) bool { return strings.HasPrefix(msg, msgPrefix) }

// sessionState is what this instance knows about one session.
type sessionState struct {
	confirmed time.Time     // when Supabase last said the session is alive
	seq       uint64        // sessions.seq when that check started
	failedAt  time.Time     // when a check last could not reach Supabase
	checking  chan struct{} // closed when the check in flight ends
}

// mark says: sessions Supabase vouched for before it must be checked again.
// A check counts if it started after the mark (seq: no ties between
// instants); a token's issue time, only if strictly after at.
type mark struct {
	at  time.Time
	seq uint64
}

func (m mark) or(o mark) mark {
	return mark{at: later(m.at, o.at), seq: max(m.seq, o.seq)}
}

// sessions holds the revoked sessions and the check results.
type sessions struct {
	mu      sync.Mutex
	seq     uint64                   // bumped by every mark
	revoked map[string]time.Time     // session id → refused until
	state   map[string]*sessionState // by sessionKey
	recheck map[string]mark          // by subject: that person's sessions
	all     mark                     // every session
}

func newSessions() sessions {
	return sessions{revoked: map[string]time.Time{}, state: map[string]*sessionState{}, recheck: map[string]mark{}}
}

// sessionKey names what a check vouches for: the session, when the token's
// signature was verified here; otherwise (HS256 without the JWT secret) only
// that exact token.
func sessionKey(access string, c *claims, verified bool) string {
	if verified && c.SessionID != "" {
		return "sid:" + c.SessionID
	}
	sum := sha256.Sum256([]byte(access))
	return "tok:" + hex.EncodeToString(sum[:])
}

// isRevoked reports whether this instance refuses the session.
func (s *sessions) isRevoked(sessionID string, now time.Time) bool {
	if sessionID == "" {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	until, ok := s.revoked[sessionID]
	return ok && now.Before(until)
}

// revoke refuses the session until until (kept if already later).
func (s *sessions) revoke(sessionID string, until, now time.Time) {
	if sessionID == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.revoked) >= maxTracked/10 {
		for id, u := range s.revoked {
			if !now.Before(u) {
				delete(s.revoked, id)
			}
		}
	}
	if until.After(s.revoked[sessionID]) {
		s.revoked[sessionID] = until
	}
	delete(s.state, "sid:"+sessionID)
}

// recheckSubject makes every session of subject be checked with Supabase on
// its next request, however recently it was confirmed.
func (s *sessions) recheckSubject(subject string, now time.Time) {
	if subject == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.recheck) >= maxTracked/10 {
		for sub, m := range s.recheck {
			if now.Sub(m.at) > recheckKeep {
				delete(s.recheck, sub)
			}
		}
	}
	s.seq++
	s.recheck[subject] = mark{at: now, seq: s.seq}
}

// recheckEverything follows a lost invalidation connection: revocations may
// have been missed, so every session is checked with Supabase again.
func (s *sessions) recheckEverything(now time.Time) {
	s.mu.Lock()
	s.seq++
	s.all = mark{at: now, seq: s.seq}
	s.mu.Unlock()
}

// Receive applies a session message published by any instance (this one
// included). Other messages are ignored.
func (p *Provider) Receive(msg string) {
	now := p.now()
	switch {
	case strings.HasPrefix(msg, msgEnd):
		parts := strings.SplitN(strings.TrimPrefix(msg, msgEnd), ":", 3)
		if len(parts) != 3 {
			return
		}
		secs, err := strconv.ParseInt(parts[1], 10, 64)
		if err != nil {
			return
		}
		p.sess.revoke(parts[0], time.Unix(secs, 0), now)
		p.sess.recheckSubject(parts[2], now)
	case strings.HasPrefix(msg, msgRecheckAll):
		p.sess.recheckSubject(strings.TrimPrefix(msg, msgRecheckAll), now)
	}
}

// Missed is called when session messages may have been lost (the
// invalidation channel reconnected): every session is checked again.
func (p *Provider) Missed() { p.sess.recheckEverything(p.now()) }

// publish applies msg here at once and sends it to the other instances.
func (p *Provider) publish(ctx context.Context, msg string) {
	p.Receive(msg)
	if p.opt.Publish == nil {
		return
	}
	if err := p.opt.Publish(context.WithoutCancel(ctx), msg); err != nil {
		p.log.WarnContext(ctx, "supabase auth: publishing a session change to the other instances failed; they notice it within a minute (their next check with Supabase)", "err", err)
	}
}

// endSession revokes the session of access everywhere and makes every
// instance check the person's other sessions (Supabase's sign-out ends them
// all). logoutFailed: Supabase was not told, so the refresh token still works
// there and the session is refused for longer.
func (p *Provider) endSession(ctx context.Context, access string, logoutFailed bool) {
	c := unverifiedClaims(access)
	if c == nil || c.SessionID == "" || strings.ContainsRune(c.SessionID, ':') || strings.ContainsRune(c.Subject, ':') {
		return
	}
	until := c.expires()
	if logoutFailed {
		if u := p.now().Add(revokedAfterFailedLogout); u.After(until) {
			until = u
		}
	}
	p.publish(ctx, msgEnd+c.SessionID+":"+strconv.FormatInt(until.Unix(), 10)+":"+c.Subject)
}

// recheckUser makes every instance check all of subject's sessions with
// Supabase on their next request (after a password change or reset, which
// end the person's other sessions at Supabase).
func (p *Provider) recheckUser(ctx context.Context, subject string) {
	if subject == "" || strings.ContainsRune(subject, ':') {
		return
	}
	p.publish(ctx, msgRecheckAll+subject)
}

// ensureAlive decides whether the session of a locally verified (or, when
// !verified, structurally checked) access token is still alive, asking
// Supabase when the last word from it is older than revalidateEvery.
func (p *Provider) ensureAlive(ctx context.Context, access string, c *claims, verified bool) error {
	s := &p.sess
	key := sessionKey(access, c, verified)
	for {
		now := p.now()
		s.mu.Lock()
		if until, ok := s.revoked[c.SessionID]; ok && c.SessionID != "" && now.Before(until) {
			s.mu.Unlock()
			return errSessionEnded
		}
		st := s.state[key]
		if st == nil {
			st = &sessionState{}
			s.track(key, st, now)
		}
		m := s.all.or(s.recheck[c.Subject])
		var confirmed time.Time
		if st.seq >= m.seq {
			confirmed = st.confirmed
		}
		if verified && c.IssuedAt != nil {
			// Supabase vouched for the session when it issued the token.
			iat := c.IssuedAt.Time
			if iat.After(now) {
				iat = now // clock skew must not stretch the interval
			}
			if iat.After(m.at) && iat.After(confirmed) {
				confirmed = iat
			}
		}
		if !confirmed.IsZero() && now.Sub(confirmed) < revalidateEvery {
			s.mu.Unlock()
			return nil
		}
		if ch := st.checking; ch != nil {
			s.mu.Unlock()
			select {
			case <-ch:
			case <-ctx.Done():
				return wrapErr(errs.Unavailable, "", ctx.Err(), msgUnavailable)
			}
			continue
		}
		if !st.failedAt.IsZero() && now.Sub(st.failedAt) < checkRetry {
			s.mu.Unlock()
			return p.grace(confirmed, now, nil)
		}
		ch := make(chan struct{})
		st.checking = ch
		seq := s.seq
		s.mu.Unlock()

		// The check is shared by the session's parallel requests, so it is
		// not cut short when the request that started it goes away.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), checkTimeout)
		err := p.checkRemote(cctx, access, c.Subject)
		cancel()

		s.mu.Lock()
		st.checking = nil
		close(ch)
		switch {
		case err == nil:
			// The start of the call: a session ended while it was in
			// flight must not count as confirmed after its end.
			st.confirmed, st.seq, st.failedAt = now, seq, time.Time{}
			s.mu.Unlock()
			return nil
		case errs.Is(err, errs.Unauthorized):
			delete(s.state, key)
			s.mu.Unlock()
			if verified {
				s.revoke(c.SessionID, c.expires(), now)
			}
			return err
		default:
			st.failedAt = now
			s.mu.Unlock()
			p.log.WarnContext(ctx, "supabase auth: could not check a session with Supabase", "err", err, "confirmed", confirmed)
			return p.grace(confirmed, now, err)
		}
	}
}

// grace lets a session carry on while Supabase cannot be asked, for up to
// unreachableGrace after Supabase last vouched for it.
func (p *Provider) grace(confirmed, now time.Time, cause error) error {
	if !confirmed.IsZero() && now.Sub(confirmed) <= unreachableGrace {
		return nil
	}
	if cause == nil {
		cause = errors.New("supabase auth: session not confirmed recently and the last check failed")
	}
	return wrapErr(errs.Unavailable, "", cause, msgUnavailable)
}

// track adds a session state, keeping the map bounded: states that no
// longer tell anything (old, nothing in flight) go first.
func (s *sessions) track(key string, st *sessionState, now time.Time) {
	if len(s.state) >= maxTracked {
		for k, old := range s.state {
			if old.checking == nil && now.Sub(later(old.confirmed, old.failedAt)) > unreachableGrace {
				delete(s.state, k)
			}
		}
		for k, old := range s.state {
			if len(s.state) < maxTracked*9/10 {
				break
			}
			if old.checking == nil {
				delete(s.state, k) // falls back to the token's issue time
			}
		}
	}
	s.state[key] = st
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// unverifiedClaims reads a token's claims without checking its signature:
// for tokens Supabase has just issued, or that Authenticate already checked.
func unverifiedClaims(token string) *claims {
	if token == "" || len(token) > maxTokenLength {
		return nil
	}
	c := &claims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, c); err != nil {
		return nil
	}
	return c
}

// checkRemote asks Supabase about an access token: GET /user. 401, 403
// (session_not_found, bad_jwt) and 404 (user_not_found) mean the session is
// over.
func (p *Provider) checkRemote(ctx context.Context, access, subject string) error {
	u, err := p.api(ctx, access, nil).GetUser()
	if err != nil {
		if e := classify(err); e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden || e.Status == http.StatusNotFound {
			return wrapErr(errs.Unauthorized, "", e, errSessionEnded.Message)
		}
		return mapErr(err)
	}
	if u.ID.String() != subject {
		return errSessionEnded
	}
	return nil
}
