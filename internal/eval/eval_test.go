package eval

import (
	"testing"
)

func TestCheckExpect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		answer string
		expect []any
		tol    float64
		want   bool
	}{
		{"The mean is 49.38.", []any{49.3825}, 0.01, true},
		{"@mean[49.3825]", []any{49.3825}, 0, true},
		{"The mean is 52.", []any{49.3825}, 0.01, false},
		{"Total: 1,234.50 yuan", []any{1234.5}, 0, true},
		{"values 1,2,3", []any{2.0}, 0, true},
		{"相关系数为 −0.25", []any{-0.25}, 0.001, true},
		{"virginica has the largest mean, 2.026", []any{"virginica", 2.026}, 0.01, true},
		{"Virginica: 2.026", []any{"virginica", 2.026}, 0.01, true},
		{"setosa: 2.026", []any{"virginica", 2.026}, 0.01, false},
		{"sensor s12 is highest", []any{"s1"}, 0, false},
		{"the year 1957", []any{1957.0}, 0, true},
		{"the year 1958", []any{1957.0}, 0, false},
		{"最高的是 2024-03-14", []any{"2024-03-14"}, 0, true},
	}
	for _, tt := range tests {
		if got, why := checkExpect(tt.answer, tt.expect, tt.tol); got != tt.want {
			t.Errorf("%q against %v: %v (%s), want %v", tt.answer, tt.expect, got, why, tt.want)
		}
	}
}

func TestShippedSuite(t *testing.T) {
	t.Parallel()
	s, err := LoadSuite("../../eval/suite.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	zh := 0
	for _, task := range s.Tasks {
		if task.Lang == "zh" {
			zh++
		}
		if task.Source == "" || task.License == "" {
			t.Errorf("task %s does not say its source and licence", task.ID)
		}
	}
	if len(s.Tasks) < 60 || zh*2 < len(s.Tasks) {
		t.Errorf("%d tasks, %d in Chinese: want at least 60, half in Chinese", len(s.Tasks), zh)
	}
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	v := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	if p := percentile(v, 50); p != 5 {
		t.Errorf("p50 %v", p)
	}
	if p := percentile(v, 90); p != 9 {
		t.Errorf("p90 %v", p)
	}
}
