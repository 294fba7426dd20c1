package server

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
	"syscall"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/interp-dev/interp/internal/session"
	"github.com/interp-dev/interp/internal/store"
)

// FileList lists a workspace.
type FileList struct {
	Files []session.FileInfo `json:"files" doc:"Every file and directory of the workspace, by path."`
}

type fileListOutput struct {
	Body FileList
}

// FileWritten describes an uploaded file.
type FileWritten struct {
	Path string `json:"path" doc:"Where the file is, relative to the workspace."`
	Size int64  `json:"size" doc:"Its size in bytes."`
}

type uploadOutput struct {
	Body FileWritten
}

type uploadInput struct {
	ID   string `path:"id" maxLength:"64" doc:"A session ID."`
	Path string `query:"path" maxLength:"4096" doc:"Where to put the file, relative to the workspace; parent directories are created. For a multipart upload, a form field named path (before or after the file) or the file's name may give it instead."`
	req  *http.Request
}

// Resolve keeps the request: the body is streamed into the workspace,
// never held in memory whole.
func (in *uploadInput) Resolve(ctx huma.Context) []error {
	in.req, _ = humago.Unwrap(ctx)
	return nil
}

type filePathInput struct {
	ID      string `path:"id" maxLength:"64" doc:"A session ID."`
	Path    string `query:"path" maxLength:"4096" doc:"A file's path, relative to the workspace. Give this or path_b64."`
	PathB64 string `query:"path_b64" maxLength:"5464" doc:"The path's bytes in standard base64, as the file list gives for a name that is not valid UTF-8. Give this or path."`
}

// name is the workspace path the request names, checked.
func (in *filePathInput) name() (string, error) {
	p := in.Path
	switch {
	case in.PathB64 != "" && in.Path != "":
		return "", huma.Error400BadRequest("give the file's path or its path_b64, not both")
	case in.PathB64 != "":
		b, err := base64.StdEncoding.DecodeString(in.PathB64)
		if err != nil {
			return "", huma.Error400BadRequest("path_b64 is not standard base64: " + err.Error())
		}
		p = string(b)
	case p == "":
		return "", huma.Error400BadRequest("give the file's path in the path query parameter (or path_b64)")
	}
	name, err := session.CleanExistingPath(p)
	if err != nil {
		return "", huma.Error400BadRequest(err.Error())
	}
	return name, nil
}

// sandboxCSP keeps a downloaded page from running as this origin's.
const sandboxCSP = "sandbox; default-src 'none'"

func (s *Server) workspace(ctx context.Context, id string) (*sessionEntry, *session.Workspace, error) {
	e, err := s.lookup(userFrom(ctx), id)
	if err != nil {
		return nil, nil, err
	}
	k := e.sess.Kernel()
	if k == nil {
		return nil, nil, errNoSession(id)
	}
	return e, k.Workspace(), nil
}

func (s *Server) listFiles(ctx context.Context, in *sessionIDInput) (*fileListOutput, error) {
	_, ws, err := s.workspace(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	files, err := ws.List()
	if err != nil {
		return nil, s.fileError(err, "")
	}
	if files == nil {
		files = []session.FileInfo{}
	}
	return &fileListOutput{Body: FileList{Files: files}}, nil
}

// downloadFile streams a workspace file, never holding it in memory. What
// it sends is the file as large as it was when opened: code still writing
// to it cannot make the response longer than its Content-Length.
func (s *Server) downloadFile(ctx context.Context, in *filePathInput) (*huma.StreamResponse, error) {
	_, ws, err := s.workspace(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	name, err := in.name()
	if err != nil {
		return nil, err
	}
	f, size, err := ws.Open(name, s.cfg.MaxDownloadBytes)
	if err != nil {
		return nil, s.fileError(err, name)
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		defer f.Close()
		hctx.SetHeader("Content-Type", ct)
		hctx.SetHeader("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": path.Base(name)}))
		// Files come from the sandbox: a browser must not run them as
		// pages of this origin.
		hctx.SetHeader("Content-Security-Policy", sandboxCSP)
		hctx.SetHeader("Content-Length", strconv.FormatInt(size, 10))
		hctx.SetStatus(http.StatusOK)
		n, err := io.Copy(hctx.BodyWriter(), io.LimitReader(f, size))
		if err != nil {
			s.log.Warn("download", "session", in.ID, "path", name, "sent", n, "err", err)
			return
		}
		s.auditOK(ctx, store.AuditFileDownload, in.ID+":"+name, itoa(int(n))+" bytes")
	}}, nil
}

func (s *Server) deleteFile(ctx context.Context, in *filePathInput) (*struct{}, error) {
	_, ws, err := s.workspace(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	name, err := in.name()
	if err != nil {
		return nil, err
	}
	if err := ws.Delete(name); err != nil {
		return nil, s.fileError(err, name)
	}
	s.auditOK(ctx, store.AuditFileDelete, in.ID+":"+name, "")
	return nil, nil
}

// limitedReader reads at most limit+1 bytes and remembers whether there
// were more than limit.
type limitedReader struct {
	r     io.Reader
	limit int64
	n     int64
	err   error // a failure to read, not EOF
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n > l.limit {
		return 0, io.EOF
	}
	if rest := l.limit + 1 - l.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		l.err = err
	}
	return n, err
}

func (l *limitedReader) over() bool { return l.n > l.limit }

// upload is an upload's limits: the server's upload limit and what is
// left of the user's workspace quota.
type upload struct {
	limit int64 // the server's limit on one file
	quota int64 // the user's workspace quota; negative for none
	used  int64 // what the user's workspaces hold now
}

// tooLarge is the 413 of a file over the upload limit.
func (up *upload) tooLarge() error {
	return huma.ErrorWithHeaders(huma.Error413RequestEntityTooLarge(fmt.Sprintf("the file is over the upload limit of %d bytes", up.limit)),
		http.Header{"Connection": {"close"}})
}

// overQuota is the answer to a file that does not fit in the workspace
// quota: 413 when it never could, being larger than the whole quota; 429
// when it could once other files are deleted.
func (up *upload) overQuota(size int64) error {
	if size > up.quota {
		return huma.ErrorWithHeaders(huma.Error413RequestEntityTooLarge(fmt.Sprintf("the file of %d bytes is larger than the whole workspace quota of %d bytes", size, up.quota)),
			http.Header{"Connection": {"close"}})
	}
	return tooMany(workspaceOver(up.quota)+"; the workspaces hold "+itoa64(up.used)+" bytes", workspaceRetry)
}

// room is the most bytes a file replacing one of old bytes may have.
func (up *upload) room(old int64) int64 {
	if up.quota < 0 {
		return up.limit
	}
	return max(min(up.limit, up.quota-up.used+old), 0)
}

func (s *Server) uploadFile(ctx context.Context, in *uploadInput) (*uploadOutput, error) {
	_, ws, err := s.workspace(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	r := in.req
	up := &upload{limit: s.cfg.MaxUploadBytes, quota: s.cfg.Quotas.WorkspaceBytes}
	if up.quota >= 0 {
		up.used = s.workspaceUsage(userFrom(ctx))
	}
	quotaErr := func(size int64) error {
		return s.quotaRefused(ctx, in.ID, up.overQuota(size))
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		if r.ContentLength > up.limit {
			return nil, up.tooLarge()
		}
		if up.quota >= 0 && r.ContentLength > up.quota {
			return nil, quotaErr(r.ContentLength)
		}
		if in.Path == "" {
			return nil, huma.Error400BadRequest("give the file's path in the path query parameter")
		}
		return s.writeUpload(ctx, in.ID, ws, in.Path, r.Body, up, quotaErr)
	}
	if r.ContentLength > up.limit+multipartSlack {
		return nil, up.tooLarge()
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, huma.Error400BadRequest("the multipart body cannot be read: " + err.Error())
	}
	// The parts may come in any order. The file streams straight into
	// the workspace when its path is known by then (the query parameter,
	// or a path field before it); else it is spooled to a temporary file
	// until the end of the body, where a path field may still come.
	var (
		pathField, fileName string
		spool               *os.File
		spoolLR             *limitedReader
	)
	defer func() {
		if spool != nil {
			spool.Close()
			os.Remove(spool.Name())
		}
	}()
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, readError(err, "the multipart body cannot be read")
		}
		switch {
		case part.FileName() == "" && part.FormName() == "path":
			b, err := io.ReadAll(io.LimitReader(part, 4097))
			if err != nil {
				return nil, readError(err, "the multipart body cannot be read")
			}
			if pathField == "" {
				pathField = string(b)
			}
		case part.FileName() == "" && part.FormName() != "file":
			// another field: ignored
		case spool != nil:
			// a second file: ignored
		case in.Path != "" || pathField != "":
			name := in.Path
			if name == "" {
				name = pathField
			}
			return s.writeUpload(ctx, in.ID, ws, name, part, up, quotaErr)
		default:
			fileName = part.FileName()
			if spool, err = os.CreateTemp("", "interp-upload-*"); err != nil {
				s.log.Error("upload spool", "err", err)
				return nil, huma.Error500InternalServerError("the upload could not be spooled")
			}
			spoolLR = &limitedReader{r: part, limit: up.limit}
			if _, err := io.Copy(spool, spoolLR); err != nil && spoolLR.err == nil {
				s.log.Error("upload spool", "err", err)
				return nil, huma.Error500InternalServerError("the upload could not be spooled")
			}
			if spoolLR.err != nil {
				return nil, readError(spoolLR.err, "the upload could not be read")
			}
			if spoolLR.over() {
				return nil, up.tooLarge()
			}
		}
	}
	if spool == nil {
		return nil, huma.Error400BadRequest("the multipart body has no file: send it in a part named file")
	}
	name := pathField
	if name == "" {
		name = fileName
	}
	if name == "" {
		return nil, huma.Error400BadRequest("give the file's path: a path query parameter or form field, or a file name")
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return nil, huma.Error500InternalServerError("the upload could not be spooled")
	}
	return s.writeUpload(ctx, in.ID, ws, name, spool, up, quotaErr)
}

// writeUpload streams r into the workspace as name. A failed upload leaves
// nothing behind: not the file, not the directories made for it.
// The file may have up.limit bytes, and what the workspace quota leaves
// (counting the bytes of a file it replaces as free).
func (s *Server) writeUpload(ctx context.Context, id string, ws *session.Workspace, name string, r io.Reader, up *upload,
	quotaErr func(size int64) error) (*uploadOutput, error) {
	name, err := session.CleanPath(name)
	if err != nil {
		return nil, huma.Error400BadRequest(err.Error())
	}
	var missing []string // parent directories the write will create
	var old int64        // the size of the file replaced
	files, _ := ws.List()
	existing := map[string]bool{}
	for _, f := range files {
		if f.IsDir {
			existing[f.Path] = true
		} else if f.Path == name {
			old = f.Size
		}
	}
	for d := path.Dir(name); d != "."; d = path.Dir(d) {
		if !existing[d] {
			missing = append(missing, d) // deepest first
		}
	}
	limit := up.room(old)
	lr := &limitedReader{r: r, limit: limit}
	n, err := ws.Write(name, lr, limit)
	if err != nil || lr.over() {
		for _, d := range missing {
			_ = ws.Delete(d) // only empty directories go
		}
		if lr.over() {
			if limit >= up.limit {
				return nil, up.tooLarge()
			}
			return nil, quotaErr(lr.n)
		}
		if lr.err != nil {
			return nil, readError(lr.err, "the upload could not be read")
		}
		return nil, s.fileError(err, name)
	}
	s.auditOK(ctx, store.AuditFileUpload, id+":"+name, itoa64(n)+" bytes")
	return &uploadOutput{Body: FileWritten{Path: name, Size: n}}, nil
}

// readError maps a failure to read the request body.
func readError(err error, msg string) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return huma.Error408RequestTimeout("the request body was not received in time")
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return huma.Error413RequestEntityTooLarge(fmt.Sprintf("the request body is over the limit of %d bytes", mbe.Limit))
	}
	return huma.Error400BadRequest(msg + ": " + err.Error())
}

// fileError maps a workspace error to a status.
func (s *Server) fileError(err error, name string) error {
	var errno syscall.Errno
	errors.As(err, &errno)
	var ne net.Error
	switch {
	case errors.Is(err, session.ErrBadPath):
		return huma.Error400BadRequest(err.Error())
	case errors.Is(err, fs.ErrNotExist), errno == syscall.ENOTDIR, errno == syscall.ELOOP:
		return huma.Error404NotFound(fmt.Sprintf("no file %q in the workspace", name))
	case errno == syscall.ENOSPC || errno == syscall.EDQUOT:
		return huma.Error413RequestEntityTooLarge("the session's workspace is full")
	case errno == syscall.EISDIR || errno == syscall.ENOTEMPTY || errno == syscall.EEXIST:
		return huma.Error409Conflict(fmt.Sprintf("%s: %v", name, errno))
	case errno == syscall.EACCES || errno == syscall.EPERM || errno == syscall.EROFS:
		return huma.Error403Forbidden(fmt.Sprintf("%s: permission denied", name))
	case errno == syscall.ENAMETOOLONG:
		return huma.Error400BadRequest(fmt.Sprintf("%s: name too long", name))
	case errors.As(err, &ne) && ne.Timeout():
		return huma.Error408RequestTimeout("the upload was not received in time")
	case errno != 0:
		s.log.Error("workspace", "path", name, "err", err)
		return huma.Error500InternalServerError("workspace error")
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return huma.Error413RequestEntityTooLarge(fmt.Sprintf("the request body is over the limit of %d bytes", mbe.Limit))
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "not a regular file"):
		return huma.Error422UnprocessableEntity(msg)
	case strings.Contains(msg, "limit"):
		return huma.Error422UnprocessableEntity(msg + ": too large to download")
	}
	// Not an errno: a failure reading the request body, as a rule.
	return huma.Error400BadRequest(msg)
}
