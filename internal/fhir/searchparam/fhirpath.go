package searchparam

import (
	"fmt"
	"strconv"
	"strings"
)

// This file parses the subset of FHIRPath (http://hl7.org/fhirpath/N1/)
// that search parameter expressions use: path navigation, unions, indexers,
// is/as, equality, comparison and boolean operators, literals, $this and a
// handful of functions (see funcs in eval.go).

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tString
	tNumber
	tOp   // punctuation and operators
	tVar  // $this, %resource …
	tWord // keyword operators: and or xor implies is as in contains div mod
)

type token struct {
	kind tokKind
	text string // identifier name, string value, operator or keyword
	pos  int    // byte offset of the first character
	end  int    // byte offset after the last character
}

var keywords = map[string]bool{
	"and": true, "or": true, "xor": true, "implies": true, "is": true,
	"as": true, "in": true, "contains": true, "div": true, "mod": true,
}

func lex(src string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '/' && i+1 < len(src) && src[i+1] == '/':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case isIdentStart(c):
			j := i + 1
			for j < len(src) && isIdentPart(src[j]) {
				j++
			}
			w := src[i:j]
			k := tIdent
			if keywords[w] {
				k = tWord
			}
			toks = append(toks, token{k, w, i, j})
			i = j
		case c == '`':
			j := strings.IndexByte(src[i+1:], '`')
			if j <= 0 {
				return nil, fmt.Errorf("unterminated identifier at %d", i)
			}
			toks = append(toks, token{tIdent, src[i+1 : i+1+j], i, i + j + 2})
			i += j + 2
		case c == '$' || c == '%':
			j := i + 1
			if c == '%' && j < len(src) && (src[j] == '\'' || src[j] == '`') {
				q := src[j]
				k := strings.IndexByte(src[j+1:], q)
				if k < 0 {
					return nil, fmt.Errorf("unterminated variable at %d", i)
				}
				toks = append(toks, token{tVar, "%" + src[j+1:j+1+k], i, j + k + 2})
				i = j + k + 2
				continue
			}
			for j < len(src) && isIdentPart(src[j]) {
				j++
			}
			if j == i+1 {
				return nil, fmt.Errorf("bad variable at %d", i)
			}
			toks = append(toks, token{tVar, src[i:j], i, j})
			i = j
		case c == '\'':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(src) {
					return nil, fmt.Errorf("unterminated string at %d", i)
				}
				if src[j] == '\'' {
					break
				}
				if src[j] == '\\' && j+1 < len(src) {
					j++
					switch src[j] {
					case 'n':
						b.WriteByte('\n')
					case 't':
						b.WriteByte('\t')
					case 'r':
						b.WriteByte('\r')
					case 'f':
						b.WriteByte('\f')
					default:
						b.WriteByte(src[j])
					}
					j++
					continue
				}
				b.WriteByte(src[j])
				j++
			}
			toks = append(toks, token{tString, b.String(), i, j + 1})
			i = j + 1
		case c >= '0' && c <= '9':
			j := i
			for j < len(src) && src[j] >= '0' && src[j] <= '9' {
				j++
			}
			if j+1 < len(src) && src[j] == '.' && src[j+1] >= '0' && src[j+1] <= '9' {
				j++
				for j < len(src) && src[j] >= '0' && src[j] <= '9' {
					j++
				}
			}
			toks = append(toks, token{tNumber, src[i:j], i, j})
			i = j
		default:
			op := ""
			if i+1 < len(src) {
				switch two := src[i : i+2]; two {
				case "!=", "!~", "<=", ">=":
					op = two
				}
			}
			if op == "" {
				switch c {
				case '.', ',', '(', ')', '[', ']', '{', '}', '|', '=', '~', '<', '>', '+', '-', '*', '/', '&':
					op = string(c)
				default:
					return nil, fmt.Errorf("unexpected %q at %d", c, i)
				}
			}
			toks = append(toks, token{tOp, op, i, i + len(op)})
			i += len(op)
		}
	}
	return append(toks, token{tEOF, "", len(src), len(src)}), nil
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isIdentPart(c byte) bool {
	return isIdentStart(c) || c >= '0' && c <= '9'
}

type nodeKind int

const (
	nIdent  nodeKind = iota // a name: member of the focus, or a type name filter
	nMember                 // target.name
	nFunc                   // [target.]name(args)
	nIndex                  // target[index]
	nBinary                 // left op right
	nUnary                  // op operand
	nTypeOp                 // left is/as Type
	nString                 // literal
	nNumber                 // literal
	nBool                   // literal
	nEmpty                  // {}
	nVar                    // $this, %resource, %context, %rootResource
	nParen                  // (inner)
)

// expr is a parsed FHIRPath expression. Spans index the source text.
type expr struct {
	kind   nodeKind
	name   string // identifier, function, operator or variable name; string value
	typ    string // nTypeOp: the type name
	num    float64
	bool   bool
	target *expr // nMember, nFunc (nil: the focus), nIndex, nTypeOp (left), nUnary, nParen
	args   []*expr
	left   *expr
	right  *expr
	pos    int
	end    int

	// Set by annotate on element names (nIdent, nMember) whose input has
	// the one static type inType: the element's type, or for a choice
	// element its variants (narrowed by a following ofType/as).
	inType   string
	elemType string
	choice   []variant
}

type parser struct {
	src  string
	toks []token
	i    int
}

// parse parses a FHIRPath expression.
func parse(src string) (*expr, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{src: src, toks: toks}
	e, err := p.expression(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, fmt.Errorf("unexpected %q at %d", t.text, t.pos)
	}
	return e, nil
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) expect(op string) (token, error) {
	t := p.next()
	if t.kind != tOp || t.text != op {
		if t.kind == tEOF {
			return t, fmt.Errorf("expected %q at end", op)
		}
		return t, fmt.Errorf("expected %q at %d, got %q", op, t.pos, t.text)
	}
	return t, nil
}

// Binary operator precedence, lowest first (FHIRPath §6 / appendix).
func binaryPrec(t token) int {
	switch t.kind {
	case tWord:
		switch t.text {
		case "implies":
			return 1
		case "or", "xor":
			return 2
		case "and":
			return 3
		case "in", "contains":
			return 4
		case "is", "as":
			return 8
		case "div", "mod":
			return 10
		}
	case tOp:
		switch t.text {
		case "=", "~", "!=", "!~":
			return 5
		case "<", ">", "<=", ">=":
			return 6
		case "|":
			return 7
		case "+", "-", "&":
			return 9
		case "*", "/":
			return 10
		}
	}
	return 0
}

func (p *parser) expression(minPrec int) (*expr, error) {
	left, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		prec := binaryPrec(t)
		if prec == 0 || prec <= minPrec {
			return left, nil
		}
		p.next()
		if t.kind == tWord && (t.text == "is" || t.text == "as") {
			name, end, err := p.typeSpecifier()
			if err != nil {
				return nil, err
			}
			left = &expr{kind: nTypeOp, name: t.text, typ: name, target: left, pos: left.pos, end: end}
			continue
		}
		right, err := p.expression(prec)
		if err != nil {
			return nil, err
		}
		left = &expr{kind: nBinary, name: t.text, left: left, right: right, pos: left.pos, end: right.end}
	}
}

func (p *parser) typeSpecifier() (string, int, error) {
	t := p.next()
	if t.kind != tIdent {
		return "", 0, fmt.Errorf("expected a type name at %d", t.pos)
	}
	name, end := t.text, t.end
	for p.peek().kind == tOp && p.peek().text == "." && p.toks[p.i+1].kind == tIdent {
		p.next()
		t = p.next()
		name += "." + t.text
		end = t.end
	}
	return name, end, nil
}

func (p *parser) unary() (*expr, error) {
	t := p.peek()
	if t.kind == tOp && (t.text == "-" || t.text == "+") {
		p.next()
		e, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &expr{kind: nUnary, name: t.text, target: e, pos: t.pos, end: e.end}, nil
	}
	return p.postfix()
}

func (p *parser) postfix() (*expr, error) {
	e, err := p.term()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind != tOp {
			return e, nil
		}
		switch t.text {
		case ".":
			p.next()
			n := p.next()
			if n.kind != tIdent && n.kind != tWord {
				return nil, fmt.Errorf("expected a name after '.' at %d", n.pos)
			}
			if p.peek().kind == tOp && p.peek().text == "(" {
				f, err := p.call(n, e)
				if err != nil {
					return nil, err
				}
				e = f
			} else {
				e = &expr{kind: nMember, name: n.text, target: e, pos: e.pos, end: n.end}
			}
		case "[":
			p.next()
			idx, err := p.expression(0)
			if err != nil {
				return nil, err
			}
			c, err := p.expect("]")
			if err != nil {
				return nil, err
			}
			e = &expr{kind: nIndex, target: e, args: []*expr{idx}, pos: e.pos, end: c.end}
		default:
			return e, nil
		}
	}
}

// call parses name(args…) after name; target is nil for a call on the focus.
func (p *parser) call(name token, target *expr) (*expr, error) {
	if _, err := p.expect("("); err != nil {
		return nil, err
	}
	f := &expr{kind: nFunc, name: name.text, target: target, pos: name.pos}
	if target != nil {
		f.pos = target.pos
	}
	if t := p.peek(); t.kind == tOp && t.text == ")" {
		p.next()
		f.end = t.end
		return f, nil
	}
	for {
		// Type arguments (ofType(Quantity), as(FHIR.Period)) parse as
		// ordinary expressions: identifiers and member chains.
		a, err := p.expression(0)
		if err != nil {
			return nil, err
		}
		f.args = append(f.args, a)
		t := p.next()
		if t.kind == tOp && t.text == ")" {
			f.end = t.end
			return f, nil
		}
		if t.kind != tOp || t.text != "," {
			return nil, fmt.Errorf("expected ',' or ')' at %d", t.pos)
		}
	}
}

func (p *parser) term() (*expr, error) {
	t := p.next()
	switch t.kind {
	case tIdent, tWord:
		if t.kind == tWord && t.text != "contains" && t.text != "in" && t.text != "as" && t.text != "is" {
			return nil, fmt.Errorf("unexpected %q at %d", t.text, t.pos)
		}
		if nt := p.peek(); nt.kind == tOp && nt.text == "(" {
			return p.call(t, nil)
		}
		switch t.text {
		case "true", "false":
			return &expr{kind: nBool, bool: t.text == "true", pos: t.pos, end: t.end}, nil
		}
		return &expr{kind: nIdent, name: t.text, pos: t.pos, end: t.end}, nil
	case tString:
		return &expr{kind: nString, name: t.text, pos: t.pos, end: t.end}, nil
	case tNumber:
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return nil, fmt.Errorf("bad number at %d", t.pos)
		}
		return &expr{kind: nNumber, num: f, name: t.text, pos: t.pos, end: t.end}, nil
	case tVar:
		switch t.text {
		case "$this", "%resource", "%rootResource", "%context":
			return &expr{kind: nVar, name: t.text, pos: t.pos, end: t.end}, nil
		}
		return nil, fmt.Errorf("unsupported variable %s at %d", t.text, t.pos)
	case tOp:
		switch t.text {
		case "(":
			inner, err := p.expression(0)
			if err != nil {
				return nil, err
			}
			c, err := p.expect(")")
			if err != nil {
				return nil, err
			}
			return &expr{kind: nParen, target: inner, pos: t.pos, end: c.end}, nil
		case "{":
			c, err := p.expect("}")
			if err != nil {
				return nil, err
			}
			return &expr{kind: nEmpty, pos: t.pos, end: c.end}, nil
		}
	case tEOF:
		return nil, fmt.Errorf("unexpected end of expression")
	}
	return nil, fmt.Errorf("unexpected %q at %d", t.text, t.pos)
}

// unionParts flattens top-level unions into their operands, in order.
func unionParts(e *expr, out []*expr) []*expr {
	if e.kind == nBinary && e.name == "|" {
		out = unionParts(e.left, out)
		return unionParts(e.right, out)
	}
	return append(out, e)
}

// rootName is the first name of a path: "Patient" for
// "(Patient.deceased.ofType(dateTime))" or "Patient.name.given".
func rootName(e *expr) string {
	for e != nil {
		switch e.kind {
		case nIdent:
			return e.name
		case nMember, nIndex, nUnary, nParen, nTypeOp:
			e = e.target
		case nFunc:
			if e.target == nil {
				return ""
			}
			e = e.target
		case nBinary:
			e = e.left
		default:
			return ""
		}
	}
	return ""
}
