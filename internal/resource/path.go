package resource

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// A path is a list of segments: name, name[3], name[key=value] or
// name[key^=prefix].
type segment struct {
	name  string
	index int // -1: none
	sel   *selector
}

type selector struct {
	key    []string // dotted path inside the element, arrays flattened
	prefix bool     // ^= rather than =
	value  string
}

func (s segment) array() bool { return s.index >= 0 || s.sel != nil }

var (
	pathMu    sync.Mutex
	pathCache = map[string][]segment{}
)

// parsePath parses a field path; paths come from declarations, so a bad one
// is a programming error that the package's tests catch.
func parsePath(p string) ([]segment, error) {
	pathMu.Lock()
	defer pathMu.Unlock()
	if s, ok := pathCache[p]; ok {
		return s, nil
	}
	var segs []segment
	rest := p
	for rest != "" {
		// A segment ends at a dot outside brackets.
		end, depth := len(rest), 0
		for i := 0; i < len(rest); i++ {
			switch rest[i] {
			case '[':
				depth++
			case ']':
				depth--
			case '.':
				if depth == 0 {
					end = i
				}
			}
			if end != len(rest) {
				break
			}
		}
		raw := rest[:end]
		if end < len(rest) {
			rest = rest[end+1:]
			if rest == "" {
				return nil, fmt.Errorf("path %q ends with a dot", p)
			}
		} else {
			rest = ""
		}
		seg := segment{name: raw, index: -1}
		if i := strings.IndexByte(raw, '['); i >= 0 {
			if !strings.HasSuffix(raw, "]") {
				return nil, fmt.Errorf("path %q: unclosed bracket", p)
			}
			seg.name = raw[:i]
			inner := raw[i+1 : len(raw)-1]
			if n, err := strconv.Atoi(inner); err == nil {
				if n < 0 {
					return nil, fmt.Errorf("path %q: negative index", p)
				}
				seg.index = n
			} else {
				sel := &selector{}
				k, v, ok := strings.Cut(inner, "^=")
				if ok {
					sel.prefix = true
				} else if k, v, ok = strings.Cut(inner, "="); !ok {
					return nil, fmt.Errorf("path %q: bad selector %q", p, inner)
				}
				if k == "" || v == "" {
					return nil, fmt.Errorf("path %q: empty selector", p)
				}
				sel.key, sel.value = strings.Split(k, "."), v
				seg.sel = sel
			}
		}
		if seg.name == "" {
			return nil, fmt.Errorf("path %q: empty element name", p)
		}
		segs = append(segs, seg)
	}
	if len(segs) == 0 {
		return nil, fmt.Errorf("empty path")
	}
	pathCache[p] = segs
	return segs, nil
}

func mustPath(p string) []segment {
	s, err := parsePath(p)
	if err != nil {
		panic("resource: " + err.Error())
	}
	return s
}

// collect returns the values at a dotted key inside v, arrays flattened.
func collect(v any, key []string) []any {
	if len(key) == 0 {
		if arr, ok := v.([]any); ok {
			return arr
		}
		return []any{v}
	}
	switch x := v.(type) {
	case map[string]any:
		return collect(x[key[0]], key[1:])
	case []any:
		var out []any
		for _, e := range x {
			out = append(out, collect(e, key)...)
		}
		return out
	}
	return nil
}

func (s *selector) matches(elem any) bool {
	for _, v := range collect(elem, s.key) {
		str, ok := v.(string)
		if !ok {
			continue
		}
		if s.prefix && strings.HasPrefix(str, s.value) || !s.prefix && str == s.value {
			return true
		}
	}
	return false
}

// fresh is a new element for a selector: {key: value} for a one-name key
// with =, else empty (the value written fills it in).
func (s *selector) fresh() map[string]any {
	if !s.prefix && len(s.key) == 1 {
		return map[string]any{s.key[0]: s.value}
	}
	return map[string]any{}
}

// residue reports whether an element holds nothing but its selector key.
func (s *selector) residue(elem map[string]any) bool {
	if s.prefix || len(s.key) != 1 {
		return len(elem) == 0
	}
	_, has := elem[s.key[0]]
	return len(elem) == 0 || len(elem) == 1 && has
}

// get returns the value at path (the first match of a selector).
func get(root map[string]any, segs []segment) any {
	var cur any = root
	for _, s := range segs {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		v := obj[s.name]
		switch {
		case s.index >= 0:
			arr, _ := v.([]any)
			if s.index >= len(arr) {
				return nil
			}
			cur = arr[s.index]
		case s.sel != nil:
			arr, _ := v.([]any)
			cur = nil
			for _, e := range arr {
				if s.sel.matches(e) {
					cur = e
					break
				}
			}
		default:
			cur = v
		}
		if cur == nil {
			return nil
		}
	}
	return cur
}

// getAll returns the elements a List owns: the array at path, or its
// elements that match the last segment's selector.
func getAll(root map[string]any, segs []segment) []any {
	last := segs[len(segs)-1]
	parent := root
	if len(segs) > 1 {
		p, ok := get(root, segs[:len(segs)-1]).(map[string]any)
		if !ok {
			return nil
		}
		parent = p
	}
	arr, _ := parent[last.name].([]any)
	if last.sel == nil {
		return arr
	}
	var out []any
	for _, e := range arr {
		if last.sel.matches(e) {
			out = append(out, e)
		}
	}
	return out
}

// set writes v at path, creating what is missing on the way.
func set(obj map[string]any, segs []segment, v any) {
	s, last := segs[0], len(segs) == 1
	if !s.array() {
		if last {
			obj[s.name] = v
			return
		}
		child, ok := obj[s.name].(map[string]any)
		if !ok {
			child = map[string]any{}
			obj[s.name] = child
		}
		set(child, segs[1:], v)
		return
	}
	arr, _ := obj[s.name].([]any)
	k := -1
	if s.index >= 0 {
		for len(arr) <= s.index {
			arr = append(arr, map[string]any{})
		}
		k = s.index
	} else {
		for i, e := range arr {
			if s.sel.matches(e) {
				k = i
				break
			}
		}
		if k < 0 {
			arr = append(arr, s.sel.fresh())
			k = len(arr) - 1
		}
	}
	if last {
		arr[k] = v
	} else {
		child, ok := arr[k].(map[string]any)
		if !ok {
			child = map[string]any{}
			arr[k] = child
		}
		set(child, segs[1:], v)
	}
	obj[s.name] = arr
}

// setAll replaces the elements a List owns with items.
func setAll(obj map[string]any, segs []segment, items []any) {
	removePath(obj, segs)
	if len(items) == 0 {
		return
	}
	if len(segs) > 1 {
		parent, ok := get(obj, segs[:len(segs)-1]).(map[string]any)
		if !ok {
			parent = map[string]any{}
			set(obj, segs[:len(segs)-1], parent)
		}
		obj = parent
	}
	name := segs[len(segs)-1].name
	arr, _ := obj[name].([]any)
	obj[name] = append(arr, items...)
}

// removePath removes what is at path (every match of a selector), and the
// containers left empty by it.
func removePath(obj map[string]any, segs []segment) {
	s, last := segs[0], len(segs) == 1
	v, ok := obj[s.name]
	if !ok {
		return
	}
	if !s.array() {
		if last {
			delete(obj, s.name)
			return
		}
		if child, ok := v.(map[string]any); ok {
			removePath(child, segs[1:])
			if len(child) == 0 {
				delete(obj, s.name)
			}
		}
		return
	}
	arr, ok := v.([]any)
	if !ok {
		return
	}
	out := arr[:0:0]
	for i, e := range arr {
		hit := s.index == i || s.sel != nil && s.sel.matches(e)
		if !hit {
			out = append(out, e)
			continue
		}
		if last {
			continue
		}
		child, ok := e.(map[string]any)
		if !ok {
			out = append(out, e)
			continue
		}
		removePath(child, segs[1:])
		if len(child) == 0 || s.sel != nil && s.sel.residue(child) {
			continue
		}
		out = append(out, child)
	}
	if len(out) == 0 {
		delete(obj, s.name)
	} else {
		obj[s.name] = out
	}
}
