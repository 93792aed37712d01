/* SPDX-License-Identifier: BSD-3-Clause */
/* vh-net: copies between flat buffers and iovec arrays (guest buffers). */
#include <string.h>

#include "vhnet.h"

/* Copy up to @len bytes starting @off bytes into @iov to @buf; returns bytes copied. */
size_t vhnet_iov_copy_out(const struct iovec *iov, unsigned n, size_t off, void *buf, size_t len)
{
	size_t done = 0;
	unsigned i;

	/* The common case: the first element holds it all (a header, a frame's first bytes). */
	if (n && off < iov[0].iov_len && len <= iov[0].iov_len - off) {
		memcpy(buf, (const uint8_t *)iov[0].iov_base + off, len);
		return len;
	}
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

	if (n && off < iov[0].iov_len && len <= iov[0].iov_len - off) {
		memcpy((uint8_t *)iov[0].iov_base + off, buf, len);
		return len;
	}
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

/* Skip @off bytes of @iov: the element and the offset inside it where they end. */
static unsigned iov_seek(const struct iovec *iov, unsigned n, size_t *off)
{
	unsigned i = 0;

	while (i < n && *off >= iov[i].iov_len)
		*off -= iov[i++].iov_len;
	return i;
}

/* Copy up to @len bytes from @soff bytes into @src to @doff bytes into @dst; returns bytes. */
size_t vhnet_iov_copy(const struct iovec *dst, unsigned dn, size_t doff, const struct iovec *src,
		      unsigned sn, size_t soff, size_t len)
{
	unsigned d = iov_seek(dst, dn, &doff), s = iov_seek(src, sn, &soff);
	size_t done = 0;

	while (d < dn && s < sn && done < len) {
		size_t c = VHNET_MIN(dst[d].iov_len - doff, src[s].iov_len - soff);

		c = VHNET_MIN(c, len - done);
		memcpy((uint8_t *)dst[d].iov_base + doff, (const uint8_t *)src[s].iov_base + soff,
		       c);
		done += c;
		doff += c;
		soff += c;
		if (doff == dst[d].iov_len) {
			d++;
			doff = 0;
		}
		if (soff == src[s].iov_len) {
			s++;
			soff = 0;
		}
	}
	return done;
}
