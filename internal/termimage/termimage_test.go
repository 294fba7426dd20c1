package termimage

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/color"
	"image/png"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestDetect(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		env  map[string]string
		want Protocol
	}{
		{"kitty", map[string]string{"TERM": "xterm-kitty", "KITTY_WINDOW_ID": "1"}, Kitty},
		{"ghostty", map[string]string{"TERM": "xterm-ghostty", "TERM_PROGRAM": "ghostty"}, Kitty},
		{"iTerm2", map[string]string{"TERM": "xterm-256color", "TERM_PROGRAM": "iTerm.app"}, ITerm2},
		{"iTerm2 over ssh", map[string]string{"TERM": "xterm-256color", "LC_TERMINAL": "iTerm2"}, ITerm2},
		{"WezTerm", map[string]string{"TERM_PROGRAM": "WezTerm"}, ITerm2},
		{"foot", map[string]string{"TERM": "foot"}, Sixel},
		{"mlterm", map[string]string{"TERM": "mlterm"}, Sixel},
		{"plain xterm", map[string]string{"TERM": "xterm-256color"}, None},
		{"tmux in kitty", map[string]string{"TERM": "tmux-256color", "KITTY_WINDOW_ID": "1", "TMUX": "/tmp/x"}, None},
		{"override", map[string]string{"TERM": "xterm-256color", "INTERP_IMAGES": "sixel"}, Sixel},
		{"turned off", map[string]string{"TERM": "xterm-kitty", "INTERP_IMAGES": "none"}, None},
	}
	for _, tc := range cases {
		if got := Detect(func(k string) string { return tc.env[k] }); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// testPNG is w×h, red on its left half and blue on its right.
func testPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.RGBA{255, 0, 0, 255}
			if x >= w/2 {
				c = color.RGBA{0, 0, 255, 255}
			}
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestKitty(t *testing.T) {
	t.Parallel()
	data := testPNG(t, 200, 200)
	data = append(data, bytes.Repeat([]byte{0}, 8000)...) // more than one chunk
	seq, err := Encode(Kitty, data)
	if err != nil {
		t.Fatal(err)
	}
	chunks := regexp.MustCompile("\x1b_G([^;]*);([^\x1b]*)\x1b\\\\").FindAllStringSubmatch(string(seq), -1)
	if len(chunks) < 3 || !strings.HasPrefix(string(seq), "\x1b_Ga=T,f=100,") || !strings.HasSuffix(string(seq), "\x1b\\\n") {
		t.Fatalf("sequence: %q...", seq[:min(len(seq), 80)])
	}
	var payload strings.Builder
	for i, c := range chunks {
		last := i == len(chunks)-1
		if strings.HasSuffix(c[1], "m=1") == last || len(c[2]) > 4096 {
			t.Errorf("chunk %d: %q, %d bytes", i, c[1], len(c[2]))
		}
		payload.WriteString(c[2])
	}
	if got, err := base64.StdEncoding.DecodeString(payload.String()); err != nil || !bytes.Equal(got, data) {
		t.Errorf("the chunks do not carry the PNG: %v", err)
	}
}

func TestITerm2(t *testing.T) {
	t.Parallel()
	data := testPNG(t, 10, 10)
	seq, err := Encode(ITerm2, data)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("^\x1b]1337;File=inline=1;size=(\\d+);preserveAspectRatio=1:([A-Za-z0-9+/=]+)\a\n$").FindStringSubmatch(string(seq))
	if m == nil {
		t.Fatalf("sequence %q", seq)
	}
	if got, _ := base64.StdEncoding.DecodeString(m[2]); !bytes.Equal(got, data) {
		t.Error("the payload is not the PNG")
	}
}

// TestSixel decodes the sixel sequence back into pixels: the left half is
// drawn in a red of the palette, the right in a blue.
func TestSixel(t *testing.T) {
	t.Parallel()
	const w, h = 8, 7 // two bands, the second of one row
	seq, err := Encode(Sixel, testPNG(t, w, h))
	if err != nil {
		t.Fatal(err)
	}
	s := string(seq)
	if !strings.HasPrefix(s, "\x1bP0;1;0q\"1;1;8;7") || !strings.HasSuffix(s, "\x1b\\\n") {
		t.Fatalf("sequence %q", s)
	}
	body := s[strings.Index(s, "q")+1 : len(s)-3]
	body = regexp.MustCompile(`"[\d;]+|#\d+;2;\d+;\d+;\d+`).ReplaceAllString(body, "")
	// Paint: colour index per pixel.
	px := map[[2]int]int{}
	y0, x, c := 0, 0, -1
	for i := 0; i < len(body); i++ {
		switch ch := body[i]; {
		case ch == '#':
			j := i + 1
			for j < len(body) && body[j] >= '0' && body[j] <= '9' {
				j++
			}
			c = atoi(body[i+1 : j])
			i = j - 1
		case ch == '$':
			x = 0
		case ch == '-':
			x, y0 = 0, y0+6
		case ch == '!':
			j := i + 1
			for body[j] >= '0' && body[j] <= '9' {
				j++
			}
			n := atoi(body[i+1 : j])
			for k := 0; k < n; k++ {
				paint(px, body[j], x+k, y0, c)
			}
			x += n
			i = j
		case ch >= '?' && ch <= '~':
			paint(px, ch, x, y0, c)
			x++
		}
	}
	red, blue := 5*42, 5 // the palette's pure red and blue
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			want := red
			if x >= w/2 {
				want = blue
			}
			if got, ok := px[[2]int{x, y}]; !ok || got != want {
				t.Errorf("pixel %d,%d: colour %d (%v), want %d", x, y, got, ok, want)
			}
		}
	}
}

func paint(px map[[2]int]int, ch byte, x, y0, c int) {
	bits := int(ch) - 63
	for dy := 0; dy < 6; dy++ {
		if bits&(1<<dy) != 0 {
			px[[2]int{x, y0 + dy}] = c
		}
	}
}

func atoi(s string) int {
	n := 0
	for _, r := range s {
		n = n*10 + int(r-'0')
	}
	return n
}

func TestFit(t *testing.T) {
	t.Parallel()
	cell := image.Pt(10, 20)
	cases := []struct {
		w, h, maxCols, maxRows int
		cols, rows             int
	}{
		{100, 100, 80, 20, 10, 5},  // natural size
		{640, 480, 40, 24, 40, 15}, // narrower: the width rules
		{640, 480, 80, 12, 32, 12}, // shorter: the height rules
		{3, 3, 80, 20, 1, 1},       // at least a cell
		{0, 10, 80, 20, 1, 1},
	}
	for _, c := range cases {
		if cols, rows := Fit(c.w, c.h, cell, c.maxCols, c.maxRows); cols != c.cols || rows != c.rows {
			t.Errorf("Fit(%d×%d in %d×%d) = %d×%d, want %d×%d", c.w, c.h, c.maxCols, c.maxRows, cols, rows, c.cols, c.rows)
		}
	}
}

// TestEncodeInCells: each protocol draws into the cells given and puts
// the cursor back, with no newline of its own.
func TestEncodeInCells(t *testing.T) {
	t.Parallel()
	data := testPNG(t, 200, 100)
	cell := image.Pt(10, 20)
	for _, tc := range []struct {
		p    Protocol
		want string
	}{
		{Kitty, "\x1b_Ga=T,f=100,q=2,C=1,c=8,r=2,m=0;"},
		{ITerm2, "\x1b]1337;File=inline=1;size=" + strconv.Itoa(len(data)) + ";width=8;height=2;preserveAspectRatio=1:"},
		{Sixel, "\x1bP0;1;0q\"1;1;80;40"}, // 200×100 scaled to fit 8×2 cells of 10×20
	} {
		seq, err := EncodeInCells(tc.p, data, 8, 2, cell)
		if err != nil {
			t.Fatalf("%s: %v", tc.p, err)
		}
		s := string(seq)
		if !strings.HasPrefix(s, "\x1b7") || !strings.HasSuffix(s, "\x1b8") || strings.Contains(s, "\n") {
			t.Errorf("%s: not saved and restored around the image, or a newline: %q...%q", tc.p, s[:min(len(s), 40)], s[max(0, len(s)-10):])
		}
		if !strings.Contains(s, tc.want) {
			t.Errorf("%s: lacks %q: %q", tc.p, tc.want, s[:min(len(s), 120)])
		}
	}
}
