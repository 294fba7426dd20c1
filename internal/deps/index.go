package deps

import (
	"archive/zip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// indexClient reads a simple package index (PEP 503 HTML or PEP 691
// JSON) and the file lists of the wheels it serves, reading only a
// wheel's central directory and the files asked for through HTTP range
// requests, never the whole wheel. Everything it fetches is untrusted
// data: it is parsed, never run.
type indexClient struct {
	base   string // ends in "/"
	client *http.Client
}

func newIndexClient(index string) *indexClient {
	if index == "" {
		index = DefaultIndexURL
	}
	if !strings.HasSuffix(index, "/") {
		index += "/"
	}
	return &indexClient{base: index, client: &http.Client{Transport: http.DefaultTransport}}
}

// indexFile is one file of a project on the index.
type indexFile struct {
	Filename string
	URL      string
	Size     int64 // 0 if the index did not say
	Yanked   bool
}

// wheel returns the version of a wheel's file name, and whether it is one.
func (f indexFile) wheel() (version string, ok bool) {
	name, found := strings.CutSuffix(f.Filename, ".whl")
	if !found {
		return "", false
	}
	parts := strings.Split(name, "-")
	if len(parts) < 5 {
		return "", false
	}
	return parts[1], true
}

// sdist returns the version of a source distribution's file name.
func (f indexFile) sdist() (version string, ok bool) {
	name := f.Filename
	for _, ext := range []string{".tar.gz", ".zip", ".tar.bz2", ".tgz"} {
		if n, found := strings.CutSuffix(name, ext); found {
			i := strings.LastIndexByte(n, '-')
			if i <= 0 {
				return "", false
			}
			return n[i+1:], true
		}
	}
	return "", false
}

// maxIndexPage bounds a project page (PyPI's largest are a few MB).
const maxIndexPage = 64 << 20

// files lists a project's files.
func (c *indexClient) files(ctx context.Context, project string) ([]indexFile, error) {
	page := c.base + Normalize(project) + "/"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, page, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("read the index page of %s: %w", project, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, fmt.Errorf("%s is not on the package index", project)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("read the index page of %s: %s", project, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxIndexPage))
	if err != nil {
		return nil, fmt.Errorf("read the index page of %s: %w", project, err)
	}
	pageURL := resp.Request.URL
	ctype, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if ctype == "application/vnd.pypi.simple.v1+json" {
		return parseJSONPage(body, pageURL)
	}
	return parseHTMLPage(body, pageURL), nil
}

func parseJSONPage(body []byte, page *url.URL) ([]indexFile, error) {
	var doc struct {
		Files []struct {
			Filename string          `json:"filename"`
			URL      string          `json:"url"`
			Size     int64           `json:"size"`
			Yanked   json.RawMessage `json:"yanked"`
		} `json:"files"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("the index sent a malformed JSON page: %w", err)
	}
	out := make([]indexFile, 0, len(doc.Files))
	for _, f := range doc.Files {
		u, err := page.Parse(f.URL)
		if err != nil {
			continue
		}
		yanked := len(f.Yanked) > 0 && string(f.Yanked) != "false" && string(f.Yanked) != "null"
		out = append(out, indexFile{Filename: f.Filename, URL: u.String(), Size: f.Size, Yanked: yanked})
	}
	return out, nil
}

var anchorRE = regexp.MustCompile(`(?is)<a\s([^>]*)>([^<]*)</a>`)
var hrefRE = regexp.MustCompile(`(?is)\bhref\s*=\s*"([^"]*)"`)

func parseHTMLPage(body []byte, page *url.URL) []indexFile {
	var out []indexFile
	for _, m := range anchorRE.FindAllSubmatch(body, -1) {
		h := hrefRE.FindSubmatch(m[1])
		if h == nil {
			continue
		}
		u, err := page.Parse(html.UnescapeString(string(h[1])))
		if err != nil {
			continue
		}
		u.Fragment = ""
		out = append(out, indexFile{
			Filename: strings.TrimSpace(html.UnescapeString(string(m[2]))),
			URL:      u.String(),
			Yanked:   strings.Contains(strings.ToLower(string(m[1])), "data-yanked"),
		})
	}
	return out
}

// openWheel opens a remote wheel as a zip archive, reading its parts
// with range requests.
func (c *indexClient) openWheel(ctx context.Context, f indexFile) (*zip.Reader, error) {
	r := &rangeReader{ctx: ctx, client: c.client, url: f.URL, size: f.Size}
	if r.size <= 0 {
		if err := r.head(); err != nil {
			return nil, err
		}
	}
	zr, err := zip.NewReader(r, r.size)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", f.Filename, err)
	}
	return zr, nil
}

// rangeReader is an io.ReaderAt over HTTP range requests, reading whole
// blocks and keeping the last few, since zip reads in small pieces.
type rangeReader struct {
	ctx    context.Context
	client *http.Client
	url    string
	size   int64

	mu     sync.Mutex
	blocks map[int64][]byte
	whole  []byte // the server ignores ranges: the whole file
}

const rangeBlock = 64 << 10

// maxWholeWheel bounds what is read of a server that ignores ranges.
const maxWholeWheel = 256 << 20

func (r *rangeReader) head() error {
	req, err := http.NewRequestWithContext(r.ctx, http.MethodHead, r.url, nil)
	if err != nil {
		return err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.ContentLength <= 0 {
		return fmt.Errorf("size of %s: %s", r.url, resp.Status)
	}
	r.size = resp.ContentLength
	return nil
}

func (r *rangeReader) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		if pos >= r.size {
			return n, io.EOF
		}
		start := pos - pos%rangeBlock
		b, err := r.block(start)
		if err != nil {
			return n, err
		}
		if pos-start >= int64(len(b)) {
			return n, io.ErrUnexpectedEOF
		}
		n += copy(p[n:], b[pos-start:])
	}
	return n, nil
}

func (r *rangeReader) block(start int64) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.whole != nil {
		end := min(start+rangeBlock, int64(len(r.whole)))
		return r.whole[start:end], nil
	}
	if b, ok := r.blocks[start]; ok {
		return b, nil
	}
	end := min(start+rangeBlock, r.size) - 1
	req, err := http.NewRequestWithContext(r.ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Range", "bytes="+strconv.FormatInt(start, 10)+"-"+strconv.FormatInt(end, 10))
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusPartialContent:
		b, err := io.ReadAll(io.LimitReader(resp.Body, rangeBlock))
		if err != nil {
			return nil, err
		}
		if r.blocks == nil || len(r.blocks) > 64 {
			r.blocks = make(map[int64][]byte)
		}
		r.blocks[start] = b
		return b, nil
	case http.StatusOK:
		if r.size > maxWholeWheel {
			return nil, errors.New("the index does not answer range requests, and the wheel is too large to read whole")
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxWholeWheel))
		if err != nil {
			return nil, err
		}
		r.whole = b
		end := min(start+rangeBlock, int64(len(b)))
		if start > end {
			return nil, io.ErrUnexpectedEOF
		}
		return b[start:end], nil
	default:
		return nil, fmt.Errorf("read %s: %s", r.url, resp.Status)
	}
}
