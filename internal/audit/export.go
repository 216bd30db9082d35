package audit

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ReadExport reads the events of an audit export, NDJSON or (isCSV) CSV.
func ReadExport(f io.Reader, isCSV bool) ([]Event, error) {
	var recs []ExportRecord
	var err error
	if isCSV {
		recs, err = readCSV(f)
	} else {
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 64*1024), 4<<20)
		for line := 1; sc.Scan(); line++ {
			if len(strings.TrimSpace(sc.Text())) == 0 {
				continue
			}
			var r ExportRecord
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				return nil, fmt.Errorf("line %d: %w", line, err)
			}
			recs = append(recs, r)
		}
		err = sc.Err()
	}
	if err != nil {
		return nil, err
	}
	es := make([]Event, 0, len(recs))
	for _, r := range recs {
		e, err := r.Event()
		if err != nil {
			return nil, err
		}
		es = append(es, e)
	}
	return es, nil
}

// readCSV reads the CSV export: a header naming ExportColumns,
// cells that the export guarded against formula injection unguarded again.
func readCSV(r io.Reader) ([]ExportRecord, error) {
	cr := csv.NewReader(r)
	head, err := cr.Read()
	if err != nil {
		return nil, err
	}
	col := map[string]int{}
	for i, h := range head {
		col[h] = i
	}
	for _, need := range []string{"time", "chain", "seq", "id", "actor_type", "actor_id", "action", "target_type", "target_id", "ip", "user_agent", "outcome", "detail_json", "prev_hash", "hash"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("the CSV has no %q column: export it again from this version", need)
		}
	}
	var out []ExportRecord
	for {
		row, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		cell := func(name string) string { return UnguardCell(row[col[name]]) }
		seq, _ := strconv.ParseInt(cell("seq"), 10, 64)
		rec := ExportRecord{Time: cell("time"), Chain: cell("chain"), Seq: seq, ID: cell("id"), ActorType: cell("actor_type"),
			ActorID: cell("actor_id"), Action: cell("action"), TargetType: cell("target_type"), TargetID: cell("target_id"),
			IP: cell("ip"), UserAgent: cell("user_agent"), Outcome: cell("outcome"), PrevHash: cell("prev_hash"), Hash: cell("hash")}
		if d := cell("detail_json"); d != "" {
			if err := json.Unmarshal([]byte(d), &rec.Detail); err != nil {
				return nil, fmt.Errorf("event %s: detail_json: %w", rec.ID, err)
			}
		}
		out = append(out, rec)
	}
}
