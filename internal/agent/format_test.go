package agent

import "testing"

func TestTaskFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		task   string
		good   []string
		bad    []string
		noneOK bool
	}{
		{task: "Mean of x? Answer as @mean_x[value] and @std_x[value].",
			good: []string{"@mean_x[1.5] @std_x[0.2]", "The mean is @mean_x[1.5], std @std_x[ 0.2 ]"},
			bad:  []string{"1.5 and 0.2", "@mean_x[1.5]", "@mean_x[] @std_x[]"}},
		{task: "计算平均值，答案格式为 @平均值[数值]",
			good: []string{"@平均值[3.2]"}, bad: []string{"平均值是 3.2"}},
		{task: "Give the result in the format `{\"mean\": <m>, \"n\": <count>}`.",
			good: []string{`{"mean": 2.5, "n": 10}`, `Result: {"mean":2.5,"n":10}`},
			bad:  []string{"mean 2.5, n 10", `{"avg": 2.5, "n": 10}`}},
		{task: "Reply in the format `name: value`.", good: []string{"mean: 4"}, bad: []string{"mean is 4"}},
		{task: "Save the plot in PNG format as \"plot.png\" and tell me the mean.", noneOK: true},
		{task: "What is the average of column x in data.csv?", noneOK: true},
	}
	for _, tt := range tests {
		f := taskFormat(tt.task)
		if tt.noneOK {
			if f != nil {
				t.Errorf("%q: found a format %v in a task that states none", tt.task, f.templates)
			}
			continue
		}
		if f == nil {
			t.Errorf("%q: no format found", tt.task)
			continue
		}
		for _, g := range tt.good {
			if !f.matches(g) {
				t.Errorf("%q: %q should match %v", tt.task, g, f.patterns)
			}
		}
		for _, b := range tt.bad {
			if f.matches(b) {
				t.Errorf("%q: %q should not match %v", tt.task, b, f.patterns)
			}
		}
	}
}

func TestNormaliseError(t *testing.T) {
	t.Parallel()
	a := normaliseError("SyntaxError: unmatched '}' (<cell 1>, line 7)")
	b := normaliseError("SyntaxError: unmatched '}' (<cell 12>, line 7)")
	if a != b {
		t.Errorf("%q != %q", a, b)
	}
	if normaliseError("TypeError: <object at 0x7f3a2b>") != normaliseError("TypeError: <object at 0x7f9999>") {
		t.Error("addresses were not normalised")
	}
	if normaliseError("KeyError: 'a'") == normaliseError("KeyError: 'b'") {
		t.Error("different errors compare equal")
	}
}

func TestRepeating(t *testing.T) {
	t.Parallel()
	code := "import pandas as pd\ndf = pd.read_csv('data.csv')\nfor c in df.columns:\n    print(c, df[c].mean())\n"
	d := &runawayDetector{}
	for _, piece := range []string{code, code[:40], "print('=' * 80)\n", "x = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]\n"} {
		if d.add(piece) {
			t.Fatalf("ordinary code was taken for a runaway: %q", d.text())
		}
	}
	for i := 0; i < 100; i++ {
		if d.add("1, 2, 1, 2, ") {
			return
		}
	}
	t.Error("a repeating answer was not detected")
}
