package repo

// Progress receives download progress (Options.Progress): one Transfer per
// download attempt of a metadata file or a package. Files read from a local
// repository or from the cache are not reported. Its methods are called
// from several goroutines at once.
type Progress interface {
	// Start announces a download. name is what is downloaded: a package
	// NEVRA or a metadata location, never a URL (so never credentials);
	// size is the expected size in bytes, 0 when unknown.
	Start(name string, size int64) Transfer
}

// Transfer is one download in progress.
type Transfer interface {
	// Add reports n more bytes received.
	Add(n int)
	// Done ends the transfer: err is nil when the file arrived whole and
	// matched its checksum. A failed attempt that is retried ends with its
	// error and the retry starts a new Transfer.
	Done(err error)
}
