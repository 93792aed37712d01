/* SPDX-License-Identifier: BSD-3-Clause */
/* vh-net: copies between flat buffers and iovec arrays (guest buffers). */
#include <string.h>

#include "vhnet.h"

/* Copy up to @len bytes starting @off bytes into @iov to @buf; returns bytes copied. */
size_t vhnet_iov_copy_out(const struct iovec *iov, unsigned n, size_t off, void *buf, size_t len)
{
	size_t done = 0;
	unsigned i;

	for (i = 0; i < n && done < len; i++) {
		size_t l = iov[i].iov_len, c;

		if (off >= l) {
			off -= l;
			continue;
		}
		c = l - off < len - done ? l - off : len - done;
		memcpy((uint8_t *)buf + done, (const uint8_t *)iov[i].iov_base + off, c);
		done += c;
		off = 0;
	}
	return done;
}

/* Copy up to @len bytes of @buf to @off bytes into @iov; returns bytes copied. */
size_t vhnet_iov_copy_in(const struct iovec *iov, unsigned n, size_t off, const void *buf,
			 size_t len)
{
	size_t done = 0;
	unsigned i;

	for (i = 0; i < n && done < len; i++) {
		size_t l = iov[i].iov_len, c;

		if (off >= l) {
			off -= l;
			continue;
		}
		c = l - off < len - done ? l - off : len - done;
		memcpy((uint8_t *)iov[i].iov_base + off, (const uint8_t *)buf + done, c);
		done += c;
		off = 0;
	}
	return done;
}
