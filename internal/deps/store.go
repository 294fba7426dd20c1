package deps

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/interp-dev/interp/internal/event"
	"github.com/interp-dev/interp/internal/session"
)

// Store is the content-addressed store of installed distributions that
// every session shares, so that a heavy package such as torch is unpacked
// once, not once per session.
//
// Each entry is one distribution as it lies in a site-packages directory,
// unpacked by uv, under entries/<key>, where key is the SHA-256 of the
// distribution's RECORD (which lists the SHA-256 of every file it
// installs). A session's package directory is made of hard links into
// the store: installing a stored distribution for a session costs a walk
// of its files, and no space. Entries are sealed: owned by root (when
// Interp runs as root; a sandbox's user is never root on the host),
// without write permission, and a session sees its package directory
// read-only; nothing of the store is mounted in a sandbox, so a session
// sees only what it installed itself.
//
// Layout:
//
//	entries/<key>/   a sealed entry
//	refs/<ref>       the key of what uv installs for one name==version
//	                 from one index for one Python (see refKey)
//	tmp/             unpacks in progress; removed under the exclusive lock
//	.lock            flock: installs hold it shared, eviction exclusive
//
// Crash safety: an entry is assembled in tmp/ and renamed into entries/
// whole, after a syncfs, so a half-written entry is never under entries/;
// a ref is written after its entry, by a rename too.
//
// Each entry's dist-info holds a file named INTERP_STORE that is linked
// into every package directory using the entry, so its link count less one
// is the number of package directories using the entry: eviction never
// removes an entry while that count is above zero.
type Store struct {
	// Dir is the store's root directory. It must be on the same file
	// system as the sessions' package directories for hard links; across
	// file systems files are copied.
	Dir string
	// Limits bound the store: after an install that added entries, the
	// least recently used entries that no package directory links to are
	// evicted down to MaxBytes (and those unused for MaxAge). Zero fields
	// mean no bound.
	Limits CacheLimits

	// beforeSeal, when set by a test, runs in commit after an entry's
	// files are in place and before it is sealed and published.
	beforeSeal func(tmp string)
}

// DefaultStoreLimits bound a Store unless configured.
var DefaultStoreLimits = CacheLimits{MaxBytes: 20 << 30, MaxAge: 60 * 24 * time.Hour}

// storeMarker is the file in each entry's dist-info whose link count
// counts the package directories using the entry.
const storeMarker = "INTERP_STORE"

func (s *Store) entriesDir() string { return filepath.Join(s.Dir, "entries") }
func (s *Store) refsDir() string    { return filepath.Join(s.Dir, "refs") }
func (s *Store) tmpDir() string     { return filepath.Join(s.Dir, "tmp") }

// init creates the store's directories.
func (s *Store) init() error {
	for _, d := range []string{s.Dir, s.entriesDir(), s.refsDir(), s.tmpDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("package store: %w", err)
		}
	}
	return nil
}

// lock takes the store's lock, shared or exclusive; with wait false it
// returns ErrCacheBusy rather than wait.
func (s *Store) lock(ctx context.Context, exclusive, wait bool) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(s.Dir, ".lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("package store: %w", err)
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	for {
		err = syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !wait {
			f.Close()
			return nil, ErrCacheBusy
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// refKey names what uv installs for name==version from index for the
// interpreter python: the same request always gives the same wheel.
func refKey(index, python, name, version string) string {
	sum := sha256.Sum256([]byte(index + "\x00" + python + "\x00" + Normalize(name) + "\x00" + version))
	return hex.EncodeToString(sum[:16])
}

// lookup returns the entry a ref names, if both exist.
func (s *Store) lookup(ref string) (string, bool) {
	key, err := os.ReadFile(filepath.Join(s.refsDir(), ref))
	if err != nil || !validKey(string(key)) {
		return "", false
	}
	entry := filepath.Join(s.entriesDir(), string(key))
	if _, err := os.Stat(entry); err != nil {
		return "", false
	}
	return entry, true
}

func validKey(k string) bool {
	if len(k) != 64 {
		return false
	}
	_, err := hex.DecodeString(k)
	return err == nil
}

// writeRef records that ref is the entry key, atomically.
func (s *Store) writeRef(ref, key string) error {
	f, err := os.CreateTemp(s.refsDir(), ".ref-")
	if err != nil {
		return err
	}
	_, err = f.WriteString(key)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(s.refsDir(), ref))
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// commit turns what uv unpacked into target into sealed entries, one per
// distribution, and returns them by normalized name. Files are moved, not
// copied; what no RECORD lists is left behind in target.
func (s *Store) commit(target string) (map[string]string, error) {
	infos, _ := filepath.Glob(filepath.Join(target, "*.dist-info"))
	made := make(map[string]string, len(infos))
	for _, di := range infos {
		name, _, _ := strings.Cut(filepath.Base(di), "-")
		record, err := os.ReadFile(filepath.Join(di, "RECORD"))
		if err != nil {
			return nil, fmt.Errorf("package store: %s has no RECORD: %w", filepath.Base(di), err)
		}
		files, err := recordFiles(record)
		if err != nil {
			return nil, fmt.Errorf("package store: the RECORD of %s: %w", filepath.Base(di), err)
		}
		sum := sha256.Sum256(record)
		key := hex.EncodeToString(sum[:])
		tmp, err := os.MkdirTemp(s.tmpDir(), "entry-")
		if err != nil {
			return nil, err
		}
		if err := moveFiles(target, tmp, files); err != nil {
			removeTree(tmp)
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(tmp, filepath.Base(di), storeMarker), []byte(key+"\n"), 0o444); err != nil {
			removeTree(tmp)
			return nil, err
		}
		if s.beforeSeal != nil {
			s.beforeSeal(tmp)
		}
		entry := filepath.Join(s.entriesDir(), key)
		if err := seal(tmp); err != nil {
			removeTree(tmp)
			return nil, err
		}
		if err := os.Rename(tmp, entry); err != nil {
			// Another install stored the same distribution first.
			removeTree(tmp)
			if _, serr := os.Stat(entry); serr != nil {
				return nil, fmt.Errorf("package store: %w", err)
			}
		}
		made[Normalize(name)] = entry
	}
	return made, nil
}

// recordFiles returns the paths a RECORD lists that lie inside the
// package directory; a RECORD is a wheel's data and untrusted.
func recordFiles(record []byte) ([]string, error) {
	r := csv.NewReader(strings.NewReader(string(record)))
	r.FieldsPerRecord = -1
	var files []string
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return files, nil
		}
		if err != nil {
			return nil, err
		}
		if len(rec) == 0 || rec[0] == "" {
			continue
		}
		p := filepath.Clean(filepath.FromSlash(rec[0]))
		if filepath.IsAbs(p) || p == "." || p == ".." || strings.HasPrefix(p, ".."+string(filepath.Separator)) {
			continue
		}
		files = append(files, p)
	}
}

// moveFiles moves the regular files named (relative) from src to dst.
func moveFiles(src, dst string, files []string) error {
	for _, rel := range files {
		from := filepath.Join(src, rel)
		fi, err := os.Lstat(from)
		if err != nil || !fi.Mode().IsRegular() {
			continue // listed but not there (or not a file): nothing to keep
		}
		to := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return err
		}
		if err := os.Rename(from, to); err != nil {
			return fmt.Errorf("package store: %w", err)
		}
	}
	return nil
}

// seal makes an assembled entry read-only and, when Interp is root,
// root's, then flushes it to disk so that the rename that publishes it
// never publishes files still unwritten.
func seal(dir string) error {
	root := os.Geteuid() == 0
	var dirs []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if root {
			if err := os.Lchown(p, 0, 0); err != nil {
				return err
			}
		}
		if d.IsDir() {
			dirs = append(dirs, p)
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		return os.Chmod(p, fi.Mode().Perm()&^0o222)
	})
	if err != nil {
		return fmt.Errorf("package store: seal: %w", err)
	}
	// Directories last, deepest first, so that each stays writable while
	// its contents are sealed. The top stays writable for the rename.
	for i := len(dirs) - 1; i > 0; i-- {
		if err := os.Chmod(dirs[i], 0o555); err != nil {
			return err
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("package store: sync: %w", err)
	}
	return nil
}

// removeTree removes dir even where seal took write permission away.
func removeTree(dir string) {
	if err := os.RemoveAll(dir); err == nil {
		return
	}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o755)
		}
		return nil
	})
	_ = os.RemoveAll(dir)
}

// link makes entry's distribution part of the package directory site:
// it removes another version of the same distribution from site, then
// hard-links every file of the entry into it (copying across file
// systems), and marks the entry used now.
func link(entry, site string) error {
	infos, _ := filepath.Glob(filepath.Join(entry, "*.dist-info"))
	if len(infos) != 1 {
		return fmt.Errorf("package store: %s is not one distribution", entry)
	}
	name, _, _ := strings.Cut(filepath.Base(infos[0]), "-")
	if err := unlinkDist(site, name); err != nil {
		return err
	}
	err := filepath.WalkDir(entry, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(entry, p)
		dst := filepath.Join(site, rel)
		if d.IsDir() {
			if rel == "." {
				return nil
			}
			if err := os.Mkdir(dst, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
			return nil
		}
		err = os.Link(p, dst)
		if errors.Is(err, fs.ErrExist) {
			// A file two distributions share (a namespace's __init__.py):
			// the last one wins, as with pip.
			if err = os.Remove(dst); err == nil {
				err = os.Link(p, dst)
			}
		}
		if errors.Is(err, syscall.EXDEV) {
			err = copyFile(p, dst)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("package store: link %s: %w", filepath.Base(infos[0]), err)
	}
	now := time.Now()
	_ = os.Chtimes(entry, now, now)
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fi.Mode().Perm())
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// unlinkDist removes every version of the distribution name (as a
// dist-info directory spells it) from site: the files its RECORD lists,
// then the directories that leaves empty.
func unlinkDist(site, name string) error {
	infos, _ := filepath.Glob(filepath.Join(site, "*.dist-info"))
	for _, di := range infos {
		n, _, _ := strings.Cut(filepath.Base(di), "-")
		if Normalize(n) != Normalize(name) {
			continue
		}
		record, _ := os.ReadFile(filepath.Join(di, "RECORD"))
		files, _ := recordFiles(record)
		dirs := map[string]bool{}
		for _, rel := range files {
			_ = os.Remove(filepath.Join(site, rel))
			for d := filepath.Dir(rel); d != "." && !dirs[d]; d = filepath.Dir(d) {
				dirs[d] = true
			}
		}
		if err := os.RemoveAll(di); err != nil {
			return fmt.Errorf("package store: remove %s: %w", filepath.Base(di), err)
		}
		// Deepest first; a directory still holding files stays.
		list := make([]string, 0, len(dirs))
		for d := range dirs {
			list = append(list, d)
		}
		sort.Slice(list, func(i, j int) bool { return len(list[i]) > len(list[j]) })
		for _, d := range list {
			_ = os.Remove(filepath.Join(site, d))
		}
	}
	return nil
}

// users returns how many package directories link to entry.
func users(entry string) int {
	infos, _ := filepath.Glob(filepath.Join(entry, "*.dist-info", storeMarker))
	if len(infos) != 1 {
		return 0
	}
	var st syscall.Stat_t
	if syscall.Stat(infos[0], &st) != nil {
		return 0
	}
	return int(st.Nlink) - 1
}

// StoreEntry describes one entry of the store.
type StoreEntry struct {
	Name     string    `json:"name"` // the dist-info's name-version
	Bytes    int64     `json:"bytes"`
	LastUsed time.Time `json:"last_used"`
	// Users are the sessions' package directories linking to it.
	Users int `json:"users"`
	// Pinned says it is prewarmed (see Installer.Pin): never evicted.
	Pinned bool `json:"pinned,omitempty"`
	path   string
}

// StoreStats describe the store.
type StoreStats struct {
	Dir     string       `json:"dir"`
	Bytes   int64        `json:"bytes"`
	Entries []StoreEntry `json:"entries"`
}

// entries lists the store's entries, least recently used first.
func (s *Store) entries(ctx context.Context) ([]StoreEntry, error) {
	items, err := os.ReadDir(s.entriesDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	pinned := s.pinnedKeys()
	var out []StoreEntry
	for _, it := range items {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		p := filepath.Join(s.entriesDir(), it.Name())
		fi, err := os.Stat(p)
		if err != nil || !fi.IsDir() {
			continue
		}
		e := StoreEntry{Bytes: dirSize(p), LastUsed: fi.ModTime(), Users: users(p), Pinned: pinned[it.Name()], path: p}
		if e.Pinned {
			e.Users-- // the store's own link, in pinned/
		}
		if infos, _ := filepath.Glob(filepath.Join(p, "*.dist-info")); len(infos) == 1 {
			e.Name = strings.TrimSuffix(filepath.Base(infos[0]), ".dist-info")
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LastUsed.Before(out[j].LastUsed) })
	return out, nil
}

// Info measures the store without changing it; a missing store is empty.
func (s *Store) Info(ctx context.Context) (StoreStats, error) {
	st := StoreStats{Dir: s.Dir}
	entries, err := s.entries(ctx)
	if err != nil {
		return st, err
	}
	st.Entries = entries
	for _, e := range entries {
		st.Bytes += e.Bytes
	}
	return st, nil
}

// Prune evicts entries no package directory links to: those unused for
// longer than limits.MaxAge, then the least recently used until the store
// holds at most limits.MaxBytes. An entry in use is never evicted, even
// when that leaves the store over its budget. It also removes what
// crashed installs left in tmp/. It returns ErrCacheBusy, changing
// nothing, while an install holds the store.
func (s *Store) Prune(ctx context.Context, limits CacheLimits) (PruneResult, error) {
	var res PruneResult
	if _, err := os.Stat(s.Dir); errors.Is(err, fs.ErrNotExist) {
		return res, nil
	}
	unlock, err := s.lock(ctx, true, false)
	if err != nil {
		return res, err
	}
	defer unlock()
	if tmps, err := os.ReadDir(s.tmpDir()); err == nil {
		for _, t := range tmps {
			removeTree(filepath.Join(s.tmpDir(), t.Name()))
		}
	}
	entries, err := s.entries(ctx)
	if err != nil {
		return res, err
	}
	list := make([]cacheEntry, len(entries))
	for i, e := range entries {
		list[i] = cacheEntry{path: e.path, size: e.Bytes, mod: e.LastUsed, inUse: e.Users > 0 || e.Pinned}
	}
	res = evictOldest(list, limits)
	if res.Entries > 0 {
		s.removeDanglingRefs()
	}
	return res, nil
}

// removeDanglingRefs removes refs whose entry is gone.
func (s *Store) removeDanglingRefs() {
	refs, _ := os.ReadDir(s.refsDir())
	for _, r := range refs {
		if _, ok := s.lookup(r.Name()); !ok {
			os.Remove(filepath.Join(s.refsDir(), r.Name()))
		}
	}
}

// pinnedDir is a package directory the store keeps for itself: what is
// linked there counts as used, so it is never evicted.
func (s *Store) pinnedDir() string { return filepath.Join(s.Dir, "pinned") }

// Pin installs reqs (and what they need) into the store and keeps them
// there, never evicted, for LinkPinned: the configured prewarm list.
// Earlier pins stay; a new version of a pinned distribution replaces the
// old one.
func (in *Installer) Pin(ctx context.Context, reqs []Requirement, emit func(session.Event)) error {
	if in.Store == nil {
		return errors.New("package store: pinning packages needs a store")
	}
	if err := in.Store.init(); err != nil {
		return err
	}
	if err := os.MkdirAll(in.Store.pinnedDir(), 0o755); err != nil {
		return fmt.Errorf("package store: %w", err)
	}
	return in.install(ctx, in.Store.pinnedDir(), reqs, emit, false)
}

// Unpin forgets every pinned distribution: their entries stay in the store,
// evicted like any other once no session uses them.
func (s *Store) Unpin(ctx context.Context) error {
	if _, err := os.Stat(s.pinnedDir()); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	unlock, err := s.lock(ctx, true, true)
	if err != nil {
		return err
	}
	defer unlock()
	if err := os.RemoveAll(s.pinnedDir()); err != nil {
		return fmt.Errorf("package store: unpin: %w", err)
	}
	return nil
}

// pinnedKeys returns the keys of the pinned entries, by the dist-info
// directories of pinned/ (each holding its entry's marker).
func (s *Store) pinnedKeys() map[string]bool {
	keys := map[string]bool{}
	for _, p := range s.pinned() {
		keys[p.key] = true
	}
	return keys
}

// pinnedDist is one distribution of pinned/.
type pinnedDist struct {
	name, version, key string
}

// pinned lists the pinned distributions.
func (s *Store) pinned() []pinnedDist {
	infos, _ := filepath.Glob(filepath.Join(s.pinnedDir(), "*.dist-info"))
	var out []pinnedDist
	for _, di := range infos {
		key, err := os.ReadFile(filepath.Join(di, storeMarker))
		k := strings.TrimSpace(string(key))
		if err != nil || !validKey(k) {
			continue
		}
		name, version, _ := strings.Cut(strings.TrimSuffix(filepath.Base(di), ".dist-info"), "-")
		out = append(out, pinnedDist{name: name, version: version, key: k})
	}
	return out
}

// LinkPinned links every pinned distribution (see Pin) into the package
// directory site, without uv or the network: a new session's packages
// are then importable from its first cell. Nothing pinned, nothing done.
func (s *Store) LinkPinned(ctx context.Context, site string) error {
	pins := s.pinned()
	if len(pins) == 0 {
		return nil
	}
	unlock, err := s.lock(ctx, false, true)
	if err != nil {
		return err
	}
	defer unlock()
	for _, p := range pins {
		if err := link(filepath.Join(s.entriesDir(), p.key), site); err != nil {
			return err
		}
	}
	touch(site)
	return nil
}

// installPinned installs reqs by linking the pinned distributions into
// site, without uv, when every one of them is pinned and asked for by
// name alone; it returns false, having done nothing, otherwise. All that
// is pinned is linked: pinned/ is one environment that uv resolved, so
// what a pinned package needs is there too (replacing another version in
// site, as an install through uv would).
func (in *Installer) installPinned(ctx context.Context, site string, reqs []Requirement, emit func(session.Event)) (bool, error) {
	if in.Store == nil {
		return false, nil
	}
	versions := map[string]string{}
	for _, p := range in.Store.pinned() {
		versions[Normalize(p.name)] = p.version
	}
	for _, r := range reqs {
		if _, ok := versions[Normalize(r.Name)]; !ok || r.Spec != "" || r.Extras != "" {
			return false, nil
		}
	}
	if err := in.Store.LinkPinned(ctx, site); err != nil {
		return true, err
	}
	for _, r := range reqs {
		emit(session.Event{Type: event.Install, Phase: event.PhaseInstalled, Package: r.Name, Version: versions[Normalize(r.Name)], Message: PrewarmedMessage})
	}
	return true, nil
}

// PrewarmedMessage is the message of the installed event of a package
// linked from the prewarmed (pinned) packages of the store, with no uv
// run and no download.
const PrewarmedMessage = "prewarmed: linked from the package store"
