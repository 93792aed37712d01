/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libvhost program/: the vhost-user "Backend program conventions" (QEMU
 * docs/interop/vhost-user.rst) for a back-end daemon, so a device author writes only the device.
 *
 * The helper owns what every back-end program repeats:
 *   - the command line: --socket-path PATH | --fd FD, --print-capabilities,
 *     --require-sealed-memory, --verbose, --help,
 *     plus the device's own options from a table (the --help text is generated from it);
 *   - socket activation: with neither --socket-path nor --fd, a listening socket passed by
 *     systemd (LISTEN_FDS / LISTEN_PID, fd 3) is used;
 *   - log lines on stderr ("<level>: <program>: <message>"), a vh_log_sink for the library;
 *   - SIGTERM / SIGINT: blocked in every thread and read from a signalfd by the dispatch loop,
 *     so the daemon leaves vh_server_run() cleanly (exit status 0, socket removed);
 *   - the ready notification once the socket listens: a log line, and "READY=1" written
 *     directly to $NOTIFY_SOCKET (the sd_notify protocol; libsystemd is not needed).
 *
 * A daemon:
 *
 *	err = vh_program_create(&pcfg, argc, argv, &prog);   // parses, blocks signals
 *	if (err)
 *		return vh_program_exit_status(err);           // 0 after --help, 2 bad usage
 *	... open the backing, start threads (they inherit the blocked signals) ...
 *	vh_program_server_config(prog, &scfg);              // name, socket, log
 *	scfg.ops = &my_ops; ...
 *	err = vh_program_server_create(prog, &scfg, &srv);  // listens, watches the signals
 *	if (!err)
 *		err = vh_program_run(prog, srv);             // READY=1, loop until SIGTERM
 *	vh_server_destroy(&srv);
 *	vh_program_destroy(&prog);
 *	return err ? 1 : 0;
 *
 * Objects: struct vh_program - the parsed command line, the log sink, the signalfd.
 * Threads: create and destroy on the main thread before / after the device's threads; the
 * rest on the dispatch thread, except vh_program_log() (any thread).
 */
#ifndef VHOST_PROGRAM_H
#define VHOST_PROGRAM_H

#include <stdarg.h>
#include <stdbool.h>

#include <vhost/backend.h>
#include <vhost/common.h>

struct vh_program;

/**
 * struct vh_program_option - one device option (a GNU long option, "--name" or "--name ARG").
 * A table of them ends with an entry whose @name is NULL.
 */
struct vh_program_option {
	const char *name; /* without the leading "--" */
	const char *arg;  /* argument name shown in --help ("PATH"); NULL: the option is a flag */
	const char *help; /* --help text; '\n' starts a continuation line */
	int id;		  /* handed to parse_option */
};

/** struct vh_program_config - what the program is (not copied: must outlive the program). */
struct vh_program_config {
	const char *name; /* "vh-blk": log prefix, error messages */
	const char
	    *synopsis; /* device part of the usage line, e.g. "--blk-file BACKING [options]" */
	const char *description; /* paragraph below the usage line (may be NULL) */
	/* --print-capabilities: {"type": type, "features": [features...]} (vhost-user.rst) */
	const char *type;
	const char *const *features;		 /* NULL-terminated; NULL: none */
	const struct vh_program_option *options; /* device options; NULL: none */
	/*
	 * parse_option - one device option @id with its argument (NULL for a flag). Return 0, or
	 * -EINVAL after one line on stderr (vh_program_parse_uint() and vh_program_option_error()
	 * print "<name>: --<option>: <what is wrong>").
	 */
	int (*parse_option)(void *opaque, struct vh_program *p, int id, const char *arg);
	/* check_options - after the whole command line was read (may be NULL). 0 or -EINVAL. */
	int (*check_options)(void *opaque, struct vh_program *p);
	void *opaque;
};

/**
 * vh_program_create() - parse the command line, set up logging and signals.
 * @cfg: the program description (not copied).
 * @argc: argument count, as main() got it.
 * @argv: arguments, as main() got them (not copied: the strings must live as long as @out).
 * @out: receives the program on success.
 *
 * --help prints the usage and --print-capabilities the capabilities JSON on stdout. Exactly one
 * listener is required: --socket-path, --fd, or a socket-activation fd (LISTEN_PID equal to our
 * pid and LISTEN_FDS >= 1; fd 3 is used, the variables are removed from the environment).
 * SIGTERM and SIGINT are blocked in the calling thread (threads started later inherit that) and
 * SIGPIPE is ignored.
 *
 * Return: 0 run the daemon; 1 done (--help / --print-capabilities printed, *@out is NULL);
 * -EINVAL bad usage (one line on stderr); -errno from signalfd(); -ENOMEM.
 * Thread: the main thread, before any other thread is started.
 */
VH_API int vh_program_create(const struct vh_program_config *cfg, int argc, char **argv,
			     struct vh_program **out);

/**
 * vh_program_exit_status() - the exit status for a vh_program_create() result that is not 0.
 * @err: what vh_program_create() returned.
 * Return: 0 for 1 (help printed), 2 for -EINVAL (usage error), 1 otherwise. Thread: any.
 */
VH_API int vh_program_exit_status(int err);

/**
 * vh_program_destroy() - close the signalfd, free; sets *@p to NULL.
 * @p: the program (NULL or *p NULL: no-op).
 * Thread: the main thread, after the server is destroyed.
 */
VH_API void vh_program_destroy(struct vh_program **p);

/**
 * vh_program_verbose() - whether --verbose was given.
 * @p: the program.
 * Return: true with --verbose. Errors: none. Thread: any.
 */
VH_API bool vh_program_verbose(const struct vh_program *p);

/**
 * vh_program_listen_desc() - the listener for log lines: the socket path or "fd N".
 * @p: the program.
 * Return: a string owned by @p. Errors: none. Thread: any.
 */
VH_API const char *vh_program_listen_desc(const struct vh_program *p);

/**
 * vh_program_log_sink() - the program's stderr sink (VH_LOG_INFO, VH_LOG_DEBUG with --verbose),
 * for the library objects the device creates.
 * @p: the program.
 * Return: the sink. Errors: none. Thread: any.
 */
VH_API struct vh_log_sink vh_program_log_sink(const struct vh_program *p);

/**
 * vh_program_log() - log "<name>: <message>" through the program's sink.
 * @p: the program.
 * @level: VH_LOG_ERR..VH_LOG_DEBUG; lines above the sink's level are dropped.
 * @fmt: printf format, no trailing newline.
 * Thread: any.
 */
VH_API void vh_program_log(const struct vh_program *p, enum vh_log_level level, const char *fmt,
			   ...) __attribute__((format(printf, 3, 4)));

/**
 * vh_program_vlog() - vh_program_log() with a va_list (for a device's own log wrapper).
 * @p: the program.
 * @level: VH_LOG_ERR..VH_LOG_DEBUG.
 * @fmt: printf format, no trailing newline.
 * @ap: the arguments.
 * Thread: any.
 */
VH_API void vh_program_vlog(const struct vh_program *p, enum vh_log_level level, const char *fmt,
			    va_list ap) __attribute__((format(printf, 3, 0)));

/**
 * vh_program_parse_uint() - inside parse_option: the option's argument as an unsigned number
 * (0x and 0 prefixes allowed).
 * @p: the program.
 * @arg: the argument.
 * @min: smallest accepted value.
 * @max: largest accepted value.
 * @out: receives the value.
 * Return: 0; -EINVAL not a number in @min..@max (one line on stderr naming the option).
 * Thread: the main thread, inside parse_option.
 */
VH_API int vh_program_parse_uint(const struct vh_program *p, const char *arg, unsigned min,
				 unsigned max, unsigned *out);

/**
 * vh_program_parse_pow2() - vh_program_parse_uint() for a power of two (e.g. a queue size).
 * @p: the program.
 * @arg: the argument.
 * @min: smallest accepted value.
 * @max: largest accepted value.
 * @out: receives the value.
 * Return: 0; -EINVAL not a power of two in @min..@max (one line on stderr naming the option).
 * Thread: the main thread, inside parse_option.
 */
VH_API int vh_program_parse_pow2(const struct vh_program *p, const char *arg, unsigned min,
				 unsigned max, unsigned *out);

/**
 * vh_program_option_error() - inside parse_option or check_options: print
 * "<name>: --<option being parsed>: <message>" (check_options: "<name>: <message>") on stderr.
 * @p: the program.
 * @fmt: printf format, no trailing newline.
 * Return: -EINVAL, to return from the callback. Thread: the main thread, inside the callbacks.
 */
VH_API int vh_program_option_error(const struct vh_program *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/**
 * vh_program_server_config() - vh_server_config_init() plus the program's part: name, the
 * listener (socket_path or listen_fd), the log sink, inband_notifications
 * (--inband-notifications) and require_sealed_memory (--require-sealed-memory), both common
 * options. The device fills in the rest.
 * @p: the program.
 * @cfg: the config to fill.
 * Thread: any.
 */
VH_API void vh_program_server_config(const struct vh_program *p, struct vh_server_config *cfg);

/**
 * vh_program_server_create() - vh_server_create(), then have its loop watch the signalfd: SIGTERM
 * and SIGINT log one line and vh_server_stop() the server.
 * @p: the program.
 * @cfg: the server config (from vh_program_server_config()).
 * @out: receives the server; the caller destroys it with vh_server_destroy().
 * Return: 0; -errno from vh_server_create() or vh_server_watch() (logged, *@out is NULL).
 * Thread: the dispatch thread.
 */
VH_API int vh_program_server_create(struct vh_program *p, const struct vh_server_config *cfg,
				    struct vh_server **out);

/**
 * vh_program_notify() - send a state line with the sd_notify protocol: one datagram to the unix
 * socket named by $NOTIFY_SOCKET (a path, or "@name" for the abstract namespace).
 * @state: e.g. "READY=1" or "STOPPING=1".
 * Return: 1 sent; 0 $NOTIFY_SOCKET not set; -EINVAL bad address; -errno from socket()/sendto().
 * Thread: any.
 */
VH_API int vh_program_notify(const char *state);

/**
 * vh_program_run() - announce readiness (a log line "ready: listening on ..." and READY=1 on
 * $NOTIFY_SOCKET), run vh_server_run() until a signal or vh_server_stop(), then STOPPING=1.
 * @p: the program.
 * @srv: the server from vh_program_server_create().
 * Return: 0 after a stop; -errno from vh_server_run() (logged). Thread: the dispatch thread.
 */
VH_API int vh_program_run(struct vh_program *p, struct vh_server *srv);

#endif
