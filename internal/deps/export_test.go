package deps

// SetBeforeSeal makes s call f in the middle of storing a distribution:
// its files are in place, and it is not yet sealed nor published.
func SetBeforeSeal(s *Store, f func(tmp string)) { s.beforeSeal = f }
