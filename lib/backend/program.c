/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The vhost-user "Backend program conventions" (QEMU docs/interop/vhost-user.rst) for daemons:
 * command line, socket activation, stderr log, signals, ready notification. See program.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <pthread.h>

#include <vhost/program.h>

/* sd_listen_fds(3): the first passed fd. */
#define LISTEN_FDS_START 3
/* The column where --help text starts. */
#define HELP_COLUMN 28

enum common_opt {
	COMMON_SOCKET_PATH,
	COMMON_FD,
	COMMON_PRINT_CAPS,
	COMMON_VERBOSE,
	COMMON_SEALED,
	COMMON_HELP,
	COMMON_INBAND,
	COMMON_NUM,
};

static const struct vh_program_option common_opts[COMMON_NUM] = {
	[COMMON_SOCKET_PATH] = { "socket-path", "PATH",
				 "listen on this unix socket (removed at exit)",
				 COMMON_SOCKET_PATH },
	[COMMON_FD] = { "fd", "FD", "serve on an inherited listening socket", COMMON_FD },
	[COMMON_PRINT_CAPS] = { "print-capabilities", NULL, "print the capabilities JSON and exit",
				COMMON_PRINT_CAPS },
	[COMMON_VERBOSE] = { "verbose", NULL, "debug log lines", COMMON_VERBOSE },
	[COMMON_SEALED] = { "require-sealed-memory", NULL,
			    "refuse guest memory not sealed against shrinking (F_SEAL_SHRINK)",
			    COMMON_SEALED },
	[COMMON_HELP] = { "help", NULL, "this text", COMMON_HELP },
	[COMMON_INBAND] = { "inband-notifications", NULL,
			    "offer INBAND_NOTIFICATIONS (kicks and calls as\nmessages; off: "
			    "QEMU acks it without handling it)",
			    COMMON_INBAND },
};

struct vh_program {
	const struct vh_program_config *cfg;
	const char *socket_path;
	int listen_fd;
	bool verbose;
	bool inband;	     /* --inband-notifications */
	bool sealed;	     /* --require-sealed-memory */
	const char *cur_opt; /* the option parse_option is handling (for messages) */
	char listen_desc[32];
	struct vh_log_sink sink;
	int sfd; /* signalfd for SIGTERM / SIGINT */
	struct vh_server *srv;
};

static const char *const level_names[] = { "error", "warning", "info", "debug" };

static void log_stderr(void *opaque, enum vh_log_level level, const char *msg)
{
	const struct vh_program *p = opaque;

	if (level > p->sink.max_level || (unsigned)level >= 4)
		return;
	fprintf(stderr, "%s: %s\n", level_names[level], msg);
}

void vh_program_vlog(const struct vh_program *p, enum vh_log_level level, const char *fmt,
		     va_list ap)
{
	char buf[512];
	int n;

	if (level > p->sink.max_level)
		return;
	n = snprintf(buf, sizeof(buf), "%s: ", p->cfg->name);
	if (n < 0 || (size_t)n >= sizeof(buf))
		n = 0;
	vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	p->sink.fn(p->sink.opaque, level, buf);
}

void vh_program_log(const struct vh_program *p, enum vh_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vh_program_vlog(p, level, fmt, ap);
	va_end(ap);
}

struct vh_log_sink vh_program_log_sink(const struct vh_program *p)
{
	return p->sink;
}

bool vh_program_verbose(const struct vh_program *p)
{
	return p->verbose;
}

const char *vh_program_listen_desc(const struct vh_program *p)
{
	return p->socket_path ? p->socket_path : p->listen_desc;
}

int vh_program_option_error(const struct vh_program *p, const char *fmt, ...)
{
	va_list ap;

	if (p->cur_opt)
		fprintf(stderr, "%s: --%s: ", p->cfg->name, p->cur_opt);
	else
		fprintf(stderr, "%s: ", p->cfg->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -EINVAL;
}

int vh_program_parse_uint(const struct vh_program *p, const char *arg, unsigned min, unsigned max,
			  unsigned *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(arg, &end, 0);
	if (errno || *end || !*arg || *arg == '-' || v < min || v > max)
		return vh_program_option_error(p, "'%s' is not a number in %u..%u", arg, min, max);
	*out = (unsigned)v;
	return 0;
}

int vh_program_parse_pow2(const struct vh_program *p, const char *arg, unsigned min, unsigned max,
			  unsigned *out)
{
	unsigned v;

	if (vh_program_parse_uint(p, arg, min, max, &v))
		return -EINVAL;
	if (v & (v - 1))
		return vh_program_option_error(p, "%u is not a power of two", v);
	*out = v;
	return 0;
}

int vh_program_exit_status(int err)
{
	if (err == 1 || err == 0)
		return 0;
	return err == -EINVAL ? 2 : 1;
}

/* ---- --help and --print-capabilities ------------------------------------------------------ */

static void print_option(const struct vh_program_option *o)
{
	const char *h = o->help ? o->help : "";
	int n;

	n = printf("  --%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
	/* A long option name gets its help on the next line. */
	if (n >= HELP_COLUMN) {
		putchar('\n');
		n = 0;
	}
	for (;;) {
		const char *nl = strchr(h, '\n');
		int len = nl ? (int)(nl - h) : (int)strlen(h);

		printf("%*s%.*s\n", HELP_COLUMN - n, "", len, h);
		if (!nl)
			break;
		h = nl + 1;
		n = 0;
	}
}

static void print_usage(const struct vh_program_config *cfg, const char *argv0)
{
	const struct vh_program_option *o;

	printf("Usage: %s (--socket-path PATH | --fd FD) %s\n\n", argv0,
	       cfg->synopsis ? cfg->synopsis : "[options]");
	if (cfg->description)
		printf("%s\n\n", cfg->description);
	print_option(&common_opts[COMMON_SOCKET_PATH]);
	print_option(&common_opts[COMMON_FD]);
	for (o = cfg->options; o && o->name; o++)
		print_option(o);
	print_option(&common_opts[COMMON_INBAND]);
	print_option(&common_opts[COMMON_SEALED]);
	print_option(&common_opts[COMMON_PRINT_CAPS]);
	print_option(&common_opts[COMMON_VERBOSE]);
	print_option(&common_opts[COMMON_HELP]);
	printf("\nWithout --socket-path and --fd, a socket passed by systemd socket activation\n"
	       "(LISTEN_FDS, fd 3) is used. READY=1 goes to $NOTIFY_SOCKET once listening.\n"
	       "SIGTERM / SIGINT: clean exit (status 0), the socket is removed.\n");
}

static void print_capabilities(const struct vh_program_config *cfg)
{
	const char *const *f;

	/* vhost-user.rst "Backend program conventions": the JSON a management layer reads. */
	printf("{\n  \"type\": \"%s\",\n  \"features\": [\n", cfg->type ? cfg->type : "");
	for (f = cfg->features; f && *f; f++)
		printf("    \"%s\"%s\n", *f, f[1] ? "," : "");
	printf("  ]\n}\n");
}

/* ---- command line ------------------------------------------------------------------------- */

static unsigned count_options(const struct vh_program_config *cfg)
{
	unsigned n = 0;

	while (cfg->options && cfg->options[n].name)
		n++;
	return n;
}

/* getopt table: the common options, then the device's; val is 256 + the index. */
static struct option *build_getopt_table(const struct vh_program_config *cfg, unsigned ndev)
{
	struct option *t = calloc(COMMON_NUM + ndev + 1, sizeof(*t));
	unsigned i;

	if (!t)
		return NULL;
	for (i = 0; i < COMMON_NUM + ndev; i++) {
		const struct vh_program_option *o =
		    i < COMMON_NUM ? &common_opts[i] : &cfg->options[i - COMMON_NUM];

		t[i].name = o->name;
		t[i].has_arg = o->arg ? required_argument : no_argument;
		t[i].val = 256 + (int)i;
	}
	return t;
}

/* Return: 0 go on, 1 done (printed), -EINVAL. */
static int handle_common(struct vh_program *p, int id, const char *arg, const char *argv0)
{
	unsigned v;

	switch (id) {
	case COMMON_SOCKET_PATH:
		p->socket_path = arg;
		return 0;
	case COMMON_FD:
		if (vh_program_parse_uint(p, arg, 0, INT_MAX, &v))
			return -EINVAL;
		p->listen_fd = (int)v;
		return 0;
	case COMMON_PRINT_CAPS:
		print_capabilities(p->cfg);
		return 1;
	case COMMON_VERBOSE:
		p->verbose = true;
		return 0;
	case COMMON_INBAND:
		p->inband = true;
		return 0;
	case COMMON_SEALED:
		p->sealed = true;
		return 0;
	default:
		print_usage(p->cfg, argv0);
		return 1;
	}
}

static int parse_args(struct vh_program *p, int argc, char **argv)
{
	const struct vh_program_config *cfg = p->cfg;
	unsigned ndev = count_options(cfg);
	struct option *t = build_getopt_table(cfg, ndev);
	int c, err = 0;

	if (!t)
		return -ENOMEM;
	optind = 0; /* GNU: full re-initialisation, so a second parse in one process works */
	while (!err && (c = getopt_long(argc, argv, "", t, NULL)) != -1) {
		unsigned i = (unsigned)(c - 256);

		if (c < 256 || i >= COMMON_NUM + ndev) {
			err = -EINVAL; /* getopt printed why */
			break;
		}
		p->cur_opt = t[i].name;
		if (i < COMMON_NUM)
			err = handle_common(p, (int)i, optarg, argv[0]);
		else if (cfg->parse_option)
			err = cfg->parse_option(cfg->opaque, p, cfg->options[i - COMMON_NUM].id,
						optarg)
				  ? -EINVAL
				  : 0;
		p->cur_opt = NULL;
	}
	if (!err && optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", cfg->name,
			argv[optind]);
		err = -EINVAL;
	}
	free(t);
	return err;
}

/*
 * sd_listen_fds(3) semantics without libsystemd: LISTEN_PID must be ours (the variables may be
 * inherited by a child otherwise), the fds start at 3. The variables are consumed.
 */
static int listen_fds_activation(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	int fd = -1;

	if (pid && fds && strtol(pid, NULL, 10) == (long)getpid() && strtol(fds, NULL, 10) >= 1)
		fd = LISTEN_FDS_START;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (fd >= 0 && fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return -errno;
	return fd;
}

static int pick_listener(struct vh_program *p)
{
	int fd;

	if (p->socket_path && p->listen_fd >= 0)
		return vh_program_option_error(p, "only one of --socket-path and --fd");
	fd = listen_fds_activation();
	if (!p->socket_path && p->listen_fd < 0) {
		if (fd < 0)
			return vh_program_option_error(
			    p, "exactly one of --socket-path and --fd is required "
			       "(or socket activation: LISTEN_FDS)");
		p->listen_fd = fd;
	}
	if (p->listen_fd >= 0)
		snprintf(p->listen_desc, sizeof(p->listen_desc), "fd %d", p->listen_fd);
	return 0;
}

static int signals_setup(void)
{
	sigset_t mask;
	int fd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	return fd < 0 ? -errno : fd;
}

int vh_program_create(const struct vh_program_config *cfg, int argc, char **argv,
		      struct vh_program **out)
{
	struct vh_program *p;
	int err;

	*out = NULL;
	if (!cfg || !cfg->name || argc < 1)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->cfg = cfg;
	p->listen_fd = -1;
	p->sfd = -1;
	err = parse_args(p, argc, argv);
	if (!err && cfg->check_options)
		err = cfg->check_options(cfg->opaque, p) ? -EINVAL : 0;
	if (!err)
		err = pick_listener(p);
	if (err) {
		free(p);
		return err;
	}
	p->sink.fn = log_stderr;
	p->sink.opaque = p;
	p->sink.max_level = p->verbose ? VH_LOG_DEBUG : VH_LOG_INFO;
	p->sfd = signals_setup();
	if (p->sfd < 0) {
		err = p->sfd;
		vh_program_log(p, VH_LOG_ERR, "signalfd: %s", strerror(-err));
		free(p);
		return err;
	}
	*out = p;
	return 0;
}

void vh_program_destroy(struct vh_program **pp)
{
	struct vh_program *p = pp ? *pp : NULL;

	if (!p)
		return;
	if (p->sfd >= 0)
		close(p->sfd);
	free(p);
	*pp = NULL;
}

/* ---- server, signals, readiness ----------------------------------------------------------- */

void vh_program_server_config(const struct vh_program *p, struct vh_server_config *cfg)
{
	vh_server_config_init(cfg);
	cfg->name = p->cfg->name;
	cfg->socket_path = p->socket_path;
	cfg->listen_fd = p->listen_fd;
	cfg->require_sealed_memory = p->sealed;
	cfg->log = p->sink;
	cfg->inband_notifications = p->inband;
}

static void on_signal(void *opaque, int fd, uint32_t events)
{
	struct vh_program *p = opaque;
	struct signalfd_siginfo si;

	(void)events;
	if (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		vh_program_log(p, VH_LOG_INFO, "signal %u: exiting", si.ssi_signo);
	vh_server_stop(p->srv);
}

int vh_program_server_create(struct vh_program *p, const struct vh_server_config *cfg,
			     struct vh_server **out)
{
	int err;

	*out = NULL;
	err = vh_server_create(cfg, &p->srv);
	if (err) {
		vh_program_log(p, VH_LOG_ERR, "cannot serve on %s: %s", vh_program_listen_desc(p),
			       strerror(-err));
		return err;
	}
	/* The server owns the listening fd now (also on failure below). */
	p->listen_fd = -1;
	err = vh_server_watch(p->srv, p->sfd, EPOLLIN, on_signal, p);
	if (err) {
		vh_program_log(p, VH_LOG_ERR, "watch signalfd: %s", strerror(-err));
		vh_server_destroy(&p->srv);
		return err;
	}
	*out = p->srv;
	return 0;
}

int vh_program_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len;
	ssize_t n;
	int fd, err = 0;

	if (!path || !*path)
		return 0;
	if ((path[0] != '/' && path[0] != '@') || strlen(path) >= sizeof(sa.sun_path))
		return -EINVAL;
	memcpy(sa.sun_path, path, strlen(path));
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	if (path[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract namespace */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, len);
	if (n < 0)
		err = -errno;
	else if ((size_t)n != strlen(state))
		err = -EMSGSIZE;
	close(fd);
	return err ? err : 1;
}

int vh_program_run(struct vh_program *p, struct vh_server *srv)
{
	int err;

	err = vh_program_notify("READY=1");
	if (err < 0)
		vh_program_log(p, VH_LOG_WARN, "NOTIFY_SOCKET: READY=1: %s", strerror(-err));
	else if (err > 0)
		vh_program_log(p, VH_LOG_DEBUG, "READY=1 sent to $NOTIFY_SOCKET");
	err = vh_server_run(srv);
	if (err)
		vh_program_log(p, VH_LOG_ERR, "server loop: %s", strerror(-err));
	vh_program_notify("STOPPING=1");
	return err;
}
