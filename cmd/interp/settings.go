package main

import (
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/interp-dev/interp/internal/config"
)

// settingFlag is a flag of a setting of config.Table: its text, read by
// config.Resolve, and the type its usage shows.
type settingFlag struct{ value, typ string }

func (f *settingFlag) String() string     { return f.value }
func (f *settingFlag) Set(v string) error { f.value = v; return nil }
func (f *settingFlag) Type() string       { return f.typ }

// keyAnnotation marks a flag with the config key it sets: two commands
// may give one flag name to different settings (--pool).
const keyAnnotation = "interp-config-key"

// declare declares on fs the flags of the settings with these config
// keys, with the table's help, environment variable and default.
func declare(fs *pflag.FlagSet, keys ...string) {
	for _, k := range keys {
		st, ok := config.Lookup(k)
		if !ok || st.Flag == "" {
			panic("declare: config.Table has no flag for " + k) // a programming error, caught by any test
		}
		usage := st.Help
		switch {
		case st.Env != "" && st.Default != "":
			usage += " (env " + st.Env + "; default " + st.Default + ")"
		case st.Env != "":
			usage += " (env " + st.Env + ")"
		case st.Default != "":
			usage += " (default " + st.Default + ")"
		}
		fs.VarP(&settingFlag{typ: st.Type()}, st.Flag, st.Short, usage)
		if st.Type() == "bool" {
			fs.Lookup(st.Flag).NoOptDefVal = "true" // --no-history, not --no-history=true
		}
		_ = fs.SetAnnotation(st.Flag, keyAnnotation, []string{k})
	}
}

// settings resolves the settings of the running command, once: its flags,
// the environment, the config file, the defaults. A bad value is a usage
// error naming its source.
func (g *globalFlags) settings() (*config.Settings, error) {
	if g.resolved != nil {
		return g.resolved, nil
	}
	var fs *pflag.FlagSet
	if g.cmd != nil {
		fs = g.cmd.Flags()
	}
	s, err := config.Resolve(config.Sources{Path: config.Path(), Getenv: os.Getenv, Flag: func(st config.Setting) (string, bool) {
		if fs == nil {
			return "", false
		}
		f := fs.Lookup(st.Flag)
		if f == nil || !f.Changed || len(f.Annotations[keyAnnotation]) == 0 || f.Annotations[keyAnnotation][0] != st.Key {
			return "", false
		}
		return f.Value.String(), true
	}})
	if err != nil {
		return nil, &exitError{code: exitUsage, msg: err.Error()}
	}
	g.resolved = s
	return s, nil
}

// home is the Interp home the settings name; the default when they cannot
// be read (the command reports that where it reads them).
func (g *globalFlags) homeDir() string {
	if s, err := g.settings(); err == nil {
		return s.Home
	}
	return config.DefaultHome
}

// runningCommand remembers the command cobra runs, whose flags settings
// reads.
func (g *globalFlags) runningCommand(cmd *cobra.Command, _ []string) {
	g.cmd, g.resolved = cmd, nil
}
