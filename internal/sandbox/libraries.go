package sandbox

import (
	"debug/elf"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// Libraries returns the files the dynamic loader would map to run the ELF
// files at paths: their interpreter and the shared libraries they need,
// directly or through each other, found as the loader finds them (RPATH or
// RUNPATH with $ORIGIN, /etc/ld.so.conf, the default directories). The
// files at paths themselves are not listed; files that are not ELF, and
// libraries this host lacks, are skipped: the program would fail in the
// same way outside a sandbox.
//
// A sandbox shows only the system files its Spec lists, and this is how a
// caller lists what a program's libraries are, rather than by hand.
func Libraries(paths ...string) []string {
	l := libraryFinder{dirs: loaderDirs(), seen: map[string]bool{}}
	for _, p := range paths {
		if strings.Contains(p, "/") {
			l.walk(p, false)
			continue
		}
		for _, d := range l.dirs {
			if q := filepath.Join(d, p); isELF(q, hostClass) {
				l.walk(q, true)
				break
			}
		}
	}
	return l.out
}

// hostClass is the ELF class of this host's own programs.
var hostClass = map[int]elf.Class{32: elf.ELFCLASS32, 64: elf.ELFCLASS64}[strconv.IntSize]

type libraryFinder struct {
	dirs []string
	seen map[string]bool
	out  []string
}

func (l *libraryFinder) walk(path string, isDep bool) {
	real, err := filepath.EvalSymlinks(path)
	if err != nil || l.seen[real] {
		return
	}
	l.seen[real] = true
	if isDep {
		l.out = append(l.out, path)
	}
	f, err := elf.Open(real)
	if err != nil {
		return
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err == nil {
				l.walk(strings.TrimRight(string(b), "\x00"), true)
			}
		}
	}
	needed, _ := f.DynString(elf.DT_NEEDED)
	if len(needed) == 0 {
		return
	}
	var search []string
	runpath, _ := f.DynString(elf.DT_RUNPATH)
	if len(runpath) == 0 {
		runpath, _ = f.DynString(elf.DT_RPATH)
	}
	for _, rp := range runpath {
		for _, d := range strings.Split(rp, ":") {
			d = strings.ReplaceAll(strings.ReplaceAll(d, "${ORIGIN}", "$ORIGIN"), "$ORIGIN", filepath.Dir(real))
			search = append(search, d)
		}
	}
	search = append(search, l.dirs...)
	for _, name := range needed {
		if strings.Contains(name, "/") {
			l.walk(name, true)
			continue
		}
		for _, d := range search {
			if p := filepath.Join(d, name); isELF(p, f.Class) {
				l.walk(p, true)
				break
			}
		}
	}
}

// isELF reports whether p is an ELF file of the given class: a 64-bit
// program skips the 32-bit libraries of a multilib directory.
func isELF(p string, c elf.Class) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	var ident [elf.EI_CLASS + 1]byte
	if _, err := io.ReadFull(f, ident[:]); err != nil {
		return false
	}
	return string(ident[:4]) == elf.ELFMAG && elf.Class(ident[elf.EI_CLASS]) == c
}

// loaderDirs lists the directories the dynamic loader searches: those of
// /etc/ld.so.conf and its includes, then the defaults.
func loaderDirs() []string {
	var dirs []string
	readLoaderConf("/etc/ld.so.conf", &dirs, 0)
	triplet := map[string]string{"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}[runtime.GOARCH]
	for _, d := range []string{"/lib/" + triplet, "/usr/lib/" + triplet, "/lib64", "/usr/lib64", "/lib", "/usr/lib"} {
		if !strings.HasSuffix(d, "/") {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

func readLoaderConf(path string, dirs *[]string, depth int) {
	b, err := os.ReadFile(path)
	if err != nil || depth > 4 {
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		line, _, _ = strings.Cut(line, "#")
		line = strings.TrimSpace(line)
		if inc, ok := strings.CutPrefix(line, "include"); ok && inc != "" && (inc[0] == ' ' || inc[0] == '\t') {
			pattern := strings.TrimSpace(inc)
			if !filepath.IsAbs(pattern) {
				pattern = filepath.Join(filepath.Dir(path), pattern)
			}
			matches, _ := filepath.Glob(pattern)
			for _, m := range matches {
				readLoaderConf(m, dirs, depth+1)
			}
			continue
		}
		if filepath.IsAbs(line) {
			*dirs = append(*dirs, line)
		}
	}
}
