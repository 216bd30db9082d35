package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The audit trail is a hash chain per organization: every event carries
// its position in its organization's chain (Seq, from 1), the hash of the
// event before it (PrevHash, "" for the first) and its own Hash, computed
// by ChainHash over PrevHash and every stored field. Changing an event
// changes its hash, so the next event's PrevHash no longer matches;
// removing one leaves a gap in the positions; moving one changes its
// position, which is hashed. The newest events are covered by the chain's
// head (the last position and hash, kept apart from the events).
// README, "Tamper-evident audit trail", gives the recipe for auditors.

// ChainVersion starts every hashed input, naming the recipe.
const ChainVersion = "clinikapi-audit-v1"

// TimeLayout is how an event's time is hashed (and exported): UTC, six
// fractional digits (the stored precision).
const TimeLayout = "2006-01-02T15:04:05.000000Z"

// ChainID is the chain an event belongs to: its organization, or "" for
// account events outside any organization.
func (e Event) ChainID() string { return e.OrgID }

// ChainHash is the hash of e at its position e.Seq after an event whose
// hash is prev: lowercase hex SHA-256 of ChainVersion and a newline,
// then each field as its length in bytes (decimal), a colon, its bytes
// and a newline: prev, chain id, seq (decimal), id, actor type, actor
// id, action, target type, target id, IP, user agent, outcome, time
// (TimeLayout), the number of detail entries (decimal), then each detail
// key and its value, keys in byte order.
func ChainHash(prev string, e Event) string {
	h := sha256.New()
	buf := make([]byte, 0, 512)
	buf = append(buf, ChainVersion...)
	buf = append(buf, '\n')
	field := func(s string) {
		buf = strconv.AppendInt(buf, int64(len(s)), 10)
		buf = append(buf, ':')
		buf = append(buf, s...)
		buf = append(buf, '\n')
	}
	field(prev)
	field(e.ChainID())
	field(strconv.FormatInt(e.Seq, 10))
	field(e.ID)
	field(string(e.ActorType))
	field(e.ActorID)
	field(e.Action)
	field(e.TargetType)
	field(e.TargetID)
	field(e.IP)
	field(e.UserAgent)
	field(string(e.Outcome))
	field(e.CreatedAt.UTC().Truncate(time.Microsecond).Format(TimeLayout))
	keys := make([]string, 0, len(e.Detail))
	for k := range e.Detail {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	field(strconv.Itoa(len(keys)))
	for _, k := range keys {
		field(k)
		field(e.Detail[k])
	}
	h.Write(buf)
	return hex.EncodeToString(h.Sum(nil))
}

// Head is the newest position and hash of one chain.
type Head struct {
	ChainID string
	Seq     int64
	Hash    string
}

// ChainStore reads the chains back for verification.
type ChainStore interface {
	// AuditChainHeads lists every chain's head.
	AuditChainHeads(ctx context.Context) ([]Head, error)
	// AuditChain returns up to limit events of a chain after position
	// after, in chain order.
	AuditChain(ctx context.Context, chainID string, after int64, limit int) ([]Event, error)
	// UnchainedAuditEvents counts events written before the chain existed
	// that are not chained yet.
	UnchainedAuditEvents(ctx context.Context) (int64, error)
}

// Problem is one break found in a chain.
type Problem struct {
	ChainID string
	Seq     int64  // the position where the break shows
	EventID string // the event there, if any
	What    string
}

func (p Problem) String() string {
	chain := p.ChainID
	if chain == "" {
		chain = "(account events)"
	}
	s := "chain " + chain + " at position " + strconv.FormatInt(p.Seq, 10)
	if p.EventID != "" {
		s += " (" + p.EventID + ")"
	}
	return s + ": " + p.What
}

// Checker walks one chain's events in order and reports every break.
// Complete says whether the events are the whole chain (the database) or
// a selection of it (a filtered export): in a selection, gaps are events
// left out, and only consecutive positions are checked against each other.
type Checker struct {
	ChainID  string
	Complete bool
	Problems []Problem
	Checked  int64

	last     int64
	lastHash string
}

// Add checks the next event of the chain (in position order).
func (c *Checker) Add(e Event) {
	c.Checked++
	bad := func(what string) {
		c.Problems = append(c.Problems, Problem{ChainID: c.ChainID, Seq: e.Seq, EventID: e.ID, What: what})
	}
	switch {
	case e.Seq <= c.last:
		bad("position repeated or out of order")
	case e.Seq != c.last+1 && c.Complete:
		bad(fmt.Sprintf("events %d to %d are missing (deleted)", c.last+1, e.Seq-1))
	case e.Seq == c.last+1 && e.PrevHash != c.lastHash && (c.Complete || c.last > 0):
		bad("does not follow the event before it (an event was changed, removed or moved)")
	}
	if got := ChainHash(e.PrevHash, e); got != e.Hash {
		bad("its content does not match its hash (changed)")
	}
	c.last, c.lastHash = e.Seq, e.Hash
}

// End checks the chain's end against its head.
func (c *Checker) End(h Head) {
	switch {
	case c.last < h.Seq:
		c.Problems = append(c.Problems, Problem{ChainID: c.ChainID, Seq: c.last + 1,
			What: fmt.Sprintf("events %d to %d are missing (the newest ones were deleted)", c.last+1, h.Seq)})
	case c.last > h.Seq:
		c.Problems = append(c.Problems, Problem{ChainID: c.ChainID, Seq: h.Seq + 1, What: "events past the chain's head (added outside the trail)"})
	case c.lastHash != h.Hash:
		c.Problems = append(c.Problems, Problem{ChainID: c.ChainID, Seq: c.last, What: "the newest event does not match the chain's head (changed)"})
	}
}

// VerifyReport is what Verify found.
type VerifyReport struct {
	Chains    int
	Events    int64
	Unchained int64
	Problems  []Problem
}

// Verify checks every chain in the store, reading batch events at a time.
func Verify(ctx context.Context, st ChainStore, batch int) (VerifyReport, error) {
	var r VerifyReport
	heads, err := st.AuditChainHeads(ctx)
	if err != nil {
		return r, err
	}
	if r.Unchained, err = st.UnchainedAuditEvents(ctx); err != nil {
		return r, err
	}
	for _, h := range heads {
		c := &Checker{ChainID: h.ChainID, Complete: true}
		var after int64
		for {
			es, err := st.AuditChain(ctx, h.ChainID, after, batch)
			if err != nil {
				return r, err
			}
			for _, e := range es {
				c.Add(e)
			}
			if len(es) < batch {
				break
			}
			after = es[len(es)-1].Seq
		}
		c.End(h)
		r.Chains++
		r.Events += c.Checked
		r.Problems = append(r.Problems, c.Problems...)
	}
	return r, nil
}

// ExportRecord is one event of an audit export (NDJSON line, or CSV row
// with ExportColumns), carrying its chain so that an auditor can check it
// without the database (clinikapi admin verify-audit --file).
type ExportRecord struct {
	Time       string            `json:"time"`
	Chain      string            `json:"chain"` // organization id, "" for account events
	Seq        int64             `json:"seq"`
	ID         string            `json:"id"`
	ActorType  string            `json:"actorType"`
	ActorID    string            `json:"actorId"`
	Actor      string            `json:"actor"` // display name, not hashed
	Action     string            `json:"action"`
	TargetType string            `json:"targetType"`
	TargetID   string            `json:"targetId"`
	IP         string            `json:"ip"`
	UserAgent  string            `json:"userAgent"`
	Outcome    string            `json:"outcome"`
	Detail     map[string]string `json:"detail,omitempty"`
	PrevHash   string            `json:"prevHash"`
	Hash       string            `json:"hash"`
}

// Export is e as an export record; actor is its display name.
func Export(e Event, actor string) ExportRecord {
	return ExportRecord{Time: e.CreatedAt.UTC().Format(TimeLayout), Chain: e.ChainID(), Seq: e.Seq, ID: e.ID,
		ActorType: string(e.ActorType), ActorID: e.ActorID, Actor: actor, Action: e.Action, TargetType: e.TargetType,
		TargetID: e.TargetID, IP: e.IP, UserAgent: e.UserAgent, Outcome: string(e.Outcome), Detail: e.Detail,
		PrevHash: e.PrevHash, Hash: e.Hash}
}

// Event is the event an export record stands for.
func (r ExportRecord) Event() (Event, error) {
	t, err := time.Parse(TimeLayout, r.Time)
	if err != nil {
		return Event{}, fmt.Errorf("event %s: time %q: %w", r.ID, r.Time, err)
	}
	return Event{ID: r.ID, OrgID: r.Chain, ActorType: ActorType(r.ActorType), ActorID: r.ActorID, Action: r.Action,
		TargetType: r.TargetType, TargetID: r.TargetID, IP: r.IP, UserAgent: r.UserAgent, Outcome: Outcome(r.Outcome),
		Detail: r.Detail, CreatedAt: t, Seq: r.Seq, PrevHash: r.PrevHash, Hash: r.Hash}, nil
}

// VerifyExport checks the events of an export (any order, any filter):
// each against its hash, and each against the one before it where the
// export holds both. Events from before the chain (no hash) are counted,
// not checked.
func VerifyExport(es []Event) VerifyReport {
	var r VerifyReport
	byChain := map[string][]Event{}
	var chains []string
	for _, e := range es {
		if e.Hash == "" {
			r.Unchained++
			continue
		}
		if _, ok := byChain[e.ChainID()]; !ok {
			chains = append(chains, e.ChainID())
		}
		byChain[e.ChainID()] = append(byChain[e.ChainID()], e)
	}
	slices.Sort(chains)
	for _, id := range chains {
		es := byChain[id]
		slices.SortFunc(es, func(a, b Event) int { return int(a.Seq - b.Seq) })
		c := &Checker{ChainID: id}
		for _, e := range es {
			c.Add(e)
		}
		r.Chains++
		r.Events += c.Checked
		r.Problems = append(r.Problems, c.Problems...)
	}
	return r
}

// GuardCell makes a CSV cell safe to open in a spreadsheet: a cell that
// begins with = + - @, a tab or a carriage return would be read as a
// formula (CSV injection; a User-Agent header is enough to plant one), so
// it gets a leading apostrophe, which spreadsheets show as text. A cell
// that begins with an apostrophe gets one too, so UnguardCell can always
// give the value back.
func GuardCell(c string) string {
	if c != "" && strings.ContainsRune("=+-@\t\r'", rune(c[0])) {
		return "'" + c
	}
	return c
}

// UnguardCell is the value GuardCell was given.
func UnguardCell(c string) string {
	if len(c) > 1 && c[0] == '\'' && strings.ContainsRune("=+-@\t\r'", rune(c[1])) {
		return c[1:]
	}
	return c
}

// ExportColumns are the CSV export's columns.
var ExportColumns = []string{"time", "actor_type", "actor_id", "actor", "action", "target_type", "target_id", "ip", "user_agent", "outcome", "detail",
	"chain", "seq", "id", "detail_json", "prev_hash", "hash"}

// CSV is r as a row of ExportColumns, every cell guarded.
func (r ExportRecord) CSV() []string {
	detail := ""
	if len(r.Detail) > 0 {
		b, _ := json.Marshal(r.Detail)
		detail = string(b)
	}
	cells := []string{r.Time, r.ActorType, r.ActorID, r.Actor, r.Action, r.TargetType, r.TargetID, r.IP, r.UserAgent, r.Outcome,
		DetailString(r.Detail), r.Chain, strconv.FormatInt(r.Seq, 10), r.ID, detail, r.PrevHash, r.Hash}
	for i, c := range cells {
		cells[i] = GuardCell(c)
	}
	return cells
}

// DetailString shows a detail as key=value pairs, keys in order.
func DetailString(d map[string]string) string {
	if len(d) == 0 {
		return ""
	}
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + d[k]
	}
	return strings.Join(parts, " ")
}
