package python

import (
	"os"
	"path/filepath"

	"github.com/interp-dev/interp/internal/sandbox"
)

// Sandboxes show only the host's system files a runtime needs, listed in
// Runtime.ReadOnly; this derives that list from the runtime itself.

// manylinuxLibraries are the system libraries a manylinux wheel may link
// against (PEP 600 and auditwheel's policy), less those of X11, OpenGL
// and GLib, which a sandbox without a display has no use for; a wheel
// bundles any other.
// Wheels are all Interp installs, so these, with the interpreter's own
// libraries, are all that the base environment's extension modules and
// those installed later can need. TestRuntimeSeesItsLibraries checks this
// against every extension module of the base environment.
var manylinuxLibraries = []string{
	"libc.so.6", "libm.so.6", "libdl.so.2", "librt.so.1", "libpthread.so.0",
	"libutil.so.1", "libresolv.so.2", "libnsl.so.1", "libcrypt.so.1",
	"libgcc_s.so.1", "libstdc++.so.6", "libz.so.1", "libexpat.so.1",
}

// shellTools are the programs notebook-style code runs from its shell
// escapes (`!ls`, `%%bash`, subprocess): a POSIX shell and the common
// file and text tools, with nothing that reaches the network or the
// system's administration.
var shellTools = []string{
	"sh", "bash", "ls", "cat", "echo", "env", "true", "false", "pwd", "head", "tail",
	"wc", "grep", "sed", "sort", "uniq", "cut", "tr", "tee", "xargs", "find", "mkdir",
	"rm", "rmdir", "cp", "mv", "touch", "ln", "chmod", "stat", "du", "date", "sleep",
	"uname", "id", "whoami", "basename", "dirname", "readlink", "realpath", "diff",
	"which", "gzip", "tar",
}

// systemData are the data files any runtime uses: time zones, fonts and
// their configuration, the CA certificates /etc/ssl links to, OpenSSL's
// directory and the C.UTF-8 locale.
var systemData = []string{
	"/usr/share/zoneinfo", "/usr/share/fonts", "/usr/share/fontconfig",
	"/usr/share/ca-certificates", "/usr/lib/ssl", "/usr/lib/locale/C.utf8",
}

// systemPaths lists what a sandbox must show of the host's system
// directories to run exe: the interpreter (through its symlinks, which the
// sandbox copies), its standard library, the shared libraries of the
// interpreter, of the standard library's extension modules and of
// manylinux wheels, the shell tools, and systemData.
func systemPaths(exe string, bare bool) []string {
	real, err := filepath.EvalSymlinks(exe)
	if err != nil {
		return nil
	}
	paths := []string{exe, real}
	elfs := []string{real}
	// The standard library of the installation the interpreter belongs to:
	// /usr/bin/python3.11 uses /usr/lib/python3.11.
	stdlib := filepath.Join(filepath.Dir(filepath.Dir(real)), "lib", filepath.Base(real))
	if _, err := os.Stat(filepath.Join(stdlib, "os.py")); err == nil {
		paths = append(paths, stdlib)
		mods, _ := filepath.Glob(filepath.Join(stdlib, "lib-dynload", "*.so"))
		elfs = append(elfs, mods...)
	}
	if bare {
		// A system Python without a base environment uses the
		// distribution's packages (never /usr/local's).
		if d := filepath.Join(filepath.Dir(filepath.Dir(real)), "lib", "python3", "dist-packages"); isDir(d) {
			paths = append(paths, d)
		}
	}
	for _, t := range shellTools {
		for _, d := range []string{"/usr/bin", "/bin"} {
			if p := filepath.Join(d, t); isExecutable(p) {
				paths = append(paths, p)
				elfs = append(elfs, p)
				break
			}
		}
	}
	paths = append(paths, sandbox.Libraries(append(elfs, manylinuxLibraries...)...)...)
	for _, d := range systemData {
		if _, err := os.Stat(d); err == nil {
			paths = append(paths, d)
		}
	}
	return paths
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// Toolchain lists what a sandbox must also show for a C compiler to
// build an extension module from an sdist: the compiler drivers, the
// binutils, GCC's own programs and libraries, the C headers (Python's
// among them) and the system's libraries to link against. Only build
// sandboxes show it; sessions never do.
func Toolchain() []string {
	var paths []string
	for _, d := range []string{"/usr/include", "/usr/lib/gcc", "/usr/libexec/gcc"} {
		if isDir(d) {
			paths = append(paths, d)
		}
	}
	if libc := sandbox.Libraries("libc.so.6"); len(libc) > 0 {
		if real, err := filepath.EvalSymlinks(libc[0]); err == nil {
			paths = append(paths, filepath.Dir(real)) // crt1.o, libc.so and the -l libraries
		}
	}
	var tools []string
	for _, t := range []string{"cc", "c++", "gcc", "g++", "cpp", "as", "ld", "ld.bfd", "ld.gold", "ar", "ranlib", "strip", "nm", "pkg-config", "make"} {
		tools = append(tools, filepath.Join("/usr/bin", t))
	}
	prefixed, _ := filepath.Glob("/usr/bin/*-linux-gnu-*")
	for _, p := range append(tools, prefixed...) {
		if isExecutable(p) {
			paths = append(paths, p)
		}
	}
	return paths
}
