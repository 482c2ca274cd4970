// Package image turns an fstree.Tree into an OCI image and reads and writes
// smith's output file, a gzip-compressed tar of an OCI image layout.
//
// Contract:
//   - Output is a pure function of the inputs: two calls with the same tree,
//     config and times give the same bytes on any machine, in any time zone.
//     Layers are PAX tars in tree walk order with one fixed mtime, numeric
//     owners only, no atime/ctime, hardlinks pointing at the first path in
//     walk order, xattrs as sorted SCHILY.xattr records, compressed with a
//     pinned compressor at a pinned level. JSON is written from sorted maps.
//   - Everything is OCI: manifests, configs, layers and the layout index carry
//     OCI media types. A parent's Docker layer media types are mapped to their
//     OCI equivalents; the layer bytes, and so their digests, never change.
//   - Everything read is checked: every blob of a layout is verified against
//     its digest and its descriptor's size, the image is chosen by its
//     org.opencontainers.image.ref.name annotation (or as the only image),
//     never by position, and reads are bounded in size.
//   - Output files are replaced atomically (WriteFileAtomic): a failed or
//     interrupted write leaves the previous file untouched.
package image
