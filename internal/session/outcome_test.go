package session

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/png"
	"strings"
	"testing"

	"github.com/interp-dev/interp/internal/event"
)

func TestOutcomeText(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 30, 20))); err != nil {
		t.Fatal(err)
	}
	var o Outcome
	for _, ev := range []Event{
		{Type: event.Stdout, Text: "hello\n"},
		{Type: event.Stderr, Text: "warn\n"},
		{Type: event.Display, Data: map[string]any{"text/plain": "<Figure>", "image/png": base64.StdEncoding.EncodeToString(buf.Bytes())}},
		{Type: event.Display, Data: map[string]any{"text/plain": "42"}},
		{Type: event.Error, EName: "ValueError", EValue: "bad", Traceback: []string{"Traceback:", "ValueError: bad"}},
		{Type: event.File, Path: "a.csv", Size: 2048, Change: "created"},
		{Type: event.File, Path: "old.txt", Change: "deleted"},
		{Type: event.Install, Phase: event.PhaseInstalled, Package: "humanize", Version: "4.1"},
		{Type: event.Install, Phase: event.PhaseFailed, Message: "no such package"},
	} {
		o.Add(ev)
	}
	want := "stdout:\nhello\nstderr:\nwarn\nresult:\n[image 1: 30x20 png] <Figure>\n42\nerror:\nTraceback:\nValueError: bad\n" +
		"files: a.csv (created, 2.0 KiB), old.txt (deleted)\ninstalled: humanize 4.1\nnote: install failed: no such package"
	if got := o.Text(0); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if imgs := o.Images(); len(imgs) != 1 || imgs[0].Width != 30 || imgs[0].Height != 20 {
		t.Errorf("images %+v", imgs)
	}
	if f := o.Failure(); f == nil || f.EName != "ValueError" {
		t.Errorf("failure %+v", f)
	}
}

func TestOutcomeKeepsHeadAndTail(t *testing.T) {
	t.Parallel()
	var o Outcome
	o.Add(Event{Type: event.Stdout, Text: "START" + strings.Repeat("x", 10000) + "END"})
	got := o.Text(2000)
	if !strings.HasPrefix(got, "stdout:\nSTART") || !strings.HasSuffix(got, "END") || !strings.Contains(got, "bytes omitted") || len(got) > 1200 {
		t.Errorf("%d bytes: %.80q ... %.40q", len(got), got, got[len(got)-40:])
	}
	if (&Outcome{}).Text(100) != "" {
		t.Error("an empty outcome has text")
	}
}

func TestCheckEnv(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env  []string
		want string // "" for no error, else a part of the message
	}{
		{[]string{"A=1", "B_2=x=y", "EMPTY="}, ""},
		{[]string{"HOME_DIR=/x"}, ""},
		{[]string{"NOVALUE"}, "NAME=VALUE"},
		{[]string{"2X=1"}, "a name is"},
		{[]string{"A-B=1"}, "a name is"},
		{[]string{"PATH=/evil"}, "set by Interp"},
		{[]string{"INTERP_SITE=/x"}, "set by Interp"},
		{[]string{"A=x\x00y"}, "NUL"},
		{[]string{"A=" + strings.Repeat("x", 70<<10)}, "64 KiB"},
	} {
		err := CheckEnv(tc.env)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("CheckEnv(%.40q) = %v, want %q", tc.env, err, tc.want)
		}
	}
}
