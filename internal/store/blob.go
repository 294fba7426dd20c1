package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/interp-dev/interp/internal/event"
)

// BlobStore keeps content by its SHA-256: the same content is stored once.
// The store counts references in its database and deletes a blob when no
// conversation uses it any more. DirBlobs keeps blobs on local disk; an
// S3-compatible store only needs these three methods.
type BlobStore interface {
	// Put stores r's content and returns its SHA-256 in lowercase hex and
	// its size. Putting content that is already there is cheap and harmless.
	Put(ctx context.Context, r io.Reader) (hash string, size int64, err error)
	// Get opens a blob; a missing one is an error wrapping fs.ErrNotExist.
	Get(ctx context.Context, hash string) (io.ReadCloser, error)
	// Delete removes a blob; a missing one is not an error.
	Delete(ctx context.Context, hash string) error
}

// BlobStatter is implemented by blob stores that can tell cheaply whether
// a blob exists; others are asked with Get.
type BlobStatter interface {
	Has(ctx context.Context, hash string) (bool, error)
}

// BlobWalker is implemented by blob stores that can list their blobs, for
// GC to find those no row knows of (left by a crash between the Put and
// the commit).
type BlobWalker interface {
	Walk(ctx context.Context, fn func(hash string, modTime time.Time) error) error
}

// ErrBadHash is returned for a hash that is not 64 lowercase hex digits.
var ErrBadHash = errors.New("store: bad blob hash")

func validHash(h string) bool {
	if len(h) != 64 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// DirBlobs is a BlobStore in a local directory: each blob is a read-only
// file named by its hash, under a subdirectory named by the hash's first
// two digits. Writes go to a temporary file first, then are renamed into
// place, so a blob is either whole or absent.
type DirBlobs struct {
	dir string
}

// NewDirBlobs returns a blob store in dir, creating it if needed.
func NewDirBlobs(dir string) (*DirBlobs, error) {
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o700); err != nil {
		return nil, fmt.Errorf("store: blob directory: %w", err)
	}
	return &DirBlobs{dir: dir}, nil
}

// Dir returns the directory.
func (d *DirBlobs) Dir() string { return d.dir }

func (d *DirBlobs) path(hash string) string {
	return filepath.Join(d.dir, hash[:2], hash)
}

// Put implements BlobStore.
func (d *DirBlobs) Put(ctx context.Context, r io.Reader) (string, int64, error) {
	tmp, err := os.CreateTemp(filepath.Join(d.dir, "tmp"), "put-*")
	if err != nil {
		return "", 0, fmt.Errorf("store: blob: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename, a no-op
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), readerCtx{ctx, r})
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", 0, fmt.Errorf("store: blob: %w", err)
	}
	hash := hex.EncodeToString(h.Sum(nil))
	final := d.path(hash)
	if fi, err := os.Stat(final); err == nil && fi.Size() == n {
		return hash, n, nil // already there
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o700); err != nil {
		return "", 0, fmt.Errorf("store: blob: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o400); err != nil {
		return "", 0, fmt.Errorf("store: blob: %w", err)
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return "", 0, fmt.Errorf("store: blob: %w", err)
	}
	syncDir(filepath.Dir(final))
	return hash, n, nil
}

// Get implements BlobStore.
func (d *DirBlobs) Get(ctx context.Context, hash string) (io.ReadCloser, error) {
	if !validHash(hash) {
		return nil, fmt.Errorf("%w: %q", ErrBadHash, hash)
	}
	f, err := os.Open(d.path(hash))
	if err != nil {
		return nil, fmt.Errorf("store: blob %s: %w", hash, err)
	}
	return f, nil
}

// Has implements BlobStatter.
func (d *DirBlobs) Has(ctx context.Context, hash string) (bool, error) {
	if !validHash(hash) {
		return false, fmt.Errorf("%w: %q", ErrBadHash, hash)
	}
	_, err := os.Stat(d.path(hash))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// Delete implements BlobStore.
func (d *DirBlobs) Delete(ctx context.Context, hash string) error {
	if !validHash(hash) {
		return fmt.Errorf("%w: %q", ErrBadHash, hash)
	}
	err := os.Remove(d.path(hash))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("store: blob: %w", err)
	}
	return nil
}

// Walk implements BlobWalker.
func (d *DirBlobs) Walk(ctx context.Context, fn func(hash string, modTime time.Time) error) error {
	subs, err := os.ReadDir(d.dir)
	if err != nil {
		return fmt.Errorf("store: blob: %w", err)
	}
	for _, sub := range subs {
		if !sub.IsDir() || len(sub.Name()) != 2 {
			continue
		}
		entries, err := os.ReadDir(filepath.Join(d.dir, sub.Name()))
		if err != nil {
			return fmt.Errorf("store: blob: %w", err)
		}
		for _, e := range entries {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			name := e.Name()
			if !validHash(name) || !strings.HasPrefix(name, sub.Name()) {
				continue
			}
			info, err := e.Info()
			if err != nil {
				continue // deleted meanwhile
			}
			if err := fn(name, info.ModTime()); err != nil {
				return err
			}
		}
	}
	return nil
}

func syncDir(dir string) {
	if f, err := os.Open(dir); err == nil {
		_ = f.Sync()
		f.Close()
	}
}

// readerCtx stops a copy when its context ends.
type readerCtx struct {
	ctx context.Context
	r   io.Reader
}

func (r readerCtx) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

// hasBlob asks a blob store whether it holds hash.
func hasBlob(ctx context.Context, b BlobStore, hash string) (bool, error) {
	if s, ok := b.(BlobStatter); ok {
		return s.Has(ctx, hash)
	}
	rc, err := b.Get(ctx, hash)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	rc.Close()
	return true, nil
}

// blobPart is an event field on its way to the blob store.
type blobPart struct {
	ref  BlobRef
	data []byte
}

// extract moves an event's large fields out of it, into blob parts. The
// event's Data map is copied before it is changed.
func (r *Recorder) extract(ev *event.Task) []blobPart {
	limit := r.s.inlineLimit
	var parts []blobPart
	if len(ev.Text) > limit {
		parts = append(parts, blobPart{BlobRef{Field: "text", Encoding: "text"}, []byte(ev.Text)})
		ev.Text = ""
	}
	if len(ev.Data) > 0 {
		var big []string
		for mime, v := range ev.Data {
			if s, ok := v.(string); ok && len(s) > limit {
				big = append(big, mime)
			}
		}
		if len(big) > 0 {
			sort.Strings(big)
			data := make(map[string]any, len(ev.Data))
			for k, v := range ev.Data {
				data[k] = v
			}
			for _, mime := range big {
				s := data[mime].(string)
				part := blobPart{BlobRef{Field: "data:" + mime, Encoding: "text"}, []byte(s)}
				if binaryMIME(mime) {
					if raw, err := base64.StdEncoding.DecodeString(s); err == nil &&
						base64.StdEncoding.EncodeToString(raw) == s {
						part = blobPart{BlobRef{Field: "data:" + mime, Encoding: "base64"}, raw}
					}
				}
				parts = append(parts, part)
				delete(data, mime)
			}
			ev.Data = data
		}
	}
	return parts
}

// binaryMIME tells the MIME types whose values are base64 in a bundle.
func binaryMIME(mime string) bool {
	switch {
	case strings.HasPrefix(mime, "text/"), strings.HasSuffix(mime, "json"),
		strings.HasSuffix(mime, "+xml"), strings.HasSuffix(mime, "javascript"),
		mime == "image/svg+xml":
		return false
	}
	return true
}

// putBlobs stores parts' content, before their rows are committed.
func (r *Recorder) putBlobs(parts []blobPart) error {
	for i := range parts {
		hash, size, err := r.s.putBytes(r.ctx, parts[i].data)
		if err != nil {
			return err
		}
		parts[i].ref.Hash, parts[i].ref.Size = hash, size
	}
	return nil
}

// putBytes stores data unless the blob store has it already: repeated
// content costs a hash and a lookup, not a write.
func (s *Store) putBytes(ctx context.Context, data []byte) (string, int64, error) {
	sum := sha256.Sum256(data)
	hash := hex.EncodeToString(sum[:])
	if ok, err := hasBlob(ctx, s.blobs, hash); err == nil && ok {
		return hash, int64(len(data)), nil
	}
	return s.blobs.Put(ctx, bytes.NewReader(data))
}

// refBlob counts a reference to a blob, inside tx. The row is locked
// now: if a sweep deleted the content meanwhile, it is put back.
func (s *Store) refBlob(ctx context.Context, tx *sql.Tx, hash string, size int64, data []byte) error {
	if _, err := s.stmt(ctx, tx, "blob_ref").ExecContext(ctx, hash, size, millis(s.now())); err != nil {
		return fmt.Errorf("store: blob ref: %w", err)
	}
	ok, err := hasBlob(ctx, s.blobs, hash)
	if err != nil {
		return err
	}
	if !ok {
		if _, _, err := s.blobs.Put(ctx, bytes.NewReader(data)); err != nil {
			return err
		}
	}
	return nil
}
