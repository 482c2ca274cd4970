package fstree

import (
	"bytes"
	"io"
	"io/fs"
	"path"
	"time"
)

// The io/fs view. Names follow fs.ValidPath ("." is the root, no leading
// slash); fs.FileInfo.Sys returns the *Inode.

var (
	_ fs.FS         = (*Tree)(nil)
	_ fs.ReadDirFS  = (*Tree)(nil)
	_ fs.StatFS     = (*Tree)(nil)
	_ fs.ReadLinkFS = (*Tree)(nil)
)

func fsName(op, name string) (string, error) {
	if !fs.ValidPath(name) {
		return "", &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	return "/" + name, nil
}

func rename(err error, op, name string) error {
	if pe, ok := err.(*fs.PathError); ok {
		return &fs.PathError{Op: op, Path: name, Err: pe.Err}
	}
	return err
}

// Open opens name, following symlinks.
func (t *Tree) Open(name string) (fs.File, error) {
	p, err := fsName("open", name)
	if err != nil {
		return nil, err
	}
	n, err := t.Follow(p)
	if err != nil {
		return nil, rename(err, "open", name)
	}
	info := &fileInfo{name: path.Base(name), n: n}
	if n.Kind == Dir {
		return &openDir{info: info, n: n, t: t, path: p}, nil
	}
	return &openFile{info: info, r: bytes.NewReader(n.Data)}, nil
}

// Stat returns information about name, following symlinks.
func (t *Tree) Stat(name string) (fs.FileInfo, error) {
	p, err := fsName("stat", name)
	if err != nil {
		return nil, err
	}
	n, err := t.Follow(p)
	if err != nil {
		return nil, rename(err, "stat", name)
	}
	return &fileInfo{name: path.Base(name), n: n}, nil
}

// Lstat returns information about name without following a final symlink.
func (t *Tree) Lstat(name string) (fs.FileInfo, error) {
	p, err := fsName("lstat", name)
	if err != nil {
		return nil, err
	}
	n, err := t.Lookup(p)
	if err != nil {
		return nil, rename(err, "lstat", name)
	}
	return &fileInfo{name: path.Base(name), n: n}, nil
}

// ReadLink returns the target of the symlink name.
func (t *Tree) ReadLink(name string) (string, error) {
	p, err := fsName("readlink", name)
	if err != nil {
		return "", err
	}
	n, err := t.Lookup(p)
	if err != nil {
		return "", rename(err, "readlink", name)
	}
	if n.Kind != Symlink {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	return n.Target, nil
}

// ReadDir lists the directory name, sorted by name.
func (t *Tree) ReadDir(name string) ([]fs.DirEntry, error) {
	p, err := fsName("readdir", name)
	if err != nil {
		return nil, err
	}
	n, err := t.Follow(p)
	if err != nil {
		return nil, rename(err, "readdir", name)
	}
	if n.Kind != Dir {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: ErrNotDir}
	}
	return dirEntries(n), nil
}

func dirEntries(n *Inode) []fs.DirEntry {
	names := n.Children()
	out := make([]fs.DirEntry, len(names))
	for i, c := range names {
		out[i] = fs.FileInfoToDirEntry(&fileInfo{name: c, n: n.children[c]})
	}
	return out
}

type fileInfo struct {
	name string
	n    *Inode
}

func (fi *fileInfo) Name() string       { return fi.name }
func (fi *fileInfo) Size() int64        { return int64(len(fi.n.Data)) }
func (fi *fileInfo) ModTime() time.Time { return time.Unix(0, 0).UTC() }
func (fi *fileInfo) IsDir() bool        { return fi.n.Kind == Dir }
func (fi *fileInfo) Sys() any           { return fi.n }
func (fi *fileInfo) Mode() fs.FileMode {
	m := fi.n.Mode
	switch fi.n.Kind {
	case Dir:
		m |= fs.ModeDir
	case Symlink:
		m |= fs.ModeSymlink
	}
	return m
}

type openFile struct {
	info *fileInfo
	r    *bytes.Reader
}

func (f *openFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *openFile) Read(b []byte) (int, error) { return f.r.Read(b) }
func (f *openFile) Close() error               { return nil }
func (f *openFile) Seek(off int64, whence int) (int64, error) {
	return f.r.Seek(off, whence)
}
func (f *openFile) ReadAt(b []byte, off int64) (int, error) { return f.r.ReadAt(b, off) }

type openDir struct {
	info    *fileInfo
	n       *Inode
	t       *Tree
	path    string
	entries []fs.DirEntry
	read    bool
}

func (d *openDir) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *openDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.path, Err: fs.ErrInvalid}
}
func (d *openDir) Close() error { return nil }

// ReadDir implements fs.ReadDirFile.
func (d *openDir) ReadDir(count int) ([]fs.DirEntry, error) {
	if !d.read {
		d.entries, d.read = dirEntries(d.n), true
	}
	if count <= 0 {
		out := d.entries
		d.entries = nil
		return out, nil
	}
	if len(d.entries) == 0 {
		return nil, io.EOF
	}
	if count > len(d.entries) {
		count = len(d.entries)
	}
	out := d.entries[:count]
	d.entries = d.entries[count:]
	return out, nil
}
