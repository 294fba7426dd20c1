package deps

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"
)

func TestBuildFailureNamesWhatIsMissing(t *testing.T) {
	t.Parallel()
	for log, want := range map[string]string{
		"src/_portaudiomodule.c:29:10: fatal error: portaudio.h: No such file or directory":    "portaudio",
		"/bin/sh: 1: mysql_config: not found\nOSError: mysql_config not found":                 "libmysqlclient",
		"error: command 'x86_64-linux-gnu-gcc' failed: No such file or directory":              "a C compiler",
		"unable to execute 'gcc': No such file or directory":                                   "a C compiler",
		"error: [Errno 2] No such file or directory: 'x86_64-linux-gnu-gcc'":                   "a C compiler",
		"Package 'portaudio-2.0' was not found in the pkg-config search path":                  "portaudio-2.0",
		"error: can't find Rust compiler":                                                      "a Rust compiler",
		"fatal error: weird/thing.h: No such file or directory":                                "weird/thing.h",
		"Traceback (most recent call last):\n  ...\nRuntimeError: something else went wrong\n": "its build failed: RuntimeError: something else went wrong",
	} {
		if got := buildFailure(log); !strings.Contains(got, want) || strings.Contains(got, "\n") {
			t.Errorf("buildFailure(%q) = %q, want one line naming %q", log, got, want)
		}
	}
}

func TestNeedsBuild(t *testing.T) {
	t.Parallel()
	for msg, want := range map[string]string{
		"cannot install theano: No solution found when resolving dependencies; cause: Because all versions of theano have no usable wheels and you require theano, we can conclude that your requirements are unsatisfiable.": "theano",
		"cannot install pyspark==3.5.1: cause: Because pyspark==3.5.1 has no usable wheels and you require pyspark==3.5.1, ...":                                                                                               "pyspark",
		"cannot install x: no such package": "",
	} {
		if got := NeedsBuild(errors.New(msg)); got != want {
			t.Errorf("NeedsBuild(%q) = %q, want %q", msg, got, want)
		}
	}
}

func TestVersionsAndSpecifiers(t *testing.T) {
	t.Parallel()
	v := func(s string) version {
		x, ok := parseVersion(s)
		if !ok {
			t.Fatalf("parseVersion(%q) failed", s)
		}
		return x
	}
	ordered := []string{"0.9", "0.19.2", "0.20", "1.0", "1.0.post1", "1.8.4", "2.0", "10.0", "1!0.1"}
	for i := 1; i < len(ordered); i++ {
		if v(ordered[i-1]).compare(v(ordered[i])) >= 0 {
			t.Errorf("%s should come before %s", ordered[i-1], ordered[i])
		}
	}
	for _, s := range []string{"1.0rc1", "2.0.dev3", "1.0b2", "3.0a1"} {
		if !v(s).pre {
			t.Errorf("%s is a pre-release", s)
		}
	}
	for _, tc := range []struct {
		spec, v string
		ok      bool
	}{
		{"", "1.0", true}, {"<2.0", "1.9", true}, {"<2.0", "2.0", false}, {">=1,<2", "1.5", true},
		{"==1.0", "1.0.0", true}, {"!=1.0", "1.0", false}, {"~=1.4", "1.9", true}, {"~=1.4", "2.0", false},
		{"~=1.4.2", "1.5", false}, {"==1.*", "1.7", true}, {"==1.*", "2.0", false},
	} {
		if got := specAllows(tc.spec, v(tc.v)); got != tc.ok {
			t.Errorf("specAllows(%q, %s) = %v", tc.spec, tc.v, got)
		}
	}
}

func TestHasModule(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"pkg/__init__.py":     {Data: []byte("from .core import Connection\n__all__ = ['helper']\nclass Client:\n    pass\n")},
		"pkg/core.py":         {Data: []byte("class Connection:\n    pass\n# Removed: OldThing\n")},
		"pkg/sub/__init__.py": {Data: []byte("")},
		"pkg/sub/leaf.py":     {Data: []byte("")},
		"ext/__init__.py":     {Data: []byte("")},
		"ext/_fast.cpython-311-x86_64-linux-gnu.so": {Data: []byte("")},
	}
	for _, tc := range []struct {
		module string
		strict bool
		want   bool
	}{
		{"pkg", true, true}, {"pkg.sub.leaf", true, true}, {"pkg.core.Connection", true, true},
		{"pkg.Connection", true, true}, {"pkg.Client", true, true}, {"pkg.helper", true, true},
		{"pkg.core.OldThing", true, false}, {"pkg.gone", true, false}, {"pkg.gone", false, true},
		{"pkg.gone.deeper", false, false}, {"ext._fast.anything", true, true}, {"missing", false, false},
	} {
		if got := hasModule(fsys, tc.module, tc.strict); got != tc.want {
			t.Errorf("hasModule(%s, strict=%v) = %v", tc.module, tc.strict, got)
		}
	}
}
