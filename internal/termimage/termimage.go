// Package termimage draws images in terminals that can show them: kitty's
// graphics protocol (kitty, Ghostty, WezTerm), iTerm2's inline images
// (iTerm2, WezTerm, VS Code's terminal) and sixel (foot, mlterm, xterm
// with sixel, Windows Terminal, ...). It picks the protocol from the
// environment, as terminals announce themselves there, and encodes a PNG
// or JPEG as the escape sequence that draws it. A terminal it does not
// recognise gets none: the caller shows a file's path instead.
package termimage

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	_ "image/jpeg" // decoded for kitty and sixel
	"image/png"
	"math"
	"strings"
)

// Protocol is a way a terminal draws images.
type Protocol string

// The protocols; None draws nothing.
const (
	None   Protocol = ""
	Kitty  Protocol = "kitty"
	ITerm2 Protocol = "iterm2"
	Sixel  Protocol = "sixel"
)

// Detect picks the protocol the terminal described by getenv (os.Getenv)
// speaks. INTERP_IMAGES (kitty, iterm2, sixel or none) overrides what the
// terminal's variables say. Inside tmux or screen it is None: they would
// need their own passthrough.
func Detect(getenv func(string) string) Protocol {
	switch v := strings.ToLower(getenv("INTERP_IMAGES")); v {
	case "kitty", "iterm2", "sixel":
		return Protocol(v)
	case "none", "off", "0":
		return None
	}
	term, program := getenv("TERM"), getenv("TERM_PROGRAM")
	if getenv("TMUX") != "" || strings.HasPrefix(term, "screen") || strings.HasPrefix(term, "tmux") {
		return None
	}
	switch {
	case getenv("KITTY_WINDOW_ID") != "" || term == "xterm-kitty" || term == "xterm-ghostty" || program == "ghostty":
		return Kitty
	case program == "iTerm.app" || getenv("LC_TERMINAL") == "iTerm2" || program == "WezTerm" || program == "vscode":
		return ITerm2
	case strings.Contains(term, "sixel") || term == "foot" || term == "foot-extra" || term == "mlterm" ||
		strings.HasPrefix(term, "yaft") || term == "contour" || getenv("WT_SESSION") != "":
		return Sixel
	}
	return None
}

// Encode returns the escape sequence that draws data, a PNG or JPEG, at
// the cursor, followed by a newline.
func Encode(p Protocol, data []byte) ([]byte, error) {
	switch p {
	case Kitty:
		return kitty(data, "")
	case ITerm2:
		return iterm2(data, ""), nil
	case Sixel:
		img, _, err := image.Decode(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("termimage: %w", err)
		}
		return sixel(img), nil
	}
	return nil, fmt.Errorf("termimage: no protocol")
}

// Fit is the size in cells that an image of w×h pixels takes, cell being
// a cell's size in pixels: its natural size, scaled down (never up) to
// fit within maxCols×maxRows, at least one cell each way.
func Fit(w, h int, cell image.Point, maxCols, maxRows int) (cols, rows int) {
	if w <= 0 || h <= 0 || cell.X <= 0 || cell.Y <= 0 {
		return 1, 1
	}
	fw, fh := float64(w)/float64(cell.X), float64(h)/float64(cell.Y)
	s := min(1, float64(maxCols)/fw, float64(maxRows)/fh)
	return max(1, int(math.Ceil(fw*s-0.01))), max(1, int(math.Ceil(fh*s-0.01)))
}

// EncodeInCells returns the escape sequence that draws data, a PNG or
// JPEG, within cols×rows cells from the cursor, and puts the cursor back
// where it was: the caller lays out the lines around it, as a program
// that redraws part of the screen must. kitty and iTerm2 scale the image
// to the cells themselves; sixel, which is pixels, is scaled here, cell
// being a cell's size in pixels.
func EncodeInCells(p Protocol, data []byte, cols, rows int, cell image.Point) ([]byte, error) {
	var seq []byte
	var err error
	switch p {
	case Kitty:
		seq, err = kitty(data, fmt.Sprintf(",C=1,c=%d,r=%d", cols, rows))
	case ITerm2:
		seq = iterm2(data, fmt.Sprintf("width=%d;height=%d;", cols, rows))
	case Sixel:
		var img image.Image
		if img, _, err = image.Decode(bytes.NewReader(data)); err != nil {
			return nil, fmt.Errorf("termimage: %w", err)
		}
		b := img.Bounds()
		s := min(1, float64(cols*cell.X)/float64(b.Dx()), float64(rows*cell.Y)/float64(b.Dy()))
		seq = sixel(shrink(img, max(1, int(float64(b.Dx())*s)), max(1, int(float64(b.Dy())*s))))
	default:
		return nil, fmt.Errorf("termimage: no protocol")
	}
	if err != nil {
		return nil, err
	}
	// Save the cursor, draw, restore it: each protocol leaves the cursor
	// somewhere else after an image.
	out := append([]byte("\x1b7"), bytes.TrimSuffix(seq, []byte("\n"))...)
	return append(out, "\x1b8"...), nil
}

// shrink scales img down to w×h, each pixel the average of those it
// covers, so thin lines of a plot fade rather than vanish.
func shrink(img image.Image, w, h int) image.Image {
	b := img.Bounds()
	if w >= b.Dx() && h >= b.Dy() {
		return img
	}
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		y0, y1 := b.Min.Y+y*b.Dy()/h, b.Min.Y+max((y+1)*b.Dy()/h, y*b.Dy()/h+1)
		for x := 0; x < w; x++ {
			x0, x1 := b.Min.X+x*b.Dx()/w, b.Min.X+max((x+1)*b.Dx()/w, x*b.Dx()/w+1)
			var r, g, bl, a, n uint32
			for sy := y0; sy < y1; sy++ {
				for sx := x0; sx < x1; sx++ {
					cr, cg, cb, ca := img.At(sx, sy).RGBA()
					r, g, bl, a, n = r+cr, g+cg, bl+cb, a+ca, n+1
				}
			}
			out.SetRGBA(x, y, color.RGBA{uint8(r / n >> 8), uint8(g / n >> 8), uint8(bl / n >> 8), uint8(a / n >> 8)})
		}
	}
	return out
}

// kitty sends a PNG in chunks of 4096 base64 bytes, as the protocol
// wants: a=T transmits and shows it, f=100 says PNG, m=1 more to come;
// keys are more keys of the first chunk (",c=40,r=12").
func kitty(data []byte, keys string) ([]byte, error) {
	if !bytes.HasPrefix(data, []byte("\x89PNG")) {
		img, _, err := image.Decode(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("termimage: %w", err)
		}
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			return nil, fmt.Errorf("termimage: %w", err)
		}
		data = b.Bytes()
	}
	enc := base64.StdEncoding.EncodeToString(data)
	var out bytes.Buffer
	for first := true; first || enc != ""; first = false {
		chunk := enc
		if len(chunk) > 4096 {
			chunk = chunk[:4096]
		}
		enc = enc[len(chunk):]
		more := 0
		if enc != "" {
			more = 1
		}
		if first {
			fmt.Fprintf(&out, "\x1b_Ga=T,f=100,q=2%s,m=%d;%s\x1b\\", keys, more, chunk)
		} else {
			fmt.Fprintf(&out, "\x1b_Gm=%d;%s\x1b\\", more, chunk)
		}
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// iterm2 sends the file as it is: iTerm2 decodes PNG and JPEG itself;
// keys are more of its arguments ("width=40;height=12;").
func iterm2(data []byte, keys string) []byte {
	return fmt.Appendf(nil, "\x1b]1337;File=inline=1;size=%d;%spreserveAspectRatio=1:%s\a\n",
		len(data), keys, base64.StdEncoding.EncodeToString(data))
}

// sixel encodes img in a palette of 6×7×6 colours (enough for plots), on
// white where it is transparent: each band of six rows is sent colour by
// colour, runs of the same sixel shortened as "!n".
func sixel(src image.Image) []byte {
	b := src.Bounds()
	img := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	draw.Draw(img, img.Bounds(), src, b.Min, draw.Over)
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	index := func(c color.RGBA) int {
		return int(c.R)*6/256*42 + int(c.G)*7/256*6 + int(c.B)*6/256
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, "\x1bP0;1;0q\"1;1;%d;%d", w, h)
	for i := 0; i < 252; i++ {
		r, g, bl := i/42, i/6%7, i%6
		fmt.Fprintf(&out, "#%d;2;%d;%d;%d", i, r*100/5, g*100/6, bl*100/5)
	}
	px := make([]int, w*6)
	for y0 := 0; y0 < h; y0 += 6 {
		used := map[int]bool{}
		var order []int
		for dy := 0; dy < 6; dy++ {
			for x := 0; x < w; x++ {
				px[dy*w+x] = -1
				if y0+dy < h {
					c := index(img.RGBAAt(x, y0+dy))
					px[dy*w+x] = c
					if !used[c] {
						used[c] = true
						order = append(order, c)
					}
				}
			}
		}
		for n, c := range order {
			if n > 0 {
				out.WriteByte('$')
			}
			fmt.Fprintf(&out, "#%d", c)
			run, last := 0, byte(0)
			flush := func() {
				switch {
				case run > 3:
					fmt.Fprintf(&out, "!%d%c", run, last)
				default:
					for ; run > 0; run-- {
						out.WriteByte(last)
					}
				}
				run = 0
			}
			for x := 0; x < w; x++ {
				bits := 0
				for dy := 0; dy < 6; dy++ {
					if px[dy*w+x] == c {
						bits |= 1 << dy
					}
				}
				ch := byte(63 + bits)
				if run > 0 && ch != last {
					flush()
				}
				last = ch
				run++
			}
			flush()
		}
		out.WriteByte('-')
	}
	out.WriteString("\x1b\\\n")
	return out.Bytes()
}
