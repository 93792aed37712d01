/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A malicious front-end against the real daemons: vh-blk (memory: backing) and vh-net
 * (--loopback), spawned, over their real socket, played by the scripted fake front-end of
 * tests/loopback/backend_fake.h. Every case sends one kind of garbage: wrong sizes, wrong fd
 * counts, huge or zero counts, indices past the ring, descriptor loops, chains past the ring,
 * addresses outside or straddling guest memory, a memory table swapped under requests in
 * flight, a log or inflight region too small, a device state that is garbage or whose channel
 * stays open at CHECK_DEVICE_STATE, a peer that stops mid-message, vanishes mid-request or
 * never reads its replies. After each case:
 *   - the daemon printed the error on stderr (one line naming the request or the ring fault);
 *   - it is alive, and a new connection gets GET_FEATURES answered within 1 s;
 *   - its fd count is back to what it was before the case;
 * and after all cases its RSS grew by less than RSS_BOUND_KB and (vh-blk) the image holds
 * exactly what the valid requests wrote.
 *
 * Endurance: HOSTILE_CHURN (default 1000) connect / negotiate / start / one request / hang-up
 * cycles against each daemon, with its fd count and RSS printed before and after (no growth).
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include <linux/virtio_blk.h>

#include "../loopback/backend_fake.h"

#define IMG_SIZE     (1u << 20)
#define HDR_GPA	     0x30000ull
#define STATUS_GPA   0x30100ull
#define DATA_GPA     0x40000ull
#define CHUNK	     0x10000u
#define RSS_BOUND_KB 4096

/*
 * Under ASan the shadow of every guest mapping stays resident after munmap and freed blocks sit
 * in the quarantine: RSS is printed but not bounded there. LeakSanitizer checks instead: the
 * daemons run with detect_leaks and must exit 0 on SIGTERM (stop()).
 */
#if defined(__SANITIZE_ADDRESS__)
#define RSS_CHECKED false
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RSS_CHECKED false
#endif
#endif
#ifndef RSS_CHECKED
#define RSS_CHECKED true
#endif
#define PROBE_MS 1000
#define CLOSE_MS (VH_SOCK_MSG_TIMEOUT_MS + 2000)

struct daemon {
	const char *kind;
	bool blk;
	char dir[64], sock[96], log[96];
	pid_t pid;
	unsigned q; /* the ring the ring cases attack (vh-net: TX) */
	int fds0;
	uint8_t *model; /* vh-blk: what the image must hold */
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int proc_fds(pid_t pid)
{
	char path[64];
	struct dirent *e;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static long proc_rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static bool alive(const struct daemon *d)
{
	int status;

	return waitpid(d->pid, &status, WNOHANG) == 0;
}

static off_t log_size(const struct daemon *d)
{
	struct stat st;

	return stat(d->log, &st) == 0 ? st.st_size : 0;
}

/* What the daemon wrote to stderr from @off on (static buffer). */
static const char *log_since(const struct daemon *d, off_t off)
{
	static char buf[8192];
	ssize_t n = 0;
	int fd = open(d->log, O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		n = pread(fd, buf, sizeof(buf) - 1, off);
		close(fd);
	}
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* The line of @text that holds @needle, up to its newline. */
static const char *line_of(const char *text, const char *needle)
{
	static char line[512];
	const char *p = strstr(text, needle), *b, *e;

	if (!p)
		return "";
	for (b = p; b > text && b[-1] != '\n'; b--)
		;
	e = strchr(p, '\n');
	snprintf(line, sizeof(line), "%.*s", (int)(e ? e - b : (long)strlen(b)), b);
	return line;
}

static bool log_wait(const struct daemon *d, off_t off, const char *needle, int ms)
{
	for (int64_t end = now_ms() + ms; now_ms() < end; usleep(5000))
		if (strstr(log_since(d, off), needle))
			return true;
	return strstr(log_since(d, off), needle) != NULL;
}

/* vh_test_spawn_daemon() with the daemon's stderr going to d->log (its fd 2 is inherited). */
static void spawn(struct daemon *d)
{
	char bin[256], rel[64];
	const char *blk[] = { bin,	   "--socket-path", d->sock, "--blk-file",
			      "memory:1M", "--queue-size",  "256",   NULL };
	const char *net[] = { bin, "--socket-path", d->sock, "--loopback", "--queue-size", "256",
			      NULL };
	int fd, saved;

	snprintf(d->dir, sizeof(d->dir), "/tmp/vh-hostile-XXXXXX");
	assert_non_null(mkdtemp(d->dir));
	snprintf(d->sock, sizeof(d->sock), "%s/sock", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/stderr", d->dir);
	snprintf(rel, sizeof(rel), "devices/%s/%s", d->kind, d->kind);
	vh_test_build_path(bin, sizeof(bin), rel);
	fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	saved = fcntl(2, F_DUPFD_CLOEXEC, 3);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, 2), 2);
	d->pid = vh_test_spawn_daemon(d->blk ? blk : net, d->sock);
	dup2(saved, 2);
	close(saved);
	close(fd);
}

static void stop(struct daemon *d)
{
	vh_test_stop_daemon(d->pid, d->sock);
	unlink(d->log);
	rmdir(d->dir);
	free(d->model);
}

/* A new front-end gets GET_FEATURES answered: returns how long it took (ms). */
static int64_t probe(const struct daemon *d)
{
	int64_t t0 = now_ms();
	struct vh_msg m;
	int sock;

	assert_int_equal(vh_sock_connect(d->sock, &sock), 0);
	vh_msg_init(&m, VH_USER_GET_FEATURES, 0, 0);
	assert_int_equal(vh_sock_send(sock, &m), 0);
	assert_int_equal(vh_sock_recv(sock, &m, 3 * PROBE_MS), 0);
	assert_int_equal(m.hdr.request, VH_USER_GET_FEATURES);
	assert_int_equal(m.hdr.size, 8);
	assert_int_equal(m.nfds, 0);
	close(sock);
	return now_ms() - t0;
}

static void fds_settle(const struct daemon *d, int want)
{
	int n = proc_fds(d->pid);

	for (int i = 0; i < 200 && n != want; i++) {
		usleep(5000);
		n = proc_fds(d->pid);
	}
	assert_int_equal(n, want);
}

/* The daemon hung up on us (replies it still sent are read and dropped). */
static bool hung_up(int sock, int ms)
{
	struct pollfd p = { .fd = sock, .events = POLLIN };
	char buf[4096];

	for (int64_t end = now_ms() + ms; now_ms() < end;) {
		if (poll(&p, 1, 50) == 1) {
			ssize_t n = recv(sock, buf, sizeof(buf), MSG_DONTWAIT);

			if (n == 0 || (n < 0 && errno == ECONNRESET))
				return true;
		}
	}
	return false;
}

/* ---- virtio-blk requests on the fake front-end's ring ------------------------------------ */

static void blk_hdr(struct fe *f, uint32_t type, uint64_t sector)
{
	struct virtio_blk_outhdr h = { .type = type, .sector = sector };

	memcpy(f->mem + HDR_GPA, &h, sizeof(h));
	f->mem[STATUS_GPA] = 0xff;
}

/* One valid request of @len bytes at DATA_GPA: returns the status byte. */
static uint8_t blk_rw(struct fe *f, uint32_t type, uint64_t sector, uint32_t len)
{
	bool wr = type == VIRTIO_BLK_T_OUT;
	struct vh_vq_buf bufs[3] = { { HDR_GPA, 16 }, { DATA_GPA, len }, { STATUS_GPA, 1 } };
	struct vh_vq_driver_req req = {
		.bufs = bufs, .out_num = wr ? 2 : 1, .in_num = wr ? 1 : 2, .token = f
	};
	uint64_t one = 1;
	uint32_t used;
	void *tok;

	blk_hdr(f, type, sector);
	assert_int_equal(vh_vq_driver_add(f->drv, &req), 0);
	vh_vq_driver_publish(f->drv);
	assert_int_equal(write(f->kick, &one, sizeof(one)), (ssize_t)sizeof(one));
	for (int i = 0; i < 200; i++) {
		if (vh_vq_driver_get_used(f->drv, &tok, &used) == 1)
			return f->mem[STATUS_GPA];
		fe_wait_call(f, 10);
	}
	fail_msg("no completion for a valid request");
	return 0xff;
}

/* Write the model's bytes of [@off, @off + @len) through valid requests. */
static void blk_write_model(struct fe *f, const uint8_t *model, uint32_t off, uint32_t len)
{
	for (uint32_t o = off; o < off + len; o += CHUNK) {
		memcpy(f->mem + DATA_GPA, model + o, CHUNK);
		assert_int_equal(blk_rw(f, VIRTIO_BLK_T_OUT, o / 512, CHUNK), VIRTIO_BLK_S_OK);
	}
}

static void blk_verify_model(struct fe *f, const uint8_t *model)
{
	for (uint32_t o = 0; o < IMG_SIZE; o += CHUNK) {
		memset(f->mem + DATA_GPA, 0x5a, CHUNK);
		assert_int_equal(blk_rw(f, VIRTIO_BLK_T_IN, o / 512, CHUNK), VIRTIO_BLK_S_OK);
		if (memcmp(f->mem + DATA_GPA, model + o, CHUNK) != 0)
			fail_msg("image bytes at 0x%x differ from what valid requests wrote", o);
	}
}

/* ---- raw ring contents (split ring 0 of the driver's layout, nothing added by the driver) -- */

static struct vring_desc *desc(struct fe *f)
{
	return (struct vring_desc *)(f->mem + f->ra.desc_gpa);
}

/* Publish @head as avail entry @idx - 1 (the ring's first: 0) with avail idx @idx and kick. */
static void raw_publish(struct fe *f, uint16_t head, uint16_t idx)
{
	struct vring_avail *a = (struct vring_avail *)(f->mem + f->ra.driver_gpa);
	uint64_t one = 1;

	a->ring[(uint16_t)(idx - 1) % FE_NUM] = head;
	__atomic_store_n(&a->idx, idx, __ATOMIC_RELEASE);
	assert_int_equal(write(f->kick, &one, sizeof(one)), (ssize_t)sizeof(one));
}

/*
 * A request-shaped chain 0 -> 1 -> 2: header, data @data_gpa/@data_len (device-readable:
 * a vh-blk write of 0xee bytes to sector 0 / a vh-net frame), status.
 */
static void raw_chain_at(const struct daemon *dm, struct fe *f, uint16_t at, uint64_t data_gpa,
			 uint32_t data_len)
{
	struct vring_desc *d = desc(f) + at;

	blk_hdr(f, VIRTIO_BLK_T_OUT, 0);
	if (data_gpa < FE_MEM_SIZE && data_len <= FE_MEM_SIZE - data_gpa)
		memset(f->mem + data_gpa, 0xee, data_len);
	d[0] = (struct vring_desc){ HDR_GPA, 16, VRING_DESC_F_NEXT, (uint16_t)(at + 1) };
	d[1] = (struct vring_desc){ data_gpa, data_len, VRING_DESC_F_NEXT, (uint16_t)(at + 2) };
	/* vh-net's TX wants device-readable buffers only; vh-blk's status is writable. */
	d[2] = (struct vring_desc){ STATUS_GPA, 1, dm->blk ? VRING_DESC_F_WRITE : 0, 0 };
}

static void raw_chain(const struct daemon *dm, struct fe *f, uint64_t data_gpa, uint32_t data_len)
{
	raw_chain_at(dm, f, 0, data_gpa, data_len);
}

/* ---- the cases ---------------------------------------------------------------------------- */

struct hcase {
	const char *name;
	enum {
		ST_NEGOTIATED,
		ST_MEMORY,
		ST_RING
	} stage;
	void (*run)(struct daemon *d, struct fe *f);
	const char *expect; /* in the daemon's stderr */
	unsigned flags;
};

#define H_CLOSES 1u /* the daemon must hang up */
#define H_SLOW	 2u /* waits for the daemon's message timeout: round 1 only */

static void send_raw(struct fe *f, const void *buf, size_t len, const int *fds, unsigned nfds)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

	assert_true(nfds <= 16);
	assert_int_equal(vh_test_sendmsg(f->sock, &iov, 1, fds, nfds), (ssize_t)len);
}

/* @m with @nfds copies of an eventfd, whatever the request wants. */
static void send_with_fds(struct fe *f, struct vh_msg *m, unsigned nfds)
{
	int fds[16];

	for (unsigned i = 0; i < nfds; i++)
		fds[i] = eventfd(0, EFD_CLOEXEC);
	send_raw(f, m, sizeof(m->hdr) + m->hdr.size, fds, nfds);
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
}

/*
 * The front-end never reads the back-end channel. Its rings are at IOVAs it never maps, so the
 * ring start misses in the IOTLB; every IOTLB update (of something else) retries it and sends
 * another BACKEND_IOTLB_MSG miss, until the socket and then the daemon's queue are full.
 */
static void c_backend_chan_never_read(struct daemon *d, struct fe *f)
{
	uint64_t feat = f->features | (1ull << VIRTIO_F_ACCESS_PLATFORM);

	assert_int_equal(fe_u64(f, VH_USER_SET_FEATURES, feat), 0);
	fe_memory(f);
	assert_int_equal(fe_mem_table(f), 0);
	f->addr_base = FE_IOVA_BASE;
	fe_ring_index(f, d->q, 0, 0);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(fe_iotlb_update(f, DATA_GPA, 0x1000), 0);
}

static void c_wrong_size(struct daemon *d, struct fe *f)
{
	struct vh_msg m;

	(void)d;
	vh_msg_init(&m, VH_USER_SET_VRING_NUM, 0, 4);
	send_with_fds(f, &m, 0);
}

static void c_zero_size_u64(struct daemon *d, struct fe *f)
{
	struct vh_msg m;

	(void)d;
	vh_msg_init(&m, VH_USER_SET_FEATURES, 0, 0);
	send_with_fds(f, &m, 0);
}

static void c_too_many_fds(struct daemon *d, struct fe *f)
{
	struct vh_msg m;

	(void)d;
	vh_msg_init(&m, VH_USER_SET_VRING_CALL, 0, 8);
	send_with_fds(f, &m, 3);
}

static void c_way_too_many_fds(struct daemon *d, struct fe *f)
{
	struct vh_msg m;

	(void)d;
	vh_msg_init(&m, VH_USER_SET_VRING_KICK, 0, 8);
	send_with_fds(f, &m, 16);
}

static void c_fd_not_expected(struct daemon *d, struct fe *f)
{
	struct vh_msg m;

	(void)d;
	vh_msg_init(&m, VH_USER_SET_VRING_NUM, 0, sizeof(struct vhost_vring_state));
	m.payload.state.num = FE_NUM;
	send_with_fds(f, &m, 1);
}

static void c_too_few_fds(struct daemon *d, struct fe *f)
{
	struct vh_msg m;

	(void)d;
	vh_msg_init(&m, VH_USER_SET_MEM_TABLE, 0, VH_USER_MEM_TABLE_HDR_SIZE + 2 * 32);
	m.payload.mem.nregions = 2;
	m.payload.mem.regions[0] = (struct vh_user_mem_region){ 0, 0x1000, FE_UVA_BASE, 0 };
	m.payload.mem.regions[1] = (struct vh_user_mem_region){ 0x1000, 0x1000, 0x1000, 0 };
	send_with_fds(f, &m, 1);
}

static void c_huge_regions(struct daemon *d, struct fe *f)
{
	struct vh_msg m;

	(void)d;
	vh_msg_init(&m, VH_USER_SET_MEM_TABLE, 0, VH_USER_MEM_TABLE_HDR_SIZE + 32);
	m.payload.mem.nregions = 100000;
	send_with_fds(f, &m, 1);
}

static void c_huge_payload(struct daemon *d, struct fe *f)
{
	struct vh_user_hdr h;

	(void)d;
	vh_proto_hdr_init(&h, VH_USER_SET_MEM_TABLE, 0, 0xfffffff0u);
	send_raw(f, &h, sizeof(h), NULL, 0);
}

static void c_unknown_request(struct daemon *d, struct fe *f)
{
	struct vh_msg m;

	(void)d;
	vh_msg_init(&m, 9999, 0, 8);
	send_with_fds(f, &m, 0);
}

/* A request with REPLY_ACK that must be refused (ack != 0); the connection lives on. */
static void expect_nack(struct fe *f, struct vh_msg *m)
{
	int64_t r = fe_ack(f, m);

	assert_true(r > 0);
}

static void c_ring_num_zero(struct daemon *d, struct fe *f)
{
	(void)d;
	assert_true(fe_state(f, VH_USER_SET_VRING_NUM, 0, 0) > 0);
}

static void c_ring_num_huge(struct daemon *d, struct fe *f)
{
	(void)d;
	assert_true(fe_state(f, VH_USER_SET_VRING_NUM, 0, 65536) > 0);
	assert_true(fe_state(f, VH_USER_SET_VRING_NUM, 0, 100) > 0); /* not a power of 2 */
}

static void c_ring_index_past(struct daemon *d, struct fe *f)
{
	int ev = eventfd(0, EFD_CLOEXEC);

	(void)d;
	assert_true(fe_state(f, VH_USER_SET_VRING_NUM, 1000, FE_NUM) > 0);
	assert_true(fe_ring_fd(f, VH_USER_SET_VRING_KICK, 77, ev) > 0);
	assert_true(fe_state(f, VH_USER_SET_VRING_ENABLE, 0xffffffffu, 1) > 0);
	close(ev);
}

static void c_base_past(struct daemon *d, struct fe *f)
{
	(void)d;
	assert_true(fe_state(f, VH_USER_SET_VRING_BASE, 0, 0x20000) > 0);
}

static void mem_region(struct fe *f, uint64_t gpa, uint64_t size, uint64_t off)
{
	struct vh_msg m;

	vh_msg_init(&m, VH_USER_SET_MEM_TABLE, 0, VH_USER_MEM_TABLE_HDR_SIZE + 32);
	m.payload.mem.nregions = 1;
	m.payload.mem.regions[0] = (struct vh_user_mem_region){ gpa, size, FE_UVA_BASE, off };
	m.fds[0] = f->memfd;
	m.nfds = 1;
	expect_nack(f, &m);
}

static void c_region_overflow(struct daemon *d, struct fe *f)
{
	(void)d;
	fe_memory(f);
	mem_region(f, ~0ull - 0xfff, FE_MEM_SIZE, 0);
}

static void c_region_past_file(struct daemon *d, struct fe *f)
{
	(void)d;
	fe_memory(f);
	mem_region(f, 0, FE_MEM_SIZE, FE_MEM_SIZE);
}

static void c_region_offset_overflow(struct daemon *d, struct fe *f)
{
	(void)d;
	fe_memory(f);
	mem_region(f, 0, FE_MEM_SIZE, ~0ull - 0xfff);
}

static void c_region_zero(struct daemon *d, struct fe *f)
{
	(void)d;
	fe_memory(f);
	mem_region(f, 0, 0, 0);
}

static void c_log_too_small(struct daemon *d, struct fe *f)
{
	int fd = memfd_create("log", MFD_CLOEXEC);
	struct vh_msg m;

	(void)d;
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 4096), 0);
	vh_msg_init(&m, VH_USER_SET_LOG_BASE, 0, sizeof(struct vh_user_log));
	m.payload.log.mmap_size = 1 << 20;
	m.payload.log.mmap_offset = 0;
	m.fds[0] = fd;
	m.nfds = 1;
	assert_int_equal(vh_sock_send(f->sock, &m), 0);
	assert_int_equal(vh_sock_recv(f->sock, &m, FE_REMOTE_WAIT_MS), 0);
	assert_int_equal(m.hdr.request, VH_USER_SET_LOG_BASE);
	assert_true(m.payload.u64 != 0);
	close(fd);
}

static void inflight_set(struct fe *f, uint64_t size, uint64_t file, uint16_t nq, uint16_t qs)
{
	int fd = memfd_create("inflight", MFD_CLOEXEC);
	struct vh_msg m;

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)file), 0);
	vh_msg_init(&m, VH_USER_SET_INFLIGHT_FD, 0, sizeof(struct vh_user_inflight));
	m.payload.inflight = (struct vh_user_inflight){
		.mmap_size = size, .mmap_offset = 0, .num_queues = nq, .queue_size = qs
	};
	m.fds[0] = fd;
	m.nfds = 1;
	expect_nack(f, &m);
	close(fd);
}

static void c_inflight_too_small(struct daemon *d, struct fe *f)
{
	(void)d;
	inflight_set(f, 64, 4096, 1, FE_NUM);		 /* region smaller than the rings */
	inflight_set(f, 1 << 20, 4096, 1, FE_NUM);	 /* file smaller than the region */
	inflight_set(f, 1 << 20, 1 << 20, 1000, FE_NUM); /* more queues than the device */
	inflight_set(f, 1 << 20, 1 << 20, 1, 0);	 /* zero-sized rings */
}

static void c_config_past(struct daemon *d, struct fe *f)
{
	struct vh_msg m;

	(void)d;
	vh_msg_init(&m, VH_USER_GET_CONFIG, 0, VH_USER_CONFIG_HDR_SIZE + 16);
	m.payload.config.offset = 250;
	m.payload.config.size = 16;
	assert_int_equal(vh_sock_send(f->sock, &m), 0);
	assert_int_equal(vh_sock_recv(f->sock, &m, FE_REMOTE_WAIT_MS), 0);
	assert_int_equal(m.hdr.request, VH_USER_GET_CONFIG);
	assert_int_equal(m.hdr.size, 0); /* failure: no payload */
}

static void c_iotlb_bad(struct daemon *d, struct fe *f)
{
	struct vh_msg m;

	(void)d;
	vh_msg_init(&m, VH_USER_IOTLB_MSG, 0, sizeof(struct vhost_iotlb_msg));
	m.payload.iotlb.type = 77;
	expect_nack(f, &m);
}

static void c_stall_mid_message(struct daemon *d, struct fe *f)
{
	struct vh_msg m;

	(void)d;
	vh_msg_init(&m, VH_USER_SET_VRING_KICK, 0, 8);
	send_raw(f, &m, 7, NULL, 0); /* half a header, then nothing */
}

static void c_vanish_mid_message(struct daemon *d, struct fe *f)
{
	struct vh_msg m;
	int ev = eventfd(0, EFD_CLOEXEC);

	(void)d;
	vh_msg_init(&m, VH_USER_SET_VRING_KICK, 0, 8);
	send_raw(f, &m, sizeof(m.hdr) + 3, &ev, 1);
	close(ev);
	usleep(50000);
	close(f->sock);
	f->sock = -1;
}

static void c_never_reads(struct daemon *d, struct fe *f)
{
	enum {
		N = 4000
	};
	struct vh_user_hdr *h = calloc(N, sizeof(*h));

	(void)d;
	assert_non_null(h);
	for (unsigned i = 0; i < N; i++)
		vh_proto_hdr_init(&h[i], VH_USER_GET_FEATURES, 0, 0);
	/* More replies than its socket buffer holds; the daemon must drop us, not wait. */
	for (unsigned i = 0; i < N; i += 500)
		if (send(f->sock, &h[i], 500 * sizeof(*h), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			break;
	free(h);
}

/*
 * DEVICE_STATE LOAD of @len bytes, the channel closed (EOF) or left open (@close_end false),
 * then CHECK_DEVICE_STATE: returns its result. (vh-net has no state: refused, also non-zero.)
 */
static uint64_t state_load_raw(struct fe *f, const void *bytes, size_t len, bool close_end)
{
	struct vh_msg m, r;
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	vh_msg_init(&m, VH_USER_SET_DEVICE_STATE_FD, 0, sizeof(struct vh_user_device_state));
	m.payload.device_state.direction = VH_USER_TRANSFER_STATE_DIRECTION_LOAD;
	m.payload.device_state.phase = VH_USER_TRANSFER_STATE_PHASE_STOPPED;
	m.fds[0] = p[0];
	m.nfds = 1;
	assert_int_equal(vh_sock_send(f->sock, &m), 0);
	close(p[0]);
	assert_int_equal(vh_sock_recv(f->sock, &r, FE_REMOTE_WAIT_MS), 0);
	assert_int_equal(r.hdr.request, VH_USER_SET_DEVICE_STATE_FD);
	assert_int_equal(r.nfds, 0);
	if (!(r.payload.u64 & VH_USER_DEVICE_STATE_REPLY_ERR_MASK))
		assert_int_equal(write(p[1], bytes, len), (ssize_t)len);
	if (close_end)
		close(p[1]);
	vh_msg_init(&m, VH_USER_CHECK_DEVICE_STATE, 0, 0);
	assert_int_equal(vh_sock_send(f->sock, &m), 0);
	assert_int_equal(vh_sock_recv(f->sock, &r, FE_REMOTE_WAIT_MS), 0);
	assert_int_equal(r.hdr.request, VH_USER_CHECK_DEVICE_STATE);
	if (!close_end)
		close(p[1]);
	return r.payload.u64;
}

static void c_state_garbage(struct daemon *d, struct fe *f)
{
	uint8_t junk[1024];

	(void)d;
	for (unsigned i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 37 + 11);
	assert_true(state_load_raw(f, junk, sizeof(junk), true) != 0);
	assert_true(state_load_raw(f, "VHBS", 4, true) != 0); /* truncated */
}

static void c_state_channel_open(struct daemon *d, struct fe *f)
{
	(void)d;
	assert_true(state_load_raw(f, "VHBS", 4, false) != 0);
}

static void ring_case_expect_broken(struct fe *f)
{
	/* A broken ring completes nothing. */
	assert_false(fe_wait_call(f, 100));
}

static void c_avail_jump(struct daemon *d, struct fe *f)
{
	raw_chain(d, f, DATA_GPA, 512);
	raw_publish(f, 0, FE_NUM + 5);
	ring_case_expect_broken(f);
}

static void c_head_past(struct daemon *d, struct fe *f)
{
	raw_chain(d, f, DATA_GPA, 512);
	raw_publish(f, 1000, 1);
	ring_case_expect_broken(f);
}

static void c_next_past(struct daemon *d, struct fe *f)
{
	raw_chain(d, f, DATA_GPA, 512);
	desc(f)[1].next = FE_NUM + 3;
	raw_publish(f, 0, 1);
	ring_case_expect_broken(f);
}

static void c_desc_loop(struct daemon *d, struct fe *f)
{
	raw_chain(d, f, DATA_GPA, 512);
	desc(f)[1].next = 0; /* 0 -> 1 -> 0 ... */
	raw_publish(f, 0, 1);
	ring_case_expect_broken(f);
}

static void c_chain_past_ring(struct daemon *d, struct fe *f)
{
	struct vring_desc *t = desc(f);

	raw_chain(d, f, DATA_GPA, 512);
	/* Every descriptor, then around again: longer than the ring without a short cycle. */
	for (unsigned i = 1; i < FE_NUM; i++)
		t[i] = (struct vring_desc){ DATA_GPA, 512, VRING_DESC_F_NEXT, (i + 1) % FE_NUM };
	raw_publish(f, 0, 1);
	ring_case_expect_broken(f);
}

static void c_addr_outside(struct daemon *d, struct fe *f)
{
	raw_chain(d, f, 0x40000000ull, 512);
	raw_publish(f, 0, 1);
	ring_case_expect_broken(f);
}

static void c_addr_straddles(struct daemon *d, struct fe *f)
{
	raw_chain(d, f, FE_MEM_SIZE - 256, 512);
	memset(f->mem + FE_MEM_SIZE - 256, 0xee, 256);
	raw_publish(f, 0, 1);
	ring_case_expect_broken(f);
}

static void c_addr_wraps(struct daemon *d, struct fe *f)
{
	raw_chain(d, f, ~0ull - 255, 512);
	raw_publish(f, 0, 1);
	ring_case_expect_broken(f);
}

static void c_indirect_straddles(struct daemon *d, struct fe *f)
{
	struct vring_desc *t = desc(f);

	raw_chain(d, f, DATA_GPA, 512);
	t[0] = (struct vring_desc){ FE_MEM_SIZE - 32, 64, VRING_DESC_F_INDIRECT, 0 };
	raw_publish(f, 0, 1);
	ring_case_expect_broken(f);
}

/* @n valid requests (vh-blk reads; vh-net frames) added and kicked. */
static void valid_requests(struct daemon *d, struct fe *f, unsigned n)
{
	uint64_t one = 1;

	for (unsigned i = 0; i < n; i++) {
		struct vh_vq_buf bufs[3] = { { HDR_GPA, 16 },
					     { DATA_GPA, 4096 },
					     { STATUS_GPA, 1 } };
		struct vh_vq_driver_req req = { .bufs = bufs,
						.out_num = d->blk ? 1 : 3,
						.in_num = d->blk ? 2 : 0,
						.token = f };

		blk_hdr(f, VIRTIO_BLK_T_IN, i * 8);
		assert_int_equal(vh_vq_driver_add(f->drv, &req), 0);
	}
	vh_vq_driver_publish(f->drv);
	assert_int_equal(write(f->kick, &one, sizeof(one)), (ssize_t)sizeof(one));
}

/* Valid requests in flight while the table is replaced by one without the data's region. */
static void c_memtable_swap(struct daemon *d, struct fe *f)
{
	struct vh_msg m;

	valid_requests(d, f, 8);
	/* Only the first 256 KiB (the ring, headers) stays mapped: DATA_GPA falls out. */
	vh_msg_init(&m, VH_USER_SET_MEM_TABLE, 0, VH_USER_MEM_TABLE_HDR_SIZE + 32);
	m.payload.mem.nregions = 1;
	m.payload.mem.regions[0] = (struct vh_user_mem_region){ 0, 0x40000, FE_UVA_BASE, 0 };
	m.fds[0] = f->memfd;
	m.nfds = 1;
	assert_int_equal(fe_ack(f, &m), 0);
	/* The next request (descriptors the driver never used) points outside memory now. */
	raw_chain_at(d, f, 200, DATA_GPA, 512);
	raw_publish(f, 200, 9);
}

/* Requests queued, then the front-end is gone before they complete. */
static void c_vanish_mid_request(struct daemon *d, struct fe *f)
{
	valid_requests(d, f, 32);
	close(f->sock);
	f->sock = -1;
}

#define MALFORMED "malformed message"

static const struct hcase cases[] = {
	{ "wrong payload size", ST_NEGOTIATED, c_wrong_size, "SET_VRING_NUM: " MALFORMED,
	  H_CLOSES },
	{ "u64 request without payload", ST_NEGOTIATED, c_zero_size_u64, "SET_FEATURES: " MALFORMED,
	  H_CLOSES },
	{ "too many fds", ST_NEGOTIATED, c_too_many_fds, "SET_VRING_CALL: " MALFORMED, H_CLOSES },
	{ "16 fds", ST_NEGOTIATED, c_way_too_many_fds, "SET_VRING_KICK: receive failed", H_CLOSES },
	{ "fd where none is expected", ST_NEGOTIATED, c_fd_not_expected,
	  "SET_VRING_NUM: " MALFORMED, H_CLOSES },
	{ "too few fds", ST_NEGOTIATED, c_too_few_fds, "SET_MEM_TABLE: " MALFORMED, H_CLOSES },
	{ "huge region count", ST_NEGOTIATED, c_huge_regions, "SET_MEM_TABLE: " MALFORMED,
	  H_CLOSES },
	{ "huge payload size", ST_NEGOTIATED, c_huge_payload, "SET_MEM_TABLE: receive failed",
	  H_CLOSES },
	{ "unknown request", ST_NEGOTIATED, c_unknown_request, "request not supported", 0 },
	{ "never reads the back-end channel", ST_NEGOTIATED, c_backend_chan_never_read,
	  "BACKEND_IOTLB_MSG: back-end channel: the front-end does not read it (queue full)", 0 },
	{ "zero ring size", ST_NEGOTIATED, c_ring_num_zero, "SET_VRING_NUM: ring size out of range",
	  0 },
	{ "huge ring size", ST_NEGOTIATED, c_ring_num_huge, "SET_VRING_NUM: ring size out of range",
	  0 },
	{ "ring index past the queues", ST_NEGOTIATED, c_ring_index_past,
	  "SET_VRING_NUM: ring index out of range", 0 },
	{ "ring base past the index space", ST_NEGOTIATED, c_base_past,
	  "SET_VRING_BASE: ring base out of range", 0 },
	{ "region gpa overflows", ST_NEGOTIATED, c_region_overflow,
	  "SET_MEM_TABLE: bad memory region", 0 },
	{ "region past the file", ST_NEGOTIATED, c_region_past_file,
	  "SET_MEM_TABLE: bad memory region", 0 },
	{ "region offset overflows", ST_NEGOTIATED, c_region_offset_overflow,
	  "SET_MEM_TABLE: bad memory region", 0 },
	{ "zero-sized region", ST_NEGOTIATED, c_region_zero, "SET_MEM_TABLE: bad memory region",
	  0 },
	{ "log smaller than announced", ST_MEMORY, c_log_too_small,
	  "SET_LOG_BASE: cannot map the log", 0 },
	{ "inflight region too small", ST_NEGOTIATED, c_inflight_too_small,
	  "SET_INFLIGHT_FD: inflight region too small", 0 },
	{ "config range past the space", ST_NEGOTIATED, c_config_past,
	  "GET_CONFIG: config range beyond the config space", 0 },
	{ "unknown IOTLB message", ST_NEGOTIATED, c_iotlb_bad,
	  "IOTLB_MSG: unknown IOTLB message type", 0 },
	{ "stall mid-message", ST_NEGOTIATED, c_stall_mid_message,
	  "stalled in the middle of a message", H_CLOSES | H_SLOW },
	{ "vanish mid-message", ST_NEGOTIATED, c_vanish_mid_message, "disconnected", 0 },
	{ "never reads its replies", ST_NEGOTIATED, c_never_reads,
	  "front-end does not read its replies", H_CLOSES | H_SLOW },
	{ "avail idx past the ring", ST_RING, c_avail_jump,
	  "avail idx moved more than the ring size", 0 },
	{ "head index past the ring", ST_RING, c_head_past, "avail ring head index out of range",
	  0 },
	{ "next index past the ring", ST_RING, c_next_past, "descriptor index out of range", 0 },
	{ "descriptor loop", ST_RING, c_desc_loop, "longer than its table (loop)", 0 },
	{ "chain past the ring size", ST_RING, c_chain_past_ring, "longer than its table (loop)",
	  0 },
	{ "address outside guest memory", ST_RING, c_addr_outside,
	  "descriptor address outside guest memory", 0 },
	{ "buffer straddling the region end", ST_RING, c_addr_straddles,
	  "descriptor address outside guest memory", 0 },
	{ "buffer address wrapping", ST_RING, c_addr_wraps,
	  "descriptor address outside guest memory", 0 },
	{ "indirect table straddling the region end", ST_RING, c_indirect_straddles,
	  "indirect table outside guest memory", 0 },
	{ "memory table swapped under requests", ST_RING, c_memtable_swap,
	  "descriptor address outside guest memory", 0 },
	{ "vanish mid-request", ST_RING, c_vanish_mid_request, "disconnected", 0 },
	/* vh-blk refuses the bytes; vh-net has no DEVICE_STATE and refuses the request. */
	{ "device state garbage", ST_MEMORY, c_state_garbage, "DEVICE_STATE", 0 },
	{ "device state channel left open", ST_MEMORY, c_state_channel_open, "DEVICE_STATE", 0 },
};

static void run_case(struct daemon *d, const struct hcase *c)
{
	off_t off = log_size(d);
	struct fe f;
	int64_t ms;

	memset(&f, 0, sizeof(f));
	f.memfd = f.kick = f.call = -1;
	assert_int_equal(fe_connect_path(&f, d->sock), 0);
	fe_negotiate(&f, 1ull << VIRTIO_RING_F_INDIRECT_DESC);
	if (c->stage >= ST_MEMORY) {
		fe_memory(&f);
		assert_int_equal(fe_mem_table(&f), 0);
	}
	if (c->stage >= ST_RING)
		fe_ring_index(&f, d->q, 0, 0);
	c->run(d, &f);
	/* The line first: reading the socket would drain what a "never reads" case holds. */
	if (!log_wait(d, off, c->expect, (c->flags & H_SLOW) ? CLOSE_MS : 2000))
		fail_msg("%s: %s: no \"%s\" on stderr; it said:\n%s", d->kind, c->name, c->expect,
			 log_since(d, off));
	if ((c->flags & H_CLOSES) && f.sock >= 0 && !hung_up(f.sock, 2000))
		fail_msg("%s: %s: the daemon did not hang up", d->kind, c->name);
	fe_teardown(&f);
	if (!alive(d))
		fail_msg("%s: %s: the daemon died", d->kind, c->name);
	ms = probe(d);
	if (ms > PROBE_MS)
		fail_msg("%s: %s: GET_FEATURES took %lld ms", d->kind, c->name, (long long)ms);
	fds_settle(d, d->fds0);
	printf("  %-40s ok: %s\n", c->name, line_of(log_since(d, off), c->expect));
}

/* vh-blk: a pattern over the whole image through valid requests (the model). */
static void blk_fill(struct daemon *d, bool verify)
{
	struct fe f;

	memset(&f, 0, sizeof(f));
	f.memfd = f.kick = f.call = -1;
	assert_int_equal(fe_connect_path(&f, d->sock), 0);
	fe_negotiate(&f, 0);
	fe_memory(&f);
	assert_int_equal(fe_mem_table(&f), 0);
	fe_ring_index(&f, 0, 0, 0);
	if (verify) {
		blk_verify_model(&f, d->model);
	} else {
		d->model = malloc(IMG_SIZE);
		assert_non_null(d->model);
		for (uint32_t i = 0; i < IMG_SIZE; i++)
			d->model[i] = (uint8_t)(i * 13 + (i >> 9));
		blk_write_model(&f, d->model, 0, IMG_SIZE);
	}
	fe_teardown(&f);
	fds_settle(d, d->fds0);
}

static void hostile(const char *kind, bool blk, unsigned q)
{
	struct daemon d = { .kind = kind, .blk = blk, .q = q };
	long rss0, rss1;

	spawn(&d);
	/* Warm up: one probe, and for vh-blk the image pattern; then the fd baseline. */
	probe(&d);
	usleep(50000);
	d.fds0 = proc_fds(d.pid);
	if (blk)
		blk_fill(&d, false);
	printf("%s: pid %d, %d fds\n", kind, (int)d.pid, d.fds0);
	/* Round 1 settles allocator caches; round 2 must not grow the RSS. */
	for (size_t i = 0; i < (sizeof(cases) / sizeof(cases[0])); i++)
		run_case(&d, &cases[i]);
	rss0 = proc_rss_kb(d.pid);
	for (size_t i = 0; i < (sizeof(cases) / sizeof(cases[0])); i++)
		if (!(cases[i].flags & H_SLOW))
			run_case(&d, &cases[i]);
	rss1 = proc_rss_kb(d.pid);
	printf("%s: fds %d -> %d, rss %ld kB -> %ld kB\n", kind, d.fds0, proc_fds(d.pid), rss0,
	       rss1);
	assert_true(!RSS_CHECKED || rss1 - rss0 < RSS_BOUND_KB);
	if (blk)
		blk_fill(&d, true);
	stop(&d);
}

/* One front-end's life: connect, negotiate, memory, start a ring, one request, hang up. */
static void churn_cycle(struct daemon *d)
{
	struct fe f;

	memset(&f, 0, sizeof(f));
	f.memfd = f.kick = f.call = -1;
	assert_int_equal(fe_connect_path(&f, d->sock), 0);
	fe_negotiate(&f, 0);
	fe_memory(&f);
	assert_int_equal(fe_mem_table(&f), 0);
	fe_ring_index(&f, d->q, 0, 0);
	if (d->blk)
		assert_int_equal(blk_rw(&f, VIRTIO_BLK_T_IN, 0, 4096), VIRTIO_BLK_S_OK);
	else
		valid_requests(d, &f, 1);
	fe_teardown(&f);
}

/* HOSTILE_CHURN cycles (default 1000): the daemon's fd count and RSS must not grow. */
static void churn(const char *kind, bool blk, unsigned q)
{
	struct daemon d = { .kind = kind, .blk = blk, .q = q };
	const char *env = getenv("HOSTILE_CHURN");
	unsigned n = env ? (unsigned)strtoul(env, NULL, 10) : 1000;
	int fds1;
	long rss0, rss1;
	int64_t t0;

	spawn(&d);
	for (unsigned i = 0; i < 20; i++)
		churn_cycle(&d);
	probe(&d);
	usleep(50000);
	d.fds0 = proc_fds(d.pid);
	rss0 = proc_rss_kb(d.pid);
	t0 = now_ms();
	for (unsigned i = 0; i < n; i++)
		churn_cycle(&d);
	fds_settle(&d, d.fds0);
	fds1 = proc_fds(d.pid);
	rss1 = proc_rss_kb(d.pid);
	printf("churn %s: %u cycles in %lld ms: fds %d -> %d, rss %ld kB -> %ld kB\n", kind, n,
	       (long long)(now_ms() - t0), d.fds0, fds1, rss0, rss1);
	assert_true(!RSS_CHECKED || rss1 - rss0 < RSS_BOUND_KB);
	stop(&d);
}

static void test_vhblk_churn(void **state)
{
	(void)state;
	churn("vh-blk", true, 0);
}

static void test_vhnet_churn(void **state)
{
	(void)state;
	churn("vh-net", false, 1);
}

static void test_vhblk(void **state)
{
	(void)state;
	hostile("vh-blk", true, 0);
}

static void test_vhnet(void **state)
{
	(void)state;
	hostile("vh-net", false, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vhblk),
		cmocka_unit_test(test_vhnet),
		cmocka_unit_test(test_vhblk_churn),
		cmocka_unit_test(test_vhnet_churn),
	};

	setvbuf(stdout, NULL, _IONBF, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
