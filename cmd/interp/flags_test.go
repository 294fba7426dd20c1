package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/interp-dev/interp/internal/config"
)

// notSettings are flags named like a setting of config.Table that set
// something else, and why.
var notSettings = map[string]string{
	"models serve --listen": "llama-server's own loopback address for other tools, not interp serve's",
	"doctor --model":        "a switch that contacts the model, not the model's name",
}

// envInUsage are flags whose usage names a setting's variable without
// reading it, and why.
var envInUsage = map[string]string{
	"serve --db": "an alias of --history for serve, which names the variable it overrides",
	"ui --db":    "an alias of --history for ui, which names the variable it overrides",
}

// sharedNames are the flag names two commands give to two settings, which
// the README's table lists apart.
var sharedNames = map[string]bool{"pool": true, "max-sessions": true, "idle-timeout": true, "max-size": true, "timeout": true, "task-timeout": true}

// TestFlagsFromTable walks every command's flags. A flag of a setting
// takes its name, help, environment variable and default from
// config.Table (so no command shows another default than the next); a
// flag named like a setting is one (or listed in notSettings); and no
// other flag reads the environment or claims a setting's default.
func TestFlagsFromTable(t *testing.T) {
	t.Parallel()
	byFlag := map[string][]config.Setting{}
	for _, st := range config.Table {
		if st.Flag != "" {
			byFlag[st.Flag] = append(byFlag[st.Flag], st)
		}
	}
	envUsage := regexp.MustCompile(`\benv INTERP_|\$INTERP_`)
	declared := map[string]bool{}
	for name, sts := range byFlag {
		if len(sts) > 1 && !sharedNames[name] {
			t.Errorf("config.Table gives --%s to %d settings: rename one, or add it to sharedNames (and the README's list)", name, len(sts))
		}
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.NonInheritedFlags().VisitAll(func(f *pflag.Flag) {
			where := c.CommandPath() + " --" + f.Name
			keys := f.Annotations[keyAnnotation]
			if len(keys) == 0 {
				if _, ok := byFlag[f.Name]; ok && notSettings[strings.TrimPrefix(where, "interp ")] == "" {
					t.Errorf("%s is named like a setting of config.Table but is not declared from it: use declare, or list it in notSettings with the reason", where)
				}
				if envUsage.MatchString(f.Usage) && envInUsage[strings.TrimPrefix(where, "interp ")] == "" {
					t.Errorf("%s reads the environment outside config.Table: %q", where, f.Usage)
				}
				return
			}
			st, ok := config.Lookup(keys[0])
			if !ok {
				t.Errorf("%s sets %s, which config.Table lacks", where, keys[0])
				return
			}
			declared[st.Key] = true
			if f.Name != st.Flag || f.DefValue != "" || !strings.HasPrefix(f.Usage, st.Help) {
				t.Errorf("%s: name %q, default %q, usage %q; the table says --%s, help %q", where, f.Name, f.DefValue, f.Usage, st.Flag, st.Help)
			}
			if st.Default != "" && !strings.Contains(f.Usage, "default "+st.Default+")") {
				t.Errorf("%s: usage %q does not show the table's default %s", where, f.Usage, st.Default)
			}
			if st.Env != "" && !strings.Contains(f.Usage, "env "+st.Env) {
				t.Errorf("%s: usage %q does not name %s", where, f.Usage, st.Env)
			}
			if typ := st.Type(); f.Value.Type() != typ {
				t.Errorf("%s: type %s, want %s", where, f.Value.Type(), typ)
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCmd())
	for _, st := range config.Table {
		if st.Flag != "" && !declared[st.Key] {
			t.Errorf("config.Table gives %s the flag --%s, which no command declares", st.Key, st.Flag)
		}
	}
}

// differentDefaults are flag names outside config.Table that commands
// give different defaults, and why.
var differentDefaults = map[string]string{
	"limit":     "a count of different things: conversations listed, tasks run, audit entries",
	"log-level": "ui runs for one person at a terminal, which warnings alone should reach; serve logs for an operator",
	"model":     "doctor's --model is a switch; see notSettings",
}

// TestOtherFlagsOneDefault: a flag that is not a setting's has one default
// wherever it appears, unless listed in differentDefaults.
func TestOtherFlagsOneDefault(t *testing.T) {
	t.Parallel()
	first := map[string]string{} // name: "command: default"
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.NonInheritedFlags().VisitAll(func(f *pflag.Flag) {
			if len(f.Annotations[keyAnnotation]) > 0 || differentDefaults[f.Name] != "" {
				return
			}
			here := c.CommandPath() + ": " + f.DefValue
			if prev, ok := first[f.Name]; ok && !strings.HasSuffix(prev, ": "+f.DefValue) {
				t.Errorf("--%s defaults differ: %s, %s; make them one, or list it in differentDefaults with the reason", f.Name, prev, here)
			}
			if _, ok := first[f.Name]; !ok {
				first[f.Name] = here
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCmd())
}

// TestHelpShowsOneDefault renders every command's --help and checks that
// each flag of a setting shows the same default wherever it appears.
func TestHelpShowsOneDefault(t *testing.T) {
	t.Parallel()
	shown := map[string]string{} // key: the first help line that showed it
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, line := range strings.Split(c.Flags().FlagUsages()+c.InheritedFlags().FlagUsages(), "\n") {
			m := regexp.MustCompile(`^\s+(?:-\w, )?--([\w-]+)`).FindStringSubmatch(line)
			if m == nil {
				continue
			}
			f := c.Flags().Lookup(m[1])
			if f == nil {
				f = c.InheritedFlags().Lookup(m[1])
			}
			if f == nil || len(f.Annotations[keyAnnotation]) == 0 {
				continue
			}
			key := f.Annotations[keyAnnotation][0]
			_, def, _ := strings.Cut(line, "(")
			if first, ok := shown[key]; ok && first != def {
				t.Errorf("%s --help shows %s as %q; another command shows %q", c.CommandPath(), key, def, first)
			}
			shown[key] = def
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCmd())
	if len(shown) == 0 {
		t.Fatal("no help line showed a setting's flag")
	}
}
