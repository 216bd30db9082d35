package analytics

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/clinikapi/clinikapi/internal/usage"
)

// LogFilter selects an organization's request records, newest first.
type LogFilter struct {
	OrgID       string
	StatusClass int // 2, 4 or 5; 0 for any
	Method      string
	Route       string
	KeyID       string
	RequestID   string
	BeforeID    int64     // exclusive; 0 for the newest
	Since       time.Time // zero: any time
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

// Request returns one record of orgID.
func (s *Service) Request(ctx context.Context, orgID string, id int64) (usage.Record, error) {
	return s.Store.FindUsage(ctx, orgID, id)
}
