package records

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/clinikapi/clinikapi/internal/datastore"
	"github.com/clinikapi/clinikapi/internal/errs"
	"github.com/clinikapi/clinikapi/internal/plan"
	"github.com/clinikapi/clinikapi/internal/random"
)

// Phases of a move of an organization's live data.
const (
	MoveIdle      = "idle"      // no move has run
	MoveCopying   = "copying"   // copy and catch-up passes; requests use the source
	MoveFenced    = "fenced"    // source writes refused while the last changes are copied and verified
	MoveSwitched  = "switched"  // requests use the target; the source copy is deleted after Grace
	MoveDone      = "done"      // the data is in the target only
	MoveCancelled = "cancelled" // the plan changed back before the switch; the partial copy was deleted
)

// Move is the move of an organization's live data from one datastore to
// another, as stored between steps (so a restarted server resumes it).
type Move struct {
	OrgID                                        string
	From                                         string // datastore names: "live", "org_…"
	To                                           string
	Phase                                        string
	Pass                                         int           // 1: the copy; 2…: catch-up passes over what changed meanwhile
	Cursor                                       datastore.Ref // where the current pass has got to
	Total                                        int64         // the organization's live resources when the move started
	Done                                         int64         // resources the current pass has looked at
	Copied                                       int64         // resources copied by the current pass
	Error                                        string        // the last failure, for operators (never PHI)
	StartedAt, SwitchedAt, FinishedAt, UpdatedAt time.Time
}

// Active reports whether the move is under way (not yet finished).
func (m Move) Active() bool {
	return m.Phase == MoveCopying || m.Phase == MoveFenced || m.Phase == MoveSwitched
}

// MoveStore keeps where organizations' live data is and their moves.
type MoveStore interface {
	// MovesDue lists the organizations, not closed, whose live datastore
	// is not the one their plan puts it in (dedicated: the plans with a
	// dedicated datastore) or whose move is under way.
	MovesDue(ctx context.Context, dedicated []string) ([]string, error)
	// Placement returns the organization's plan and live datastore, read
	// from the database (not a cache).
	Placement(ctx context.Context, orgID string) (planID, live string, err error)
	// SetLiveDatastore records where the organization's live data is.
	SetLiveDatastore(ctx context.Context, orgID, name string, now time.Time) error
	// ClaimMove takes the organization's move for holder until until,
	// unless another holder's claim is still valid at now.
	ClaimMove(ctx context.Context, orgID, holder string, now, until time.Time) (bool, error)
	// FindMove returns the organization's move (phase idle when none ran).
	FindMove(ctx context.Context, orgID string) (Move, error)
	// SaveMove stores the move and extends holder's claim to until;
	// errs.Conflict when holder no longer has the claim.
	SaveMove(ctx context.Context, m Move, holder string, until time.Time) error
	// ReleaseMove gives up holder's claim.
	ReleaseMove(ctx context.Context, orgID, holder string) error
}

// Mover moves organizations' live data between the shared live datastore
// and their dedicated ones when their plan changes (Enterprise and back),
// as a background job that resumes after a restart.
//
// Design: copy, then catch up by version, then a short fence. Requests
// keep using the source datastore (MoveStore's live datastore) until the
// copy is verified, so nothing written before the switch is hidden: the
// first pass copies every resource with all its versions (byte for byte)
// while writes go on in the source; catch-up passes compare each
// resource's (version, deleted) in both and copy again the ones that
// changed, until a pass finds few (or after a few passes). Then the
// source refuses the organization's writes (the fence: 503 with
// Retry-After, checked inside every write's transaction, waiting for
// writes already running — see store's tenant_fenced), the last changes
// are copied, a pass without copying verifies that every resource stands
// at the same version in both and both hold as many resources and
// versions, and only then does the live datastore switch. A write is thus
// either committed to the source before the fence (and copied), refused
// during it (the client retries), or goes to the target after the switch:
// none is lost. Other instances learn of the switch at once (the plan
// invalidation) or within the plan cache's 10 s; until then their writes
// meet the fence and their reads the source's identical copy, which is
// deleted only Grace after the switch. Dual writes were the alternative;
// they would put two datastores in every write's path for the whole move
// and still need a fence to verify, so the fence is kept to the end.
type Mover struct {
	Records *Service
	Store   MoveStore
	Log     *slog.Logger
	Now     func() time.Time
	// Changed makes a new live datastore reach every instance's caches.
	Changed func(ctx context.Context, orgID string)
	// Grace is how long the source copy is kept after the switch, for
	// instances that have not yet seen it.
	Grace time.Duration
	// Lease is how long a claim on a move lasts between progress reports.
	Lease time.Duration
	// Holder names this worker in claims; random when empty.
	Holder string
	// SubTenants lists the tenants of the organization's
	// sub-organizations, whose live data moves with its own; nil: none.
	SubTenants func(ctx context.Context, orgID string) ([]string, error)

	once   sync.Once
	holder string
	wake   chan struct{}
	mu     sync.Mutex // one Step at a time in this process
}

// catchUpEnough is how few changed resources a catch-up pass may find
// for the move to go on to the fence; maxPasses bounds the passes before
// it goes on regardless (the fence then copies the rest).
const (
	catchUpEnough = 100
	maxPasses     = 5
)

func (m *Mover) init() {
	m.once.Do(func() {
		m.holder = m.Holder
		if m.holder == "" {
			m.holder = random.ID("mov")
		}
		m.wake = make(chan struct{}, 1)
	})
}

func (m *Mover) lease() time.Duration {
	if m.Lease > 0 {
		return m.Lease
	}
	return time.Minute
}

// Wake makes the worker look for moves now rather than at its next tick
// (after a plan change).
func (m *Mover) Wake() {
	m.init()
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// Run looks for moves every tick (or when woken) until ctx ends.
func (m *Mover) Run(ctx context.Context, tick time.Duration) {
	m.init()
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		if err := m.Step(ctx); err != nil && ctx.Err() == nil {
			m.Log.Error("moving live data between datastores failed; will retry", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-m.wake:
		}
	}
}

// Step advances every move that is due as far as it can go now.
func (m *Mover) Step(ctx context.Context) error {
	m.init()
	m.mu.Lock()
	defer m.mu.Unlock()
	var dedicated []string
	for _, p := range plan.All {
		if p.Dedicated {
			dedicated = append(dedicated, p.ID)
		}
	}
	orgs, err := m.Store.MovesDue(ctx, dedicated)
	if err != nil {
		return err
	}
	var first error
	for _, orgID := range orgs {
		if err := m.advance(ctx, orgID); err != nil {
			m.Log.Error("moving an organization's live data failed; will retry", "org", orgID, "err", err)
			if first == nil {
				first = err
			}
		}
	}
	return first
}

// Status returns the organization's latest move (phase idle when none).
func (m *Mover) Status(ctx context.Context, orgID string) (Move, error) {
	return m.Store.FindMove(ctx, orgID)
}

// tenants are the datastore tenants of an organization's live data: its
// sub-organizations' and, last, its own (the one a pass's cursor follows).
func (m *Mover) tenants(ctx context.Context, orgID string) ([]datastore.Tenant, error) {
	var out []datastore.Tenant
	if m.SubTenants != nil {
		subs, err := m.SubTenants(ctx, orgID)
		if err != nil {
			return nil, err
		}
		for _, t := range subs {
			out = append(out, datastore.Tenant(t))
		}
	}
	return append(out, datastore.Tenant(orgID)), nil
}

// eachTenant runs fn for every tenant, stopping at the first error.
func eachTenant(tenants []datastore.Tenant, fn func(datastore.Tenant) error) error {
	for _, t := range tenants {
		if err := fn(t); err != nil {
			return err
		}
	}
	return nil
}

// rows counts the resources and versions of every tenant in st.
func rows(ctx context.Context, st *datastore.Store, tenants []datastore.Tenant) (resources, versions int64, err error) {
	err = eachTenant(tenants, func(t datastore.Tenant) error {
		r, v, err := st.Rows(ctx, t)
		resources, versions = resources+r, versions+v
		return err
	})
	return resources, versions, err
}

// purge deletes every tenant's rows from st.
func purge(ctx context.Context, st *datastore.Store, tenants []datastore.Tenant) error {
	return eachTenant(tenants, func(t datastore.Tenant) error {
		_, err := st.Purge(ctx, t)
		return err
	})
}

// fence sets or lifts the write fence of every tenant in st.
func fence(ctx context.Context, st *datastore.Store, tenants []datastore.Tenant, on bool) error {
	return eachTenant(tenants, func(t datastore.Tenant) error { return st.SetFence(ctx, t, on) })
}

// advance runs one organization's move, under its claim.
func (m *Mover) advance(ctx context.Context, orgID string) error {
	now := m.Now()
	ok, err := m.Store.ClaimMove(ctx, orgID, m.holder, now, now.Add(m.lease()))
	if err != nil || !ok {
		return err
	}
	defer func() {
		if err := m.Store.ReleaseMove(context.WithoutCancel(ctx), orgID, m.holder); err != nil {
			m.Log.Warn("releasing a move's claim failed; it lapses by itself", "org", orgID, "err", err)
		}
	}()
	mv, err := m.Store.FindMove(ctx, orgID)
	if err != nil {
		return err
	}
	planID, live, err := m.Store.Placement(ctx, orgID)
	if err != nil {
		return err
	}
	want := wantLive(orgID, plan.Of(planID))
	tenants, err := m.tenants(ctx, orgID)
	if err != nil {
		return err
	}
	own := tenants[len(tenants)-1]
	if !mv.Active() {
		if live == want {
			return nil
		}
		mv = Move{OrgID: orgID, From: live, To: want, Phase: MoveCopying, Pass: 1, StartedAt: now}
	}
	src, err := m.Records.Data.Named(ctx, mv.From)
	if err != nil {
		return err
	}
	dst, err := m.Records.Data.Named(ctx, mv.To)
	if err != nil {
		return err
	}
	if mv.Phase != MoveSwitched && mv.To != want {
		// The plan changed back before the switch: the data stays where
		// it is, and the partial copy goes.
		if err := fence(ctx, src, tenants, false); err != nil {
			return err
		}
		if err := purge(ctx, dst, tenants); err != nil {
			return err
		}
		mv.Phase, mv.FinishedAt = MoveCancelled, m.Now()
		return m.save(ctx, &mv)
	}
	if mv.Phase == MoveCopying && mv.Pass == 1 && mv.Cursor == (datastore.Ref{}) && mv.Done == 0 {
		// A fresh move. What the target holds of the organization is
		// not in use (requests use the source): a leftover of an
		// earlier move stopped half-way. Start from nothing.
		if err := purge(ctx, dst, tenants); err != nil {
			return err
		}
		if mv.Total, _, err = rows(ctx, src, tenants); err != nil {
			return err
		}
		if err := m.save(ctx, &mv); err != nil {
			return err
		}
	}
	for mv.Phase == MoveCopying {
		// A pass resumed after a restart goes on from its cursor, adding
		// to its figures.
		// The sub-organizations' tenants come first, each in full, then
		// the organization's own from the cursor: a pass resumed with a
		// cursor has done the others.
		var err error
		if mv.Cursor == (datastore.Ref{}) {
			err = eachTenant(tenants[:len(tenants)-1], func(t datastore.Tenant) error {
				done, copied := mv.Done, mv.Copied
				_, err := datastore.Sync(ctx, t, src, dst, datastore.Ref{}, true, func(_ datastore.Ref, st datastore.SyncStats) error {
					mv.Done, mv.Copied = done+st.Checked, copied+st.Mismatched
					return m.save(ctx, &mv)
				})
				return err
			})
		}
		if err == nil {
			done, copied := mv.Done, mv.Copied
			_, err = datastore.Sync(ctx, own, src, dst, mv.Cursor, true, func(after datastore.Ref, st datastore.SyncStats) error {
				mv.Cursor, mv.Done, mv.Copied = after, done+st.Checked, copied+st.Mismatched
				return m.save(ctx, &mv)
			})
		}
		if err != nil {
			return m.fail(ctx, &mv, err)
		}
		if mv.Pass > 1 && mv.Copied <= catchUpEnough || mv.Pass >= maxPasses {
			mv.Phase = MoveFenced
		} else {
			mv.Pass++
		}
		mv.Cursor, mv.Done, mv.Copied = datastore.Ref{}, 0, 0
		if err := m.save(ctx, &mv); err != nil {
			return err
		}
	}
	if mv.Phase == MoveFenced {
		if err := m.fenceAndSwitch(ctx, &mv, tenants, src, dst); err != nil {
			return m.fail(ctx, &mv, err)
		}
	}
	if mv.Phase == MoveSwitched && live != mv.To {
		if err := m.switchTo(ctx, &mv); err != nil {
			return err
		}
	}
	if mv.Phase == MoveSwitched && !m.Now().Before(mv.SwitchedAt.Add(m.Grace)) {
		if err := purge(ctx, src, tenants); err != nil {
			return m.fail(ctx, &mv, err)
		}
		if err := fence(ctx, src, tenants, false); err != nil {
			return m.fail(ctx, &mv, err)
		}
		mv.Phase, mv.FinishedAt, mv.Error = MoveDone, m.Now(), ""
		m.Log.Info("live data moved between datastores", "org", mv.OrgID, "from", mv.From, "to", mv.To, "resources", mv.Total)
		return m.save(ctx, &mv)
	}
	return nil
}

// fenceAndSwitch is the move's last step: the source refuses the
// organization's writes, the last changes are copied, the copy is
// verified, and the live datastore switches to the target.
func (m *Mover) fenceAndSwitch(ctx context.Context, mv *Move, tenants []datastore.Tenant, src, dst *datastore.Store) error {
	if err := fence(ctx, src, tenants, true); err != nil {
		return err
	}
	var check datastore.SyncStats
	err := eachTenant(tenants, func(t datastore.Tenant) error {
		if _, err := datastore.Sync(ctx, t, src, dst, datastore.Ref{}, true, nil); err != nil {
			return err
		}
		c, err := datastore.Sync(ctx, t, src, dst, datastore.Ref{}, false, nil)
		check.Mismatched += c.Mismatched
		return err
	})
	if err != nil {
		return err
	}
	sr, sv, err := rows(ctx, src, tenants)
	if err != nil {
		return err
	}
	dr, dv, err := rows(ctx, dst, tenants)
	if err != nil {
		return err
	}
	if check.Mismatched > 0 || sr != dr || sv != dv {
		// Nothing writes the target yet, so this is not expected; copy
		// again rather than switch to a copy that differs.
		if err := fence(ctx, src, tenants, false); err != nil {
			return err
		}
		mv.Phase, mv.Pass = MoveCopying, mv.Pass+1
		mv.Error = fmt.Sprintf("verification found %d resources that differ (%d/%d resources, %d/%d versions); copying again", check.Mismatched, sr, dr, sv, dv)
		return m.save(ctx, mv)
	}
	// The phase is stored first: a move found switched makes sure the
	// live datastore is the target (switch), so a crash between the two
	// never runs another copy over writes the target already took.
	mv.Phase, mv.SwitchedAt, mv.Error = MoveSwitched, m.Now(), ""
	mv.Done, mv.Copied = sr, 0
	if err := m.save(ctx, mv); err != nil {
		return err
	}
	return m.switchTo(ctx, mv)
}

// switchTo makes the move's target the organization's live datastore,
// here and on every instance.
func (m *Mover) switchTo(ctx context.Context, mv *Move) error {
	if err := m.Store.SetLiveDatastore(ctx, mv.OrgID, mv.To, m.Now()); err != nil {
		return err
	}
	m.Changed(ctx, mv.OrgID)
	return nil
}

// save stores the move's progress and extends the claim.
func (m *Mover) save(ctx context.Context, mv *Move) error {
	mv.UpdatedAt = m.Now()
	return m.Store.SaveMove(ctx, *mv, m.holder, mv.UpdatedAt.Add(m.lease()))
}

// fail records a step's failure on the move (it is retried from where it
// stopped) and returns it.
func (m *Mover) fail(ctx context.Context, mv *Move, err error) error {
	if errs.Is(err, errs.Conflict) {
		return err // the claim was lost: another worker has the move
	}
	mv.Error = "the last step failed and will be retried"
	if serr := m.save(context.WithoutCancel(ctx), mv); serr != nil {
		m.Log.Warn("recording a move's failure failed", "org", mv.OrgID, "err", serr)
	}
	return err
}
