package pypitest

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	uvPath     = "/opt/interp/uv/bin/uv"
	pythonPath = "/usr/bin/python3"
)

func tinyPkg() Package {
	return Package{
		Name:    "tinypkg",
		Version: "1.0",
		Modules: map[string]string{
			"tinypkg/__init__.py": "VALUE = 42\n",
			"tinypkg/sub/mod.py":  "NAME = 'sub'\n",
		},
		Requires: []string{"Other.Pkg>=1.0"},
	}
}

func otherPkg() Package {
	return Package{
		Name:    "Other_Pkg",
		Version: "1.2",
		Modules: map[string]string{"otherpkg/__init__.py": "OTHER = True\n"},
	}
}

func readZip(t *testing.T, data []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[f.Name] = b
	}
	return out
}

func TestNormalize(t *testing.T) {
	for _, c := range []struct{ in, index, dist string }{
		{"tinypkg", "tinypkg", "tinypkg"},
		{"Tiny.Pkg", "tiny-pkg", "tiny_pkg"},
		{"a__b--c..d-_.e", "a-b-c-d-e", "a_b_c_d_e"},
	} {
		if got := NormalizeName(c.in); got != c.index {
			t.Errorf("NormalizeName(%q) = %q, want %q", c.in, got, c.index)
		}
		if got := distName(c.in); got != c.dist {
			t.Errorf("distName(%q) = %q, want %q", c.in, got, c.dist)
		}
	}
}

func TestBuildWheel(t *testing.T) {
	p := Package{
		Name:    "Tiny.Pkg",
		Version: "1.0",
		Modules: map[string]string{
			"tiny_pkg/__init__.py": "VALUE = 42\n",
			"tiny_pkg/data,1.txt":  "comma in the name\n",
		},
		Requires:       []string{"otherpkg>=1.0", `extra-thing; python_version >= "3.8"`},
		RequiresPython: ">=3.8",
	}
	name, data, err := BuildWheel(p)
	if err != nil {
		t.Fatal(err)
	}
	if name != "tiny_pkg-1.0-py3-none-any.whl" {
		t.Errorf("filename = %q", name)
	}
	_, again, _ := BuildWheel(p)
	if !bytes.Equal(data, again) {
		t.Error("BuildWheel is not deterministic")
	}

	files := readZip(t, data)
	const di = "tiny_pkg-1.0.dist-info/"
	wantMeta := "Metadata-Version: 2.1\nName: Tiny.Pkg\nVersion: 1.0\nRequires-Python: >=3.8\n" +
		"Requires-Dist: otherpkg>=1.0\nRequires-Dist: extra-thing; python_version >= \"3.8\"\n"
	if got := string(files[di+"METADATA"]); got != wantMeta {
		t.Errorf("METADATA =\n%s\nwant\n%s", got, wantMeta)
	}
	if got := string(files[di+"WHEEL"]); !strings.Contains(got, "Root-Is-Purelib: true\n") ||
		!strings.Contains(got, "Tag: py3-none-any\n") || !strings.HasPrefix(got, "Wheel-Version: 1.0\n") {
		t.Errorf("WHEEL =\n%s", got)
	}
	if got := string(files["tiny_pkg/__init__.py"]); got != "VALUE = 42\n" {
		t.Errorf("module content = %q", got)
	}

	rows, err := csv.NewReader(bytes.NewReader(files[di+"RECORD"])).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	recorded := map[string]bool{}
	for _, row := range rows {
		path, hash, size := row[0], row[1], row[2]
		recorded[path] = true
		if path == di+"RECORD" {
			if hash != "" || size != "" {
				t.Errorf("RECORD's own row = %q", row)
			}
			continue
		}
		content, ok := files[path]
		if !ok {
			t.Errorf("RECORD lists %q, which is not in the wheel", path)
			continue
		}
		if want := recordHash(content); hash != want {
			t.Errorf("%s: hash %s, want %s", path, hash, want)
		}
		if strings.HasSuffix(hash, "=") || strings.ContainsAny(hash, "+/") {
			t.Errorf("%s: hash %s is not unpadded URL-safe base64", path, hash)
		}
		if want := strconv.Itoa(len(content)); size != want {
			t.Errorf("%s: size %s, want %s", path, size, want)
		}
	}
	for path := range files {
		if !recorded[path] {
			t.Errorf("%s is missing from RECORD", path)
		}
	}

	for _, bad := range []Package{
		{Name: "", Version: "1"},
		{Name: "x", Version: "1 0"},
		{Name: "x", Version: "1", Modules: map[string]string{"../evil.py": ""}},
		{Name: "x", Version: "1", Modules: map[string]string{"/abs.py": ""}},
		{Name: "x", Version: "1", Modules: map[string]string{"x-1.dist-info/METADATA": ""}},
		{Name: "x", Version: "1", Requires: []string{"a\nName: y"}},
	} {
		if _, _, err := BuildWheel(bad); err == nil {
			t.Errorf("BuildWheel(%+v) succeeded", bad)
		}
	}
}

func TestBuildSdist(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	name, data, err := BuildSdist(Package{Name: "Sdist.Only", Version: "0.1", SdistMarker: marker})
	if err != nil {
		t.Fatal(err)
	}
	if name != "sdist_only-0.1.tar.gz" {
		t.Errorf("filename = %q", name)
	}
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	got := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		got[h.Name] = string(b)
	}
	for _, f := range []string{"PKG-INFO", "pyproject.toml", "setup.py", "pypitest_backend.py"} {
		if _, ok := got["sdist_only-0.1/"+f]; !ok {
			t.Errorf("sdist lacks %s; has %v", f, slices.Sorted(maps.Keys(got)))
		}
	}
	if !strings.Contains(got["sdist_only-0.1/setup.py"], strconv.Quote(marker)) {
		t.Errorf("setup.py does not write the marker:\n%s", got["sdist_only-0.1/setup.py"])
	}
	if _, _, err := BuildSdist(Package{Name: "x", Version: "1", SdistMarker: "relative"}); err == nil {
		t.Error("relative marker accepted")
	}
}

func get(t *testing.T, url, accept string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func TestIndexServes(t *testing.T) {
	idx := NewIndex(t, tinyPkg())
	if !strings.HasPrefix(idx.URL(), "http://127.0.0.1:") || !strings.HasSuffix(idx.URL(), "/simple/") {
		t.Fatalf("URL() = %q", idx.URL())
	}
	wheelName, wheel, _ := BuildWheel(tinyPkg())
	hash := hexSHA256(wheel)

	resp, body := get(t, idx.URL(), "")
	if resp.StatusCode != 200 || !strings.Contains(body, `href="/simple/tinypkg/"`) {
		t.Errorf("root: %d\n%s", resp.StatusCode, body)
	}

	resp, body = get(t, idx.URL()+"tinypkg/", "text/html")
	if resp.StatusCode != 200 ||
		!strings.Contains(body, idx.ServerURL()+"/files/"+wheelName+"#sha256="+hash+`"`) ||
		strings.Contains(body, "data-requires-python") {
		t.Errorf("project page: %d\n%s", resp.StatusCode, body)
	}

	resp, body = get(t, idx.URL()+"tinypkg/", jsonType+", "+htmlType+";q=0.2, text/html;q=0.01")
	var page struct {
		Name  string `json:"name"`
		Files []struct {
			Filename     string            `json:"filename"`
			URL          string            `json:"url"`
			Hashes       map[string]string `json:"hashes"`
			CoreMetadata map[string]string `json:"core-metadata"`
		} `json:"files"`
	}
	if ct := resp.Header.Get("Content-Type"); ct != jsonType {
		t.Errorf("JSON page Content-Type = %q", ct)
	}
	if err := json.Unmarshal([]byte(body), &page); err != nil {
		t.Fatalf("JSON page: %v\n%s", err, body)
	}
	if page.Name != "tinypkg" || len(page.Files) != 1 || page.Files[0].Filename != wheelName ||
		page.Files[0].Hashes["sha256"] != hash || page.Files[0].CoreMetadata["sha256"] == "" {
		t.Errorf("JSON page = %+v", page)
	}

	resp, body = get(t, page.Files[0].URL, "")
	if resp.StatusCode != 200 || body != string(wheel) {
		t.Errorf("wheel download: %d, %d bytes", resp.StatusCode, len(body))
	}
	resp, body = get(t, page.Files[0].URL, "", "Range", "bytes=-22")
	if resp.StatusCode != http.StatusPartialContent || body != string(wheel[len(wheel)-22:]) {
		t.Errorf("range request: %d", resp.StatusCode)
	}
	resp, body = get(t, page.Files[0].URL+".metadata", "")
	if resp.StatusCode != 200 || hexSHA256([]byte(body)) != page.Files[0].CoreMetadata["sha256"] ||
		!strings.Contains(body, "Requires-Dist: Other.Pkg>=1.0") {
		t.Errorf(".metadata: %d\n%s", resp.StatusCode, body)
	}

	if resp, _ := get(t, idx.URL()+"nosuchpkg/", ""); resp.StatusCode != 404 {
		t.Errorf("unknown project: %d", resp.StatusCode)
	}
	if resp, _ := get(t, idx.ServerURL()+"/files/nosuch-1.0-py3-none-any.whl", ""); resp.StatusCode != 404 {
		t.Errorf("unknown file: %d", resp.StatusCode)
	}
	if resp, _ := get(t, idx.URL()+"Other_Pkg", ""); resp.StatusCode != 301 ||
		resp.Header.Get("Location") != "/simple/other-pkg/" {
		t.Errorf("non-normalized name: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}

	// Add at runtime, under a non-normalized name.
	if resp, _ := get(t, idx.URL()+"other-pkg/", ""); resp.StatusCode != 404 {
		t.Errorf("other-pkg before Add: %d", resp.StatusCode)
	}
	idx.Add(otherPkg())
	if resp, body := get(t, idx.URL()+"other-pkg/", ""); resp.StatusCode != 200 ||
		!strings.Contains(body, ">other_pkg-1.2-py3-none-any.whl</a>") {
		t.Errorf("other-pkg after Add: %d\n%s", resp.StatusCode, body)
	}

	reqs := idx.Requests()
	if !slices.Contains(reqs, "/simple/tinypkg/") || !idx.Fetched(wheelName) ||
		!idx.Fetched(wheelName+".metadata") || idx.Fetched("other_pkg-1.2-py3-none-any.whl") {
		t.Errorf("Requests() = %q", reqs)
	}

	idx.SetDelay(200 * time.Millisecond)
	start := time.Now()
	get(t, idx.URL(), "")
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("SetDelay: response after %v", d)
	}
}

// requireUV skips the test if uv (or the Python it installs for) is
// missing, or fails it if CI=true.
func requireUV(t *testing.T) {
	t.Helper()
	for _, p := range []string{uvPath, pythonPath} {
		if _, err := os.Stat(p); err != nil {
			msg := "pypitest: " + p + " is not installed (run scripts/setup); skipping the test against the real uv"
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s: %v", msg, err)
			}
			t.Skip(msg)
		}
	}
}

// uvInstall runs uv pip install into a fresh target directory with a clean
// environment and returns the target, the combined output and the error.
func uvInstall(t *testing.T, idx *Index, onlyBinary bool, reqs ...string) (string, string, error) {
	t.Helper()
	target := t.TempDir()
	args := []string{"pip", "install", "--no-config",
		"--python", pythonPath,
		"--target", target,
		"--index-url", idx.URL(),
		"--cache-dir", t.TempDir(),
	}
	if onlyBinary {
		args = append(args, "--only-binary", ":all:")
	}
	args = append(args, reqs...)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, uvPath, args...)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"UV_NO_CONFIG=1",
	}
	out, err := cmd.CombinedOutput()
	t.Logf("uv %s\n%s", strings.Join(args, " "), out)
	return target, string(out), err
}

func TestUVInstallsWheelAndDependency(t *testing.T) {
	requireUV(t)
	// uv asks for PEP 691 JSON and fetches PEP 658 .metadata files; in
	// legacy mode it has to parse HTML and range-read METADATA from the
	// wheels, which checks the wheels' zip layout too.
	for _, legacy := range []bool{false, true} {
		t.Run("legacy="+strconv.FormatBool(legacy), func(t *testing.T) {
			t.Parallel()
			testUVInstall(t, legacy)
		})
	}
}

func testUVInstall(t *testing.T, legacy bool) {
	idx := NewIndex(t, tinyPkg(), otherPkg())
	idx.SetLegacy(legacy)

	target, _, err := uvInstall(t, idx, true, "tinypkg")
	if err != nil {
		t.Fatalf("uv pip install tinypkg: %v", err)
	}
	for rel, want := range map[string]string{
		"tinypkg/__init__.py":  "VALUE = 42\n",
		"tinypkg/sub/mod.py":   "NAME = 'sub'\n",
		"otherpkg/__init__.py": "OTHER = True\n",
	} {
		got, err := os.ReadFile(filepath.Join(target, rel))
		if err != nil {
			t.Errorf("%s not installed: %v", rel, err)
			continue
		}
		if string(got) != want {
			t.Errorf("%s = %q, want %q", rel, got, want)
		}
	}
	for _, di := range []string{"tinypkg-1.0.dist-info", "other_pkg-1.2.dist-info"} {
		if _, err := os.Stat(filepath.Join(target, di, "RECORD")); err != nil {
			t.Errorf("dist-info not installed: %v", err)
		}
	}
	if !idx.Fetched("tinypkg-1.0-py3-none-any.whl") || !idx.Fetched("other_pkg-1.2-py3-none-any.whl") {
		t.Errorf("wheels not fetched; requests: %q", idx.Requests())
	}
	if got := idx.Fetched("tinypkg-1.0-py3-none-any.whl.metadata"); got == legacy {
		t.Errorf("legacy=%v, but .metadata fetched=%v; requests: %q", legacy, got, idx.Requests())
	}
}

func TestUVRefusesSdistWithOnlyBinary(t *testing.T) {
	requireUV(t)
	t.Parallel()
	marker := filepath.Join(t.TempDir(), "sdist-ran")
	idx := NewIndex(t, Package{
		Name:        "sdistonly",
		Version:     "1.0",
		Modules:     map[string]string{"sdistonly/__init__.py": ""},
		SdistOnly:   true,
		SdistMarker: marker,
	})

	target, out, err := uvInstall(t, idx, true, "sdistonly")
	if err == nil {
		t.Fatalf("uv installed an sdist-only project with --only-binary :all:\n%s", out)
	}
	if _, err := os.Stat(marker); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the sdist's build code ran (marker %s: %v)", marker, err)
	}
	// uv leaves its ".lock" file in the target; nothing else may be there.
	entries, _ := os.ReadDir(target)
	for _, e := range entries {
		if e.Name() != ".lock" {
			t.Errorf("target contains %s", e.Name())
		}
	}
	if idx.Fetched("sdistonly-1.0.tar.gz") {
		t.Errorf("the sdist was downloaded; requests: %q", idx.Requests())
	}

	// Control: without --only-binary uv does build the sdist, which runs
	// the marker-writing backend. This shows the assertion above is not
	// vacuous.
	if _, out, err := uvInstall(t, idx, false, "sdistonly"); err == nil {
		t.Fatalf("building the sdist succeeded, but its backend always fails\n%s", out)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("without --only-binary the sdist's backend did not run: %v", err)
	}
}
