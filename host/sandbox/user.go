package sandbox

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
)

// User is the account plugins run as.
type User struct {
	Name     string
	UID, GID uint32
}

// LookupUser resolves name (a user name or a numeric uid) for Policy.User. Only a
// host running as root can start processes as another user, so it refuses
// otherwise.
func LookupUser(name string) (*User, error) {
	if euid := os.Geteuid(); euid != 0 {
		return nil, fmt.Errorf("plugin_user %q: idplug runs as uid %d, not root; only root can run plugins as another user (leave plugin_user out)", name, euid)
	}
	u, err := user.Lookup(name)
	if err != nil {
		if _, numErr := strconv.Atoi(name); numErr == nil {
			u, err = user.LookupId(name)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("plugin_user %q: %w", name, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("plugin_user %q: uid %q or gid %q is not a number", name, u.Uid, u.Gid)
	}
	if uid == 0 {
		return nil, fmt.Errorf("plugin_user %q is root: name an unprivileged account", name)
	}
	return &User{Name: u.Username, UID: uint32(uid), GID: uint32(gid)}, nil
}
