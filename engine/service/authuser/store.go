package authuser

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/emqgo/emqgo/engine/passhash"
)

// Errors of the Store's changes, for the control commands.
var (
	ErrExists   = errors.New("authuser: already exists")
	ErrNotFound = errors.New("authuser: not found")
	ErrEmpty    = errors.New("authuser: empty name")
)

// record is one stored credential: the hash of the password under Spec (a password_hash value,
// so that a record made under an earlier password_hash still checks), with its salt.
type record struct {
	Spec string `json:"hash_type"`
	Salt string `json:"salt,omitempty"` // hex
	Hash string `json:"password"`
	spec passhash.Spec
	salt []byte
}

// fileFormat is the store's file: a version and the records by name.
type fileFormat struct {
	Version int                `json:"version"`
	Users   map[string]*record `json:"users"`
}

// Store is a durable table of names (user names or client ids) and password hashes, kept in
// memory and in one JSON file that every change rewrites atomically (a temporary file,
// fsynced, renamed over the old one). Passwords are never kept, only their hashes (plain text
// only under password_hash = plain). Safe for concurrent use: checks take a read lock and never
// wait on the disk; changes are serialised and return once the file is durable.
type Store struct {
	path string
	wmu  sync.Mutex // serialises changes and file writes
	mu   sync.RWMutex
	recs map[string]*record
}

// OpenStore loads the store kept in path; a missing file is an empty store. A file that does
// not parse is an error naming it: the caller refuses to start the plugin rather than lose
// users.
func OpenStore(path string) (*Store, error) {
	s := &Store{path: path, recs: map[string]*record{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read user store %q: %w", path, err)
	}
	var f fileFormat
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("user store %q is damaged: %w", path, err)
	}
	for name, r := range f.Users {
		if r == nil {
			return nil, fmt.Errorf("user store %q is damaged: entry %q is empty", path, name)
		}
		if r.spec, err = passhash.Parse(r.Spec); err != nil {
			return nil, fmt.Errorf("user store %q: entry %q: %w", path, name, err)
		}
		if r.salt, err = hex.DecodeString(r.Salt); err != nil {
			return nil, fmt.Errorf("user store %q: entry %q: bad salt: %w", path, name, err)
		}
		s.recs[name] = r
	}
	return s, nil
}

// Path is the store's file.
func (s *Store) Path() string { return s.path }

// newRecord hashes password under spec with a fresh random salt. Unsalted digests get a
// salt before the password (EMQX's built-in tables do the same), so that equal passwords do
// not give equal hashes.
func newRecord(password []byte, spec passhash.Spec) (*record, error) {
	var salt []byte
	switch spec.Algo {
	case passhash.Plain, passhash.Bcrypt:
	default:
		salt = make([]byte, 8)
		if _, err := rand.Read(salt); err != nil {
			return nil, fmt.Errorf("cannot make a salt: %w", err)
		}
		if spec.Algo != passhash.PBKDF2 && spec.Salt == passhash.NoSalt {
			spec.Salt = passhash.Prefix
		}
	}
	h, err := passhash.Hash(spec, password, salt)
	if err != nil {
		return nil, err
	}
	return &record{Spec: spec.String(), Salt: hex.EncodeToString(salt), Hash: h, spec: spec, salt: salt}, nil
}

// change applies fn to a copy of the table and makes the result durable, then current.
func (s *Store) change(fn func(m map[string]*record) error) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.RLock()
	m := make(map[string]*record, len(s.recs)+1)
	for k, v := range s.recs {
		m[k] = v
	}
	s.mu.RUnlock()
	if err := fn(m); err != nil {
		return err
	}
	if err := s.write(m); err != nil {
		return err
	}
	s.mu.Lock()
	s.recs = m
	s.mu.Unlock()
	return nil
}

// write replaces the file with m atomically.
func (s *Store) write(m map[string]*record) error {
	data, err := json.MarshalIndent(fileFormat{Version: 1, Users: m}, "", "  ")
	if err != nil {
		return fmt.Errorf("BUG: cannot encode user store: %w", err)
	}
	dir := filepath.Dir(s.path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cannot create directory of user store %q: %w", s.path, err)
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(s.path)+".tmp*")
	if err != nil {
		return fmt.Errorf("cannot write user store %q: %w", s.path, err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename this finds nothing
	err = tmp.Chmod(0o600)
	if err == nil {
		_, err = tmp.Write(append(data, '\n'))
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), s.path)
	}
	if err != nil {
		return fmt.Errorf("cannot write user store %q: %w", s.path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // the rename itself durable
		d.Close()
	}
	return nil
}

// Add stores name with password hashed under spec; ErrExists if name is there already.
func (s *Store) Add(name string, password []byte, spec passhash.Spec) error {
	if name == "" {
		return ErrEmpty
	}
	r, err := newRecord(password, spec)
	if err != nil {
		return err
	}
	return s.change(func(m map[string]*record) error {
		if m[name] != nil {
			return ErrExists
		}
		m[name] = r
		return nil
	})
}

// AddMissing adds the entries of users (name → password) that the store does not have, in one
// write, and reports how many it added. Configured users are added this way at load: a user
// changed at run time keeps its password.
func (s *Store) AddMissing(users map[string]string, spec passhash.Spec) (int, error) {
	s.mu.RLock()
	var missing []string
	for name := range users {
		if s.recs[name] == nil {
			missing = append(missing, name)
		}
	}
	s.mu.RUnlock()
	if len(missing) == 0 {
		return 0, nil
	}
	recs := make(map[string]*record, len(missing))
	for _, name := range missing {
		r, err := newRecord([]byte(users[name]), spec)
		if err != nil {
			return 0, err
		}
		recs[name] = r
	}
	added := 0
	err := s.change(func(m map[string]*record) error {
		for name, r := range recs {
			if m[name] == nil {
				m[name] = r
				added++
			}
		}
		return nil
	})
	return added, err
}

// Update replaces the password of name; ErrNotFound if it is not there.
func (s *Store) Update(name string, password []byte, spec passhash.Spec) error {
	r, err := newRecord(password, spec)
	if err != nil {
		return err
	}
	return s.change(func(m map[string]*record) error {
		if m[name] == nil {
			return ErrNotFound
		}
		m[name] = r
		return nil
	})
}

// Delete removes name; ErrNotFound if it is not there.
func (s *Store) Delete(name string) error {
	return s.change(func(m map[string]*record) error {
		if m[name] == nil {
			return ErrNotFound
		}
		delete(m, name)
		return nil
	})
}

// Names lists the stored names, sorted.
func (s *Store) Names() []string {
	s.mu.RLock()
	out := make([]string, 0, len(s.recs))
	for n := range s.recs {
		out = append(out, n)
	}
	s.mu.RUnlock()
	sort.Strings(out)
	return out
}

// Check looks name up and compares password with its hash in constant time. found is false
// when name is not stored; err is nil on a match, passhash.ErrMismatch on a wrong password.
func (s *Store) Check(name string, password []byte) (found bool, err error) {
	s.mu.RLock()
	r := s.recs[name]
	s.mu.RUnlock()
	if r == nil {
		return false, nil
	}
	return true, passhash.Check(r.spec, password, r.salt, r.Hash)
}
