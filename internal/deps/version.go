package deps

import (
	"regexp"
	"strconv"
	"strings"
)

// version is a parsed PEP 440 version, enough to order releases: epoch,
// release numbers, and whether it is a pre-, post- or development
// release.
type version struct {
	text    string
	epoch   int
	release []int
	pre     bool // a, b, rc or dev: not a final release
	post    int
}

var versionRE = regexp.MustCompile(`(?i)^v?(?:(\d+)!)?(\d+(?:\.\d+)*)((?:[-_.]?(?:a|b|c|rc|alpha|beta|pre|preview)[-_.]?\d*)?)((?:-\d+|[-_.]?(?:post|rev|r)[-_.]?\d*)?)((?:[-_.]?dev[-_.]?\d*)?)(?:\+[a-z0-9.]+)?$`)

func parseVersion(s string) (version, bool) {
	m := versionRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return version{}, false
	}
	v := version{text: s}
	if m[1] != "" {
		v.epoch, _ = strconv.Atoi(m[1])
	}
	for _, p := range strings.Split(m[2], ".") {
		n, err := strconv.Atoi(p)
		if err != nil {
			return version{}, false
		}
		v.release = append(v.release, n)
	}
	v.pre = m[3] != "" || m[5] != ""
	if m[4] != "" {
		digits := strings.TrimLeft(strings.ToLower(m[4]), "-_.postrev")
		v.post, _ = strconv.Atoi(digits)
		v.post++
	}
	return v, true
}

// compare orders final releases (pre-releases are never compared here:
// version search skips them).
func (v version) compare(w version) int {
	if v.epoch != w.epoch {
		return v.epoch - w.epoch
	}
	for i := 0; i < max(len(v.release), len(w.release)); i++ {
		a, b := 0, 0
		if i < len(v.release) {
			a = v.release[i]
		}
		if i < len(w.release) {
			b = w.release[i]
		}
		if a != b {
			return a - b
		}
	}
	return v.post - w.post
}
