package session

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/sandbox"
)

// maxWalk bounds how many entries a listing or a snapshot visits: the
// sandbox controls how many files there are.
const maxWalk = 20000

// ErrBadPath is wrapped by errors about paths outside the workspace.
var ErrBadPath = errors.New("bad workspace path")

// Workspace is a session's working directory, seen from the host. Every
// access resolves beneath it: the sandbox controls its contents, symlinks
// included, so no path may lead out.
type Workspace struct {
	dir      *os.File // O_PATH handle; it keeps the workspace reachable
	uid, gid int      // host IDs of the sandbox user
}

// FileInfo describes one file in a workspace.
type FileInfo struct {
	// Path is the file's name; one that is not valid UTF-8 shows its
	// invalid bytes as U+FFFD here, and comes whole in PathB64.
	Path string `json:"path" doc:"The path, relative to the workspace. A name that is not valid UTF-8 (code can make such names) shows U+FFFD for its invalid bytes here: use path_b64 to name it."`
	// PathB64 is the path's bytes in base64 (standard, padded), set only
	// when they are not valid UTF-8.
	PathB64 string `json:"path_b64,omitempty" doc:"Only for a name that is not valid UTF-8: its bytes, in standard base64. Give it as path_b64 to download or delete the file."`
	Size    int64  `json:"size"`
	IsDir   bool   `json:"is_dir,omitempty"`
	Mode    string `json:"mode"`
	// ModTime is in Unix nanoseconds.
	ModTime int64 `json:"mtime"`
}

func openWorkspace(p *sandbox.Process) (*Workspace, error) {
	fd, err := unix.Open(p.Workspace(), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("session: open workspace: %w", err)
	}
	uid, gid := p.HostIDs()
	return &Workspace{dir: os.NewFile(uintptr(fd), "workspace"), uid: uid, gid: gid}, nil
}

// Close releases the workspace handle.
func (w *Workspace) Close() error { return w.dir.Close() }

// root is a path through which the workspace can be walked without
// following symlinks out of it.
// The trailing slash makes the walk enter the magic link.
func (w *Workspace) root() string { return fmt.Sprintf("/proc/self/fd/%d/", w.dir.Fd()) }

// asSandboxUser runs f on a thread whose filesystem IDs are the sandbox
// user's. The workspace belongs to the sandbox's user namespace, where the
// host's root has no ID: the kernel refuses to create files for it there.
func (w *Workspace) asSandboxUser(f func() error) error {
	runtime.LockOSThread()
	oldUID, _ := unix.SetfsuidRetUid(w.uid)
	oldGID, _ := unix.SetfsgidRetGid(w.gid)
	err := f()
	_, errG := unix.SetfsgidRetGid(oldGID)
	_, errU := unix.SetfsuidRetUid(oldUID)
	if errG == nil && errU == nil {
		// Only a thread whose IDs were restored may go back to the pool.
		runtime.UnlockOSThread()
	}
	return err
}

// CleanPath checks a workspace-relative path from a user or a model and
// returns it cleaned. Absolute paths, "..", NUL bytes and invalid UTF-8 are
// refused.
func CleanPath(p string) (string, error) { return cleanPath(p, true) }

// CleanExistingPath is CleanPath for a path that names an existing file,
// which may be any bytes the sandboxed code chose: invalid UTF-8 is
// allowed (see FileInfo.PathB64).
func CleanExistingPath(p string) (string, error) { return cleanPath(p, false) }

func cleanPath(p string, utf8Only bool) (string, error) {
	switch {
	case p == "":
		return "", fmt.Errorf("%w: empty path", ErrBadPath)
	case len(p) > 4096:
		return "", fmt.Errorf("%w: path longer than 4096 bytes", ErrBadPath)
	case utf8Only && !utf8.ValidString(p):
		return "", fmt.Errorf("%w: path is not valid UTF-8", ErrBadPath)
	case strings.ContainsRune(p, 0):
		return "", fmt.Errorf("%w: path contains a NUL byte", ErrBadPath)
	case strings.HasPrefix(p, "/"):
		return "", fmt.Errorf("%w: %q is absolute; give a path relative to the workspace", ErrBadPath, p)
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return "", fmt.Errorf("%w: %q leaves the workspace", ErrBadPath, p)
		}
	}
	c := path.Clean(p)
	if c == "." {
		return "", fmt.Errorf("%w: %q names the workspace itself", ErrBadPath, p)
	}
	return c, nil
}

// open opens name beneath the workspace. Symlinks are followed only while
// they stay inside.
func (w *Workspace) open(name string, flags int, mode uint32) (*os.File, error) {
	fd, err := unix.Openat2(int(w.dir.Fd()), name, &unix.OpenHow{
		Flags:   uint64(flags | unix.O_CLOEXEC),
		Mode:    uint64(mode),
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
	})
	if errors.Is(err, unix.EXDEV) {
		return nil, fmt.Errorf("%w: %q points outside the workspace", ErrBadPath, name)
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return os.NewFile(uintptr(fd), name), nil
}

// Read returns the contents of a regular file of at most max bytes.
func (w *Workspace) Read(name string, max int64) ([]byte, error) {
	f, _, err := w.Open(name, max)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s grew over the %d-byte limit while being read", name, max)
	}
	return b, err
}

// Open opens a regular file of the workspace for reading, as the sandbox
// user, refusing one larger than max bytes, and returns it with its size.
// The sandbox may still write to it: readers that must not exceed the size
// stop there.
func (w *Workspace) Open(name string, max int64) (*os.File, int64, error) {
	name, err := CleanExistingPath(name)
	if err != nil {
		return nil, 0, err
	}
	f, err := w.open(name, unix.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("%s is not a regular file", name)
	}
	if fi.Size() > max {
		f.Close()
		return nil, 0, fmt.Errorf("%s is %d bytes, over the %d-byte limit", name, fi.Size(), max)
	}
	return f, fi.Size(), nil
}

// Write stores r's contents, at most max bytes, as name, creating parent
// directories. The file appears whole or not at all.
func (w *Workspace) Write(name string, r io.Reader, max int64) (n int64, err error) {
	name, err = CleanPath(name)
	if err != nil {
		return 0, err
	}
	err = w.asSandboxUser(func() error {
		n, err = w.write(name, r, max)
		return err
	})
	return n, err
}

func (w *Workspace) write(name string, r io.Reader, max int64) (int64, error) {
	if err := w.mkdirAll(path.Dir(name)); err != nil {
		return 0, err
	}
	// Refuse to replace a symlink that points out of the workspace: the
	// caller meant the file it names.
	if f, err := w.open(name, unix.O_PATH, 0); err == nil {
		f.Close()
	} else if errors.Is(err, ErrBadPath) {
		return 0, err
	}
	tmp := path.Join(path.Dir(name), fmt.Sprintf(".%s.interp-upload-%d", path.Base(name), os.Getpid()))
	f, err := w.open(tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_NOFOLLOW, 0o644)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, io.LimitReader(r, max+1))
	if err == nil && n > max {
		err = fmt.Errorf("upload is over the %d-byte limit", max)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = w.rename(tmp, name)
	}
	if err != nil {
		_ = w.remove(tmp)
		return 0, fmt.Errorf("write %s: %w", name, err)
	}
	return n, nil
}

func (w *Workspace) mkdirAll(dir string) error {
	if dir == "." {
		return nil
	}
	cur := ""
	for _, part := range strings.Split(dir, "/") {
		cur = path.Join(cur, part)
		parent, err := w.open(path.Dir(cur), unix.O_PATH|unix.O_DIRECTORY, 0)
		if err != nil {
			return err
		}
		err = unix.Mkdirat(int(parent.Fd()), part, 0o755)
		parent.Close()
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("create directory %s: %w", cur, err)
		}
	}
	return nil
}

func (w *Workspace) rename(from, to string) error {
	fd, err := w.open(path.Dir(to), unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		return err
	}
	defer fd.Close()
	return unix.Renameat(int(fd.Fd()), path.Base(from), int(fd.Fd()), path.Base(to))
}

func (w *Workspace) remove(name string) error {
	dir, err := w.open(path.Dir(name), unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		return err
	}
	defer dir.Close()
	err = unix.Unlinkat(int(dir.Fd()), path.Base(name), 0)
	if errors.Is(err, unix.EISDIR) {
		err = unix.Unlinkat(int(dir.Fd()), path.Base(name), unix.AT_REMOVEDIR)
	}
	if err != nil {
		return &fs.PathError{Op: "remove", Path: name, Err: err}
	}
	return nil
}

// Delete removes a file or an empty directory.
func (w *Workspace) Delete(name string) error {
	name, err := CleanExistingPath(name)
	if err != nil {
		return err
	}
	return w.asSandboxUser(func() error { return w.remove(name) })
}

// List returns every file and directory in the workspace, sorted by path.
func (w *Workspace) List() ([]FileInfo, error) {
	var out []FileInfo
	err := w.walk(func(rel string, fi fs.FileInfo) {
		info := FileInfo{Path: rel, Size: fi.Size(), IsDir: fi.IsDir(), Mode: fi.Mode().String(), ModTime: fi.ModTime().UnixNano()}
		if !utf8.ValidString(rel) {
			info.PathB64 = base64.StdEncoding.EncodeToString([]byte(rel))
		}
		out = append(out, info)
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, err
}

// walk calls fn for every entry below the workspace, at most maxWalk,
// with the entry's own (never a symlink's target's) information.
func (w *Workspace) walk(fn func(rel string, fi fs.FileInfo)) error {
	root := w.root()
	n := 0
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // a file vanished while listing
		}
		if p == root {
			return nil
		}
		if n >= maxWalk {
			return fs.SkipAll
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		n++
		fn(strings.TrimPrefix(p, root), fi)
		return nil
	})
}

// Usage returns the bytes the workspace's files take. A sandbox's
// workspace is a tmpfs of its own, whose usage the kernel keeps, so this
// costs one system call however many files there are; elsewhere (the
// unsafe backend) it adds up the files.
func (w *Workspace) Usage() (int64, error) {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(w.dir.Fd()), &st); err != nil {
		return 0, fmt.Errorf("workspace usage: %w", err)
	}
	if st.Type == unix.TMPFS_MAGIC {
		return int64(st.Blocks-st.Bfree) * st.Bsize, nil
	}
	var n int64
	err := w.walk(func(_ string, fi fs.FileInfo) {
		if fi.Mode().IsRegular() {
			n += fi.Size()
		}
	})
	return n, err
}

// stamp identifies one version of a file.
type stamp struct {
	size, mtime int64
	ino         uint64
}

func (w *Workspace) snapshot() map[string]stamp {
	snap := make(map[string]stamp)
	// One walk, taking the inode from the same lstat: this runs twice a
	// cell.
	_ = w.walk(func(rel string, fi fs.FileInfo) {
		if fi.IsDir() {
			return
		}
		st := stamp{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
		if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
			st.ino = sys.Ino
		}
		snap[rel] = st
	})
	return snap
}

// diff reports files created, changed and deleted since before.
func (w *Workspace) diff(before map[string]stamp) []Event {
	after := w.snapshot()
	var evs []Event
	for p, s := range after {
		old, ok := before[p]
		switch {
		case !ok:
			evs = append(evs, Event{Type: event.File, Path: p, Size: s.size, Change: event.Created})
		case old != s:
			evs = append(evs, Event{Type: event.File, Path: p, Size: s.size, Change: event.Modified})
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			evs = append(evs, Event{Type: event.File, Path: p, Change: event.Deleted})
		}
	}
	sort.Slice(evs, func(i, j int) bool { return evs[i].Path < evs[j].Path })
	return evs
}

// copyWorkspace copies every file, directory and symlink of from into to.
// It is how a session that crashed keeps its files in a new sandbox: the
// old workspace stays reachable through its handle after its sandbox dies.
func copyWorkspace(from, to *Workspace) error {
	return to.asSandboxUser(func() error { return copyFiles(from, to) })
}

func copyFiles(from, to *Workspace) error {
	files, err := from.List()
	if err != nil {
		return err
	}
	for _, f := range files {
		switch {
		case f.IsDir:
			if err := to.mkdirAll(f.Path); err != nil {
				return err
			}
		case strings.HasPrefix(f.Mode, "L"):
			target, err := os.Readlink(from.root() + f.Path)
			if err != nil {
				continue
			}
			if err := to.mkdirAll(path.Dir(f.Path)); err != nil {
				return err
			}
			parent, err := to.open(path.Dir(f.Path), unix.O_PATH|unix.O_DIRECTORY, 0)
			if err != nil {
				return err
			}
			err = unix.Symlinkat(target, int(parent.Fd()), path.Base(f.Path))
			parent.Close()
			if err != nil && !errors.Is(err, unix.EEXIST) {
				return err
			}
		case strings.HasPrefix(f.Mode, "-"):
			src, err := from.open(f.Path, unix.O_RDONLY|unix.O_NOFOLLOW, 0)
			if err != nil {
				continue // vanished
			}
			_, err = to.write(f.Path, src, 1<<40)
			src.Close()
			if err != nil {
				return err
			}
		}
	}
	return nil
}
