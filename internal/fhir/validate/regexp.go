package validate

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// JSON Schema says a "pattern" is an ECMA-262 regular expression; the FHIR
// schema's patterns were written for it. Go's regexp (RE2) reads most of that
// syntax the same way, but not all of it, and some of what it accepts means
// something else. compileECMA translates the ECMAScript pattern into RE2
// syntax first:
//
//   - `.` → any character except \n, \r, U+2028, U+2029 (as in ECMAScript;
//     RE2's `.` only excludes \n);
//   - `\uXXXX` → `\x{XXXX}`; `\cX` → the control character; `\0` → NUL;
//   - `[^]` (any character) and `[]` (nothing), which RE2 rejects;
//   - `\b` inside a class is a backspace; identity escapes of letters RE2 does
//     not know (`\a` is BEL in RE2 but "a" in ECMAScript) become the letter;
//   - `\s` and `\S` (below);
//   - `[` inside a class is a literal (RE2 would start a POSIX class `[:…:]`);
//   - `(?<name>…)` → `(?P<name>…)`;
//   - lookaround (`(?=`, `(?!`, `(?<=`, `(?<!`) and backreferences (`\1`,
//     `\k<name>`) cannot be expressed in RE2: the pattern is rejected, so the
//     schema fails to compile instead of silently not checking something.
//
// Whitespace: ECMAScript's \s is Unicode-wide (it includes U+00A0 NO-BREAK
// SPACE, U+2000–U+200A, U+3000, U+FEFF, …); RE2's is [\t\n\f\r ]. The FHIR
// primitive patterns come from the spec's XML-Schema-based definitions, where
// \s is [ \t\n\r], and the reference Java validator uses Java's [ \t\n\x0B\f\r].
// We use that Java/POSIX set, [\t\n\v\f\r ]: a vertical tab or form feed in a
// string is rejected (as by Java and JavaScript), while a no-break space in a
// name, common in copy-pasted text and accepted by HAPI, is not.
const (
	spaceClass    = `\t\n\v\f\r `                       // inside [...]
	nonSpaceClass = `\x00-\x08\x0e-\x1f\x21-\x{10FFFF}` // inside [...]
	dotClass      = `[^\n\r\x{2028}\x{2029}]`
)

// ecmaRegexp is a compiled pattern that reports the schema's own pattern
// text as its String.
type ecmaRegexp struct {
	re     *regexp.Regexp
	source string
}

func (r *ecmaRegexp) MatchString(s string) bool { return r.re.MatchString(s) }
func (r *ecmaRegexp) String() string            { return r.source }

// compileECMA is the jsonschema.RegexpEngine used for every pattern.
func compileECMA(pattern string) (jsonschema.Regexp, error) {
	tr, err := translateECMA(pattern)
	if err != nil {
		return nil, err
	}
	re, err := regexp.Compile(tr)
	if err != nil {
		return nil, fmt.Errorf("pattern %q (as RE2 %q): %w", pattern, tr, err)
	}
	return &ecmaRegexp{re: re, source: pattern}, nil
}

var errUnsupported = errors.New("not expressible in RE2")

// translateECMA rewrites an ECMAScript (no flags) pattern into RE2 syntax.
func translateECMA(p string) (string, error) {
	var b strings.Builder
	b.Grow(len(p) + 16)
	inClass := false
	unsupported := func(what string) (string, error) {
		return "", fmt.Errorf("pattern %q: %s is %w", p, what, errUnsupported)
	}
	for i := 0; i < len(p); {
		c := p[i]
		switch {
		case c == '\\':
			if i+1 >= len(p) {
				return "", fmt.Errorf("pattern %q: trailing backslash", p)
			}
			n, size := utf8.DecodeRuneInString(p[i+1:])
			i += 1 + size
			switch n {
			case 's':
				if inClass {
					b.WriteString(spaceClass)
				} else {
					b.WriteString("[" + spaceClass + "]")
				}
			case 'S':
				if inClass {
					b.WriteString(nonSpaceClass)
				} else {
					b.WriteString("[" + nonSpaceClass + "]")
				}
			case 'd', 'D', 'w', 'W', 't', 'n', 'r', 'f', 'v':
				b.WriteByte('\\')
				b.WriteRune(n)
			case 'b', 'B':
				if inClass {
					if n == 'B' {
						return unsupported(`\B in a class`)
					}
					b.WriteString(`\x08`)
				} else {
					b.WriteByte('\\')
					b.WriteRune(n)
				}
			case 'p', 'P':
				// Only meaningful with the u flag; RE2 reads it the same way.
				b.WriteByte('\\')
				b.WriteRune(n)
			case 'u':
				if i+4 <= len(p) && isHex(p[i:i+4]) {
					cp, _ := strconv.ParseUint(p[i:i+4], 16, 32)
					writeCodePoint(&b, rune(cp))
					i += 4
				} else {
					b.WriteByte('u')
				}
			case 'x':
				if i+2 <= len(p) && isHex(p[i:i+2]) {
					b.WriteString(`\x` + p[i:i+2])
					i += 2
				} else {
					b.WriteByte('x')
				}
			case 'c':
				if i < len(p) && isASCIILetter(p[i]) {
					writeCodePoint(&b, rune(p[i]%32))
					i++
				} else {
					b.WriteString(`\\c`)
				}
			case '0':
				if i < len(p) && p[i] >= '0' && p[i] <= '9' {
					return unsupported("an octal escape")
				}
				b.WriteString(`\x00`)
			case '1', '2', '3', '4', '5', '6', '7', '8', '9':
				return unsupported("a backreference")
			case 'k':
				if i < len(p) && p[i] == '<' {
					return unsupported("a named backreference")
				}
				b.WriteByte('k')
			default:
				// Identity escape: the character itself. RE2 accepts an
				// escaped ASCII punctuation character (and needs it for
				// "\-" or "\]" in a class); a letter stands for itself.
				if n < utf8.RuneSelf && !isASCIILetter(byte(n)) && !(n >= '0' && n <= '9') {
					b.WriteByte('\\')
					b.WriteRune(n)
				} else {
					b.WriteRune(n)
				}
			}
		case inClass:
			switch c {
			case ']':
				inClass = false
				b.WriteByte(']')
			case '[':
				b.WriteString(`\[`)
			default:
				b.WriteByte(c)
			}
			i++
		default:
			switch {
			case strings.HasPrefix(p[i:], "[^]"):
				b.WriteString(`[\x00-\x{10FFFF}]`)
				i += 3
			case strings.HasPrefix(p[i:], "[]"):
				b.WriteString(`[^\x00-\x{10FFFF}]`)
				i += 2
			case c == '[':
				inClass = true
				b.WriteByte('[')
				i++
				if i < len(p) && p[i] == '^' {
					b.WriteByte('^')
					i++
				}
				// A ']' right after '[' or '[^' closed the class in ECMAScript
				// ("[]" and "[^]" are handled above), so nothing else to do.
			case c == '.':
				b.WriteString(dotClass)
				i++
			case strings.HasPrefix(p[i:], "(?="), strings.HasPrefix(p[i:], "(?!"),
				strings.HasPrefix(p[i:], "(?<="), strings.HasPrefix(p[i:], "(?<!"):
				return unsupported("lookaround")
			case strings.HasPrefix(p[i:], "(?<"):
				b.WriteString("(?P<")
				i += 3
			default:
				b.WriteByte(c)
				i++
			}
		}
	}
	if inClass {
		return "", fmt.Errorf("pattern %q: unterminated character class", p)
	}
	return b.String(), nil
}

func writeCodePoint(b *strings.Builder, r rune) {
	fmt.Fprintf(b, `\x{%x}`, r)
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func isASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
