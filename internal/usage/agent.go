package usage

import "strings"

// AgentFamily is the product name of a User-Agent header: "curl" for
// curl/8.5.0, "node" for node, "browser" for a web browser (Mozilla/…),
// at most 32 characters of letters, digits and -._ — never the whole
// string, which can identify a person's machine.
func AgentFamily(ua string) string {
	if ua == "" {
		return ""
	}
	name, _, _ := strings.Cut(ua, "/")
	name, _, _ = strings.Cut(name, " ")
	if name == "Mozilla" || name == "Opera" {
		return "browser"
	}
	b := make([]byte, 0, min(len(name), 32))
	for i := 0; i < len(name) && len(b) < 32; i++ {
		c := name[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' {
			b = append(b, c)
		}
	}
	if len(b) == 0 {
		return "other"
	}
	return string(b)
}
