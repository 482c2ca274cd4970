//go:build !unix

package build

import (
	"errors"

	"github.com/smith-build/smith/fstree"
)

// unixFS is false: scripts are refused here (see scriptSupport).
const unixFS = false

type materialised struct{}

var errNoScripts = errors.New("scripts cannot run on this system")

func materialise(*fstree.Tree, string) (*materialised, error) { return nil, errNoScripts }

func (*materialised) readBack(*fstree.Tree, string) (scriptChanges, error) {
	return scriptChanges{}, errNoScripts
}
