#!/bin/sh
# Run by busybox's sh applet: /bin/sh -> /usr/sbin/busybox.
echo "hello from $(/usr/sbin/busybox readlink /bin/sh) sh"
for f in /read/*; do
	echo "read: $f"
done
