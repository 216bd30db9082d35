package analytics

import (
	"context"
	"encoding/base64"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/clinikapi/clinikapi/internal/usage"
)

// LogFilter selects an organization's request records, newest first.
type LogFilter struct {
	OrgID       string
	StatusClass int  // 2, 4 or 5; 0 for any
	Errors      bool // 4xx and 5xx only
	Method      string
	Route       string
	KeyID       string
	Tenant      string // as in Query: a sub-organization's id, the organization's id, or "" for all
	RequestID   string
	Env         string    // "test" or "live"; "" for both
	Code        string    // error code (NOT_FOUND, RATE_LIMITED, …); "" for any
	From, To    time.Time // created at From or later and before To; zero for no bound
	BeforeID    int64     // exclusive; 0 for the newest
	Limit       int
}

// EncodeCursor makes the opaque cursor that continues after record id.
func EncodeCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("u:" + strconv.FormatInt(id, 10)))
}

// DecodeCursor reads a cursor; a bad one restarts at the newest record.
func DecodeCursor(c string) int64 {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !strings.HasPrefix(string(b), "u:") {
		return 0
	}
	id, err := strconv.ParseInt(string(b[2:]), 10, 64)
	if err != nil || id < 0 {
		return 0
	}
	return id
}

// RequestLog lists records for f and the cursor of the next page ("" at
// the end).
func (s *Service) RequestLog(ctx context.Context, f LogFilter) ([]usage.Record, string, error) {
	if f.Limit <= 0 || f.Limit > 100 {
		f.Limit = 50
	}
	want := f.Limit
	f.Limit++
	rs, err := s.Store.ListUsage(ctx, f)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(rs) > want {
		rs = rs[:want]
		next = EncodeCursor(rs[len(rs)-1].ID)
	}
	return rs, next, nil
}

// EachRequest calls fn for every record f selects, newest first, page by
// page (f.Limit is the page size), and stops after max records (0: no
// bound); more reports that records were left at the bound.
func (s *Service) EachRequest(ctx context.Context, f LogFilter, max int, fn func(usage.Record) error) (more bool, err error) {
	f.Limit = 100
	n := 0
	for {
		page, next, err := s.RequestLog(ctx, f)
		if err != nil {
			return false, err
		}
		for _, r := range page {
			if max > 0 && n == max {
				return true, nil
			}
			if err := fn(r); err != nil {
				return false, err
			}
			n++
		}
		if next == "" {
			return false, nil
		}
		f.BeforeID = DecodeCursor(next)
	}
}

// Request returns one record of orgID.
func (s *Service) Request(ctx context.Context, orgID string, id int64) (usage.Record, error) {
	return s.Store.FindUsage(ctx, orgID, id)
}

// CodeCount is how many requests were refused with one error code.
type CodeCount struct {
	Code     string
	Status   int // the code's HTTP status (the highest seen, should it vary)
	Requests int64
}

// ErrorCodes counts the requests of q's range refused with each error code
// (NOT_FOUND, VALIDATION_ERROR, RATE_LIMITED, …), most frequent first, from
// the raw records (kept 90 days, as long as the longest range).
func (s *Service) ErrorCodes(ctx context.Context, q Query) ([]CodeCount, error) {
	cs, err := s.Store.CountUsageCodes(ctx, q)
	if err != nil {
		return nil, err
	}
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].Requests != cs[j].Requests {
			return cs[i].Requests > cs[j].Requests
		}
		return cs[i].Code < cs[j].Code
	})
	return cs, nil
}
