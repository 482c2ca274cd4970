// Package image turns an fstree.Tree into an OCI image, reads images (from
// registries, OCI layouts and docker save archives) back into trees, and
// moves images between files and registries. Registry and archive I/O goes
// through go-containerregistry.
//
// Contract:
//   - Output is a pure function of the inputs: two calls with the same tree,
//     config and times give the same bytes on any machine, in any time zone.
//     Layers are PAX tars in tree walk order with one fixed mtime, numeric
//     owners only, no atime/ctime, hardlinks pointing at the first path in
//     walk order, xattrs as sorted SCHILY.xattr records, compressed with a
//     pinned compressor at a pinned level (a layer in parallel, in blocks
//     of a fixed size: the bytes do not depend on the number of CPUs).
//     JSON is written from sorted maps.
//     The same holds for every output format (WriteOutput) and for a
//     downloaded image (DownloadFile).
//   - Everything smith builds is OCI: manifests, configs, layers and the
//     layout index carry OCI media types. A parent's Docker layer media
//     types are mapped to their OCI equivalents; the layer bytes, and so
//     their digests, never change. Push converts to Docker v2 schema 2 only
//     when asked (or for Docker Hub), changing the manifest but no blob.
//   - Everything read is checked: every blob of a layout, and every blob
//     downloaded, is verified against its digest and its descriptor's size;
//     Unpack checks each layer's uncompressed content against its DiffID.
//     The image of a layout is chosen by its org.opencontainers.image.ref.name
//     annotation ("latest", or the name the caller gives in
//     RemoteOptions.Tag; or as the only image), never by position; from an index,
//     by platform, with an error listing the platforms there are. Reads are
//     bounded in size.
//   - Layers are applied as a container runtime would (whiteouts, opaque
//     directories, hardlinks), but nothing in a layer reaches outside the
//     tree: absolute and ".." names are refused and symlinks are resolved
//     inside the tree, strictly.
//   - Credentials (URL userinfo, keychain) never appear in errors.
//   - Output files are replaced atomically (WriteFileAtomic, WriteOutput,
//     DownloadFile): a failed or interrupted write leaves the previous file
//     untouched.
package image
