package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/interp-dev/interp/internal/config"
	"github.com/interp-dev/interp/internal/deps"
	"github.com/interp-dev/interp/internal/sandbox"
	"github.com/interp-dev/interp/internal/session"
)

// cacheDir is the package cache installs share: $INTERP_CACHE_DIR, else
// uv-cache in the state directory.
func cacheDir() string {
	return envOr("INTERP_CACHE_DIR", filepath.Join(session.DefaultStateDir(), "uv-cache"))
}

// cacheLimits are the configured bounds of the package cache, the
// built-in defaults where cache.max_size or cache.max_age is unset.
func cacheLimits(cfg *config.Config) (deps.CacheLimits, error) {
	l := deps.DefaultCacheLimits
	var err error
	if cfg.Cache.MaxSize != "" {
		if l.MaxBytes, err = parseBytes(cfg.Cache.MaxSize); err != nil {
			return l, &exitError{code: exitUsage, msg: fmt.Sprintf("cache.max_size: %v", err)}
		}
	}
	if cfg.Cache.MaxAge != "" {
		if l.MaxAge, err = time.ParseDuration(cfg.Cache.MaxAge); err != nil || l.MaxAge <= 0 {
			return l, &exitError{code: exitUsage, msg: fmt.Sprintf("cache.max_age: %q is not a duration such as 720h", cfg.Cache.MaxAge)}
		}
	}
	return l, nil
}

// configuredCacheLimits loads the config file and returns its cache bounds.
func configuredCacheLimits() (deps.CacheLimits, error) {
	cfg, err := config.Load(config.Path())
	if err != nil {
		return deps.CacheLimits{}, &exitError{code: exitUsage, msg: err.Error()}
	}
	return cacheLimits(cfg)
}

func newCacheCmd(*globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cache",
		Short: "Inspect or prune the package cache: info, prune",
	}
	var infoJSON bool
	info := &cobra.Command{
		Use:   "info [--json]",
		Short: "Say where the package cache is, its size and entries",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			st, err := deps.CacheInfo(c.Context(), cacheDir())
			if err != nil {
				return &exitError{code: exitInternal, msg: fmt.Sprintf("package cache: %v", err)}
			}
			return printCacheInfo(c.OutOrStdout(), st, infoJSON)
		},
	}
	info.Flags().BoolVar(&infoJSON, "json", false, "print JSON")

	var maxSize, maxAge string
	var pruneJSON bool
	prune := &cobra.Command{
		Use:   "prune [--max-size SIZE] [--max-age DURATION] [--json]",
		Short: "Remove the oldest cached packages: those older than --max-age, then until under --max-size",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			limits, err := configuredCacheLimits()
			if err != nil {
				return err
			}
			if maxSize != "" {
				if limits.MaxBytes, err = parseBytes(maxSize); err != nil {
					return &exitError{code: exitUsage, msg: fmt.Sprintf("--max-size: %v", err)}
				}
			}
			if maxAge != "" {
				if limits.MaxAge, err = time.ParseDuration(maxAge); err != nil || limits.MaxAge <= 0 {
					return &exitError{code: exitUsage, msg: fmt.Sprintf("--max-age: %q is not a duration such as 720h", maxAge)}
				}
			}
			res, err := deps.PruneCache(c.Context(), cacheDir(), limits)
			if errors.Is(err, deps.ErrCacheBusy) {
				return &exitError{code: exitInternal, msg: err.Error()}
			}
			if err != nil {
				return &exitError{code: exitInternal, msg: fmt.Sprintf("package cache: %v", err)}
			}
			if pruneJSON {
				enc := json.NewEncoder(c.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"dir": cacheDir(), "removed": res.Entries, "freed_bytes": res.Freed, "bytes_left": res.Size})
			}
			fmt.Fprintf(c.OutOrStdout(), "removed %d entries, freed %s; %s of entries left in %s\n",
				res.Entries, sandbox.FormatBytes(res.Freed), sandbox.FormatBytes(res.Size), cacheDir())
			return nil
		},
	}
	prune.Flags().StringVar(&maxSize, "max-size", "", "prune down to this size, oldest first (default cache.max_size, else 10GiB)")
	prune.Flags().StringVar(&maxAge, "max-age", "", "remove entries older than this, such as 720h (default cache.max_age, else 1440h)")
	prune.Flags().BoolVar(&pruneJSON, "json", false, "print JSON")
	cmd.AddCommand(info, prune)
	return cmd
}

func printCacheInfo(w io.Writer, st deps.CacheStats, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	fmt.Fprintf(w, "dir      %s\nsize     %s\nentries  %d\n", st.Dir, sandbox.FormatBytes(st.Bytes), st.Entries)
	if !st.Oldest.IsZero() {
		fmt.Fprintf(w, "oldest   %s\n", st.Oldest.Format(time.DateTime))
	}
	return nil
}
