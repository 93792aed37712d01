/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * net_xfer: an iperf-style TCP transfer in both directions with the data checked on both ends,
 * for the vh-net interop test (test_qemu_vhnet.sh qemu10). Static, no libvhost: the same program
 * runs in the guest (client) and on the host (server, inside the test's network namespace).
 *
 *   net_xfer serve ADDR PORT            accept one client, run the exchange, exit 0 if all good
 *   net_xfer send ADDR PORT MIB SEED    connect, run the exchange
 *   net_xfer selftest                   print SHA-256("abc") (the test compares it with sha256sum)
 *
 * The exchange: the client sends a 16-byte hello ("VHXF", le32 MiB, le64 seed), then MIB MiB of
 * a pseudo-random stream (xorshift64* from the seed); the server checks every byte against the
 * same stream and answers with the SHA-256 (FIPS 180-4) of what it received. Then the server
 * sends MIB MiB of the stream from ~seed, the client checks every byte and answers with the
 * SHA-256 of what it received. Each side compares the peer's hash with the hash of what it sent
 * and prints one line per direction:
 *   net_xfer: up|down N bytes, T s, M Mbit/s, sha256 HEX sent|received, peer agrees
 * Exit status 0 only when both directions arrived intact.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (256u * 1024u)

/* ---- SHA-256 (FIPS 180-4 §6.2) ---------------------------------------------------------------- */

struct sha256 {
	uint32_t h[8];
	uint8_t block[64];
	uint64_t bytes;
};

static const uint32_t sha_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
	0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
	0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
	0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
	0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
	0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
	0xc67178f2,
};

static uint32_t ror(uint32_t x, unsigned n)
{
	return x >> n | x << (32 - n);
}

static void sha256_init(struct sha256 *s)
{
	static const uint32_t h0[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
					0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };

	memcpy(s->h, h0, sizeof(h0));
	s->bytes = 0;
}

static void sha256_block(struct sha256 *s, const uint8_t *p)
{
	uint32_t w[64], v[8], t1, t2;
	unsigned i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (i = 16; i < 64; i++)
		w[i] = (ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10)) + w[i - 7] +
		       (ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3)) + w[i - 16];
	memcpy(v, s->h, sizeof(v));
	for (i = 0; i < 64; i++) {
		t1 = v[7] + (ror(v[4], 6) ^ ror(v[4], 11) ^ ror(v[4], 25)) +
		     ((v[4] & v[5]) ^ (~v[4] & v[6])) + sha_k[i] + w[i];
		t2 = (ror(v[0], 2) ^ ror(v[0], 13) ^ ror(v[0], 22)) +
		     ((v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]));
		v[7] = v[6];
		v[6] = v[5];
		v[5] = v[4];
		v[4] = v[3] + t1;
		v[3] = v[2];
		v[2] = v[1];
		v[1] = v[0];
		v[0] = t1 + t2;
	}
	for (i = 0; i < 8; i++)
		s->h[i] += v[i];
}

static void sha256_update(struct sha256 *s, const uint8_t *p, size_t n)
{
	size_t have = s->bytes % 64, take;

	s->bytes += n;
	if (have) {
		take = 64 - have < n ? 64 - have : n;
		memcpy(s->block + have, p, take);
		p += take;
		n -= take;
		if (have + take < 64)
			return;
		sha256_block(s, s->block);
	}
	for (; n >= 64; p += 64, n -= 64)
		sha256_block(s, p);
	memcpy(s->block, p, n);
}

static void sha256_final(struct sha256 *s, uint8_t out[32])
{
	uint64_t bits = s->bytes * 8;
	uint8_t pad[72] = { 0x80 };
	size_t padlen = 64 - (s->bytes + 8) % 64;
	unsigned i;

	for (i = 0; i < 8; i++)
		pad[padlen + i] = (uint8_t)(bits >> (56 - 8 * i));
	sha256_update(s, pad, padlen + 8);
	for (i = 0; i < 32; i++)
		out[i] = (uint8_t)(s->h[i / 4] >> (24 - 8 * (i % 4)));
}

static void hex(const uint8_t h[32], char out[65])
{
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/* ---- the stream ------------------------------------------------------------------------------- */

static void stream_fill(uint64_t *state, uint8_t *buf, size_t n)
{
	uint64_t x = *state;

	/* n is a multiple of 8 (CHUNK and every read are cut to it by the callers). */
	for (size_t i = 0; i < n; i += 8) {
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		uint64_t v = x * 0x2545f4914f6cdd1dull;
		memcpy(buf + i, &v, 8);
	}
	*state = x;
}

static int xfer_fail(const char *what)
{
	fprintf(stderr, "net_xfer: %s: %s\n", what, errno ? strerror(errno) : "failed");
	return -1;
}

static int write_all(int fd, const void *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w <= 0)
			return xfer_fail("write");
		p = (const uint8_t *)p + w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_all(int fd, void *p, size_t n)
{
	while (n) {
		ssize_t r = read(fd, p, n);

		if (r <= 0) {
			if (!r)
				errno = ECONNRESET;
			return xfer_fail("read");
		}
		p = (uint8_t *)p + r;
		n -= (size_t)r;
	}
	return 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void report(const char *dir, uint64_t bytes, double secs, const uint8_t h[32],
		   const char *role)
{
	char x[65];

	hex(h, x);
	printf("net_xfer: %s %llu bytes, %.2f s, %.0f Mbit/s, sha256 %s %s, peer agrees\n", dir,
	       (unsigned long long)bytes, secs, (double)bytes * 8 / secs / 1e6, x, role);
	fflush(stdout);
}

/* Send @bytes of stream @seed, then read the peer's hash of them and compare. */
static int send_stream(int fd, uint64_t seed, uint64_t bytes, const char *dir)
{
	static uint8_t buf[CHUNK];
	uint8_t mine[32], theirs[32];
	struct sha256 s;
	double t0 = now();

	sha256_init(&s);
	for (uint64_t left = bytes; left;) {
		size_t n = left < CHUNK ? (size_t)left : CHUNK;

		stream_fill(&seed, buf, n);
		sha256_update(&s, buf, n);
		if (write_all(fd, buf, n))
			return -1;
		left -= n;
	}
	sha256_final(&s, mine);
	if (read_all(fd, theirs, 32))
		return -1;
	if (memcmp(mine, theirs, 32)) {
		fprintf(stderr, "net_xfer: %s: the peer's sha256 differs from the data sent\n",
			dir);
		return -1;
	}
	report(dir, bytes, now() - t0, mine, "sent");
	return 0;
}

/* Receive @bytes, check each against stream @seed, send back their hash. */
static int recv_stream(int fd, uint64_t seed, uint64_t bytes, const char *dir)
{
	static uint8_t buf[CHUNK], want[CHUNK];
	uint8_t mine[32];
	struct sha256 s;
	double t0 = now();

	sha256_init(&s);
	for (uint64_t got = 0; got < bytes;) {
		size_t n = bytes - got < CHUNK ? (size_t)(bytes - got) : CHUNK;

		if (read_all(fd, buf, n))
			return -1;
		stream_fill(&seed, want, n);
		if (memcmp(buf, want, n)) {
			size_t i = 0;

			while (buf[i] == want[i])
				i++;
			fprintf(stderr, "net_xfer: %s: byte %llu is 0x%02x, expected 0x%02x\n", dir,
				(unsigned long long)(got + i), buf[i], want[i]);
			return -1;
		}
		sha256_update(&s, buf, n);
		got += n;
	}
	sha256_final(&s, mine);
	if (write_all(fd, mine, 32))
		return -1;
	report(dir, bytes, now() - t0, mine, "received");
	return 0;
}

struct hello {
	char magic[4];
	uint32_t mib;
	uint64_t seed;
};

static int sock_addr(const char *addr, const char *port, struct sockaddr_in *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)atoi(port));
	if (inet_pton(AF_INET, addr, &sa->sin_addr) != 1) {
		fprintf(stderr, "net_xfer: bad address %s\n", addr);
		return -1;
	}
	return 0;
}

static int serve(const char *addr, const char *port)
{
	struct sockaddr_in sa;
	struct hello h;
	int one = 1, l, fd;

	if (sock_addr(addr, port, &sa))
		return -1;
	l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(l, (struct sockaddr *)&sa, sizeof(sa)) || listen(l, 1))
		return xfer_fail("listen");
	printf("net_xfer: listening on %s:%s\n", addr, port);
	fflush(stdout);
	fd = accept(l, NULL, NULL);
	close(l);
	if (fd < 0)
		return xfer_fail("accept");
	if (read_all(fd, &h, sizeof(h)))
		return -1;
	if (memcmp(h.magic, "VHXF", 4) || !h.mib || h.mib > 4096) {
		fprintf(stderr, "net_xfer: bad hello\n");
		return -1;
	}
	if (recv_stream(fd, h.seed, (uint64_t)h.mib << 20, "up") ||
	    send_stream(fd, ~h.seed, (uint64_t)h.mib << 20, "down"))
		return -1;
	close(fd);
	return 0;
}

static int client(const char *addr, const char *port, unsigned mib, uint64_t seed)
{
	struct hello h = { .magic = { 'V', 'H', 'X', 'F' }, .mib = mib, .seed = seed };
	struct sockaddr_in sa;
	int fd;

	if (sock_addr(addr, port, &sa))
		return -1;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		return xfer_fail("connect");
	if (write_all(fd, &h, sizeof(h)) || send_stream(fd, seed, (uint64_t)mib << 20, "up") ||
	    recv_stream(fd, ~seed, (uint64_t)mib << 20, "down"))
		return -1;
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	int r;

	if (argc == 2 && !strcmp(argv[1], "selftest")) {
		/* FIPS 180-4 example: SHA-256("abc"). */
		struct sha256 h;
		uint8_t d[32];
		char x[65];

		sha256_init(&h);
		sha256_update(&h, (const uint8_t *)"abc", 3);
		sha256_final(&h, d);
		hex(d, x);
		printf("%s\n", x);
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "serve"))
		r = serve(argv[2], argv[3]);
	else if (argc == 6 && !strcmp(argv[1], "send"))
		r = client(argv[2], argv[3], (unsigned)atoi(argv[4]),
			   strtoull(argv[5], NULL, 0) | 1);
	else {
		fprintf(stderr, "usage: net_xfer serve ADDR PORT | send ADDR PORT MIB SEED\n");
		return 2;
	}
	printf("net_xfer: %s\n", r ? "FAIL" : "ok");
	return r ? 1 : 0;
}
