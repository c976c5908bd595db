package dashboard

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"unicode"

	"github.com/emqgo/emqgo/engine/passhash"
)

// Admin is one dashboard user (EMQX's mqtt_admin): a name, a password hash and a free tag
// (EMQX shows it as the user's description).
type Admin struct {
	Name string
	Tag  string
	hash string // bcrypt (engine/passhash)
}

// Errors of the Admins changes; their text is what `emqx_ctl admins` prints, as EMQX does.
var (
	ErrAdminExists   = errors.New("already existed")
	ErrNoAdmin       = errors.New("not_found")
	ErrBadPassword   = errors.New("password error")
	ErrLastAdmin     = errors.New("cannot delete the last administrator")
	ErrEmptyPassword = errors.New("the password must not be empty")
)

// hashSpec is how administrators' passwords are kept: bcrypt (passhash.BcryptCost), with its
// own salt. Tests lower the cost (the race detector makes bcrypt very slow).
var hashSpec = passhash.Spec{Algo: passhash.Bcrypt}

// Admins is the set of dashboard users, kept in a JSON file (data/admins.json: names, tags and
// bcrypt hashes, mode 0600, replaced atomically on every change). Safe for concurrent use;
// a change is on disk before it takes effect.
type Admins struct {
	path string
	mu   sync.RWMutex
	set  map[string]Admin
}

type adminRecord struct {
	Name string `json:"username"`
	Hash string `json:"password_hash"`
	Tag  string `json:"tags"`
}

// OpenAdmins loads the administrators kept in path (a missing file is none); "" keeps them in
// memory only (tests).
func OpenAdmins(path string) (*Admins, error) {
	a := &Admins{path: path, set: map[string]Admin{}}
	if path == "" {
		return a, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return a, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read the dashboard administrators: %w", err)
	}
	var recs []adminRecord
	if err := json.Unmarshal(data, &recs); err != nil {
		return nil, fmt.Errorf("dashboard administrators file %s is damaged: %w", path, err)
	}
	for i, r := range recs {
		if validName(r.Name) != nil || !strings.HasPrefix(r.Hash, "$2") {
			return nil, fmt.Errorf("dashboard administrators file %s: entry %d (%q) has a bad name or is not a bcrypt hash", path, i+1, r.Name)
		}
		a.set[r.Name] = Admin{Name: r.Name, Tag: r.Tag, hash: r.Hash}
	}
	return a, nil
}

func validName(name string) error {
	if name == "" || len(name) > 64 {
		return errors.New("the user name must have 1 to 64 characters")
	}
	for _, r := range name {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == '/' {
			return errors.New("the user name must not contain spaces, control characters or '/'")
		}
	}
	return nil
}

// List returns the administrators sorted by name.
func (a *Admins) List() []Admin {
	a.mu.RLock()
	defer a.mu.RUnlock()
	out := make([]Admin, 0, len(a.set))
	for _, u := range a.set {
		out = append(out, u)
	}
	slices.SortFunc(out, func(x, y Admin) int { return strings.Compare(x.Name, y.Name) })
	return out
}

// Len returns how many administrators there are.
func (a *Admins) Len() int {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return len(a.set)
}

// Check verifies name's password: nil, ErrNoAdmin or ErrBadPassword. A bcrypt comparison is
// made even for an unknown name, so timing does not tell names apart.
func (a *Admins) Check(name, password string) error {
	a.mu.RLock()
	u, ok := a.set[name]
	a.mu.RUnlock()
	hash := u.hash
	if !ok {
		hash = decoyHash()
	}
	err := passhash.Check(hashSpec, []byte(password), nil, hash)
	switch {
	case !ok:
		return ErrNoAdmin
	case errors.Is(err, passhash.ErrMismatch):
		return ErrBadPassword
	}
	return err
}

// decoyHash is compared against for unknown names (a bcrypt hash nobody's password matches),
// made at the first use.
var decoyHash = sync.OnceValue(func() string {
	h, err := passhash.Hash(hashSpec, []byte("decoy-not-a-password"), nil)
	if err != nil {
		panic("BUG: bcrypt: " + err.Error())
	}
	return h
})

// generation identifies name's current password for session tokens: a password change (or
// the user's deletion) ends the sessions issued before it. "" for an unknown name.
func (a *Admins) generation(name string) string {
	a.mu.RLock()
	u, ok := a.set[name]
	a.mu.RUnlock()
	if !ok {
		return ""
	}
	sum := sha256.Sum256([]byte(u.hash))
	return hex.EncodeToString(sum[:6])
}

// Add creates an administrator; ErrAdminExists when the name is taken.
func (a *Admins) Add(name, password, tag string) error {
	if err := validName(name); err != nil {
		return err
	}
	if password == "" {
		return ErrEmptyPassword
	}
	h, err := passhash.Hash(hashSpec, []byte(password), nil)
	if err != nil {
		return err
	}
	return a.change(func(set map[string]Admin) error {
		if _, ok := set[name]; ok {
			return ErrAdminExists
		}
		set[name] = Admin{Name: name, Tag: tag, hash: h}
		return nil
	})
}

// AddDefault creates the configured default administrator (dashboard.default_user.*) when
// there is no administrator at all: a deleted default user is not brought back.
func (a *Admins) AddDefault(name, password string) (added bool, err error) {
	if a.Len() > 0 || name == "" {
		return false, nil
	}
	if err := a.Add(name, password, "administrator"); err != nil && !errors.Is(err, ErrAdminExists) {
		return false, fmt.Errorf("cannot create the default dashboard user %q: %w", name, err)
	}
	return true, nil
}

// SetPassword replaces name's password (emqx_ctl admins passwd: no old password asked).
func (a *Admins) SetPassword(name, password string) error {
	if password == "" {
		return ErrEmptyPassword
	}
	h, err := passhash.Hash(hashSpec, []byte(password), nil)
	if err != nil {
		return err
	}
	return a.change(func(set map[string]Admin) error {
		u, ok := set[name]
		if !ok {
			return ErrNoAdmin
		}
		u.hash = h
		set[name] = u
		return nil
	})
}

// ChangePassword replaces name's password after checking the old one (the dashboard's form).
func (a *Admins) ChangePassword(name, old, password string) error {
	if err := a.Check(name, old); err != nil {
		return err
	}
	return a.SetPassword(name, password)
}

// SetTag replaces name's tag.
func (a *Admins) SetTag(name, tag string) error {
	return a.change(func(set map[string]Admin) error {
		u, ok := set[name]
		if !ok {
			return ErrNoAdmin
		}
		u.Tag = tag
		set[name] = u
		return nil
	})
}

// Delete removes name; the last administrator cannot be deleted (nobody could log in).
func (a *Admins) Delete(name string) error {
	return a.change(func(set map[string]Admin) error {
		if _, ok := set[name]; !ok {
			return ErrNoAdmin
		}
		if len(set) == 1 {
			return ErrLastAdmin
		}
		delete(set, name)
		return nil
	})
}

// change applies f to a copy of the set, writes it, then makes it current.
func (a *Admins) change(f func(map[string]Admin) error) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	set := make(map[string]Admin, len(a.set)+1)
	for k, v := range a.set {
		set[k] = v
	}
	if err := f(set); err != nil {
		return err
	}
	if err := a.write(set); err != nil {
		return err
	}
	a.set = set
	return nil
}

// write replaces the file with set (mode 0600: it holds password hashes).
func (a *Admins) write(set map[string]Admin) error {
	if a.path == "" {
		return nil
	}
	recs := make([]adminRecord, 0, len(set))
	for _, u := range set {
		recs = append(recs, adminRecord{Name: u.Name, Hash: u.hash, Tag: u.Tag})
	}
	slices.SortFunc(recs, func(x, y adminRecord) int { return strings.Compare(x.Name, y.Name) })
	data, err := json.MarshalIndent(recs, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(a.path), 0o755); err != nil {
		return fmt.Errorf("cannot create the data directory: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(a.path), ".admins-*.json")
	if err != nil {
		return fmt.Errorf("cannot write the dashboard administrators: %w", err)
	}
	defer os.Remove(tmp.Name())
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
		err = os.Rename(tmp.Name(), a.path)
	}
	if err != nil {
		return fmt.Errorf("cannot write the dashboard administrators to %s: %w", a.path, err)
	}
	return nil
}
