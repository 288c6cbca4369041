//go:build !unix

package statusapi

import "io/fs"

// ownedByMe trusts the file where ownership is not a user id: the
// directory's access control list keeps other users out.
func ownedByMe(fs.FileInfo) bool { return true }
